package weft

import (
	"runtime"

	"example.invalid/weft/internal/cweft"
)

// crossLoopThread makes n C->Go crossings from a C loop on the calling
// goroutine's thread, locked as during Run: the loop thread's crossing.
func crossLoopThread(n int64, fn func() int) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := newHandle(fn)
	defer deleteHandle(h)
	return cweft.Weft_go_bench_cross(uintptr(h), n)
}
