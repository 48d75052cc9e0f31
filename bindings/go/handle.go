package weft

import (
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"

	"example.invalid/weft/internal/cweft"
)

// liveHandles counts the cgo.Handles this package holds.
var liveHandles atomic.Int64

// LiveHandles returns how many runtime/cgo.Handles the package holds right
// now, over all loops: one per pending post, task, active timer, watch,
// work, logger and running context watcher. After every Loop is closed it
// is 0; a test can assert that to find leaks. Any goroutine.
func LiveHandles() int64 { return liveHandles.Load() }

func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// ender is a loop-thread handle (task, timer, watch, work) that the loop
// must end itself if weft frees it without a last callback.
type ender interface{ endAtClose() }

// node links a loop-thread handle into its loop's live list and holds its
// cgo.Handle (0 once ended).
type node struct {
	prev, next *node
	owner      ender
	h          cgo.Handle
}

// liveList is the set of a loop's handles whose cgo.Handle is still held.
// Loop thread only.
type liveList struct {
	head node // sentinel
	n    int
}

func (l *liveList) push(n *node) {
	if l.head.next == nil {
		l.head.next, l.head.prev = &l.head, &l.head
	}
	n.prev, n.next = l.head.prev, &l.head
	l.head.prev.next = n
	l.head.prev = n
	l.n++
}

func (l *liveList) remove(n *node) {
	if n.next == nil {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	l.n--
}

// end removes n from the list and deletes its handle; false if it had
// already ended.
func (l *liveList) end(n *node) bool {
	if n.h == 0 {
		return false
	}
	l.remove(n)
	deleteHandle(n.h)
	n.h = 0
	return true
}

// drain ends every handle left, after weft_loop_free.
func (l *liveList) drain() {
	for l.head.next != nil && l.head.next != &l.head {
		n := l.head.next
		l.end(n)
		n.owner.endAtClose()
	}
}

func init() {
	cweft.Hooks.Post = hookPost
	cweft.Hooks.Timer = hookTimer
	cweft.Hooks.FD = hookFD
	cweft.Hooks.Work = hookWork
	cweft.Hooks.Done = hookDone
	cweft.Hooks.Step = hookStep
	cweft.Hooks.Log = hookLog
	cweft.Hooks.Call = hookCall
}

// recovered turns a recovered panic value into a PanicError.
func recovered(where string, v any) *PanicError {
	return &PanicError{Where: where, Value: v, Stack: debug.Stack()}
}

// hookCall serves the crossing benchmarks: the handle holds a func() int.
func hookCall(h uintptr) (r int32) {
	fn := cgo.Handle(h).Value().(func() int)
	defer func() {
		if v := recover(); v != nil {
			r = int32(ErrCanceled)
		}
	}()
	return int32(fn())
}
