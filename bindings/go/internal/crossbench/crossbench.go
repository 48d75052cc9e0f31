// Package crossbench measures the cost of one C->Go callback as the weft
// binding makes it (a cgo.Handle lookup, a panic guard, a Go call), from a C
// loop on the calling thread and on a pool thread of a weft loop. It is
// test-only: only package weft's benchmarks import it (cgo cannot be used
// in _test.go files), and the binding itself never does.
package crossbench

/*
#cgo pkg-config: weft
#include <stdint.h>
int crossbench_run(uintptr_t h, int64_t n);
int64_t crossbench_pool(uintptr_t loop, uintptr_t h, int64_t n);
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
)

// Fn is a Go function that C calls back.
type Fn struct{ h cgo.Handle }

// New registers fn; Free deletes it.
func New(fn func() int) Fn { return Fn{cgo.NewHandle(fn)} }

// Free deletes the handle; no crossing may be pending.
func (f Fn) Free() { f.h.Delete() }

// OnThisThread makes n crossings from a C loop on the calling goroutine's
// thread, locked as during weft's Run: the loop thread's crossing. Returns
// the last result.
func (f Fn) OnThisThread(n int64) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return int(C.crossbench_run(C.uintptr_t(f.h), C.int64_t(n)))
}

// OnPool queues n crossings as callback-style work (no done) on the pool
// of loop, a weft_loop_t * as uintptr; the caller runs the loop until the
// work is delivered. Returns the work id (> 0) or a weft code.
func (f Fn) OnPool(loop uintptr, n int64) int64 {
	return int64(C.crossbench_pool(C.uintptr_t(loop), C.uintptr_t(f.h), C.int64_t(n)))
}

//export crossbenchCall
func crossbenchCall(h C.uintptr_t) (r C.int) {
	fn := cgo.Handle(h).Value().(func() int)
	defer func() {
		if recover() != nil {
			r = -1
		}
	}()
	return C.int(fn())
}
