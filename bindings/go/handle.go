package weft

import (
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"

	"example.invalid/weft/internal/cweft"
)

// liveHandles counts the cgo.Handles this package holds.
var liveHandles atomic.Int64

// LiveHandles returns how many runtime/cgo.Handles the package holds right
// now, over all loops: one per pending post, task id not yet released,
// active timer, watch, pool work and logger. weft hands each back when it
// is done with it, so after every Loop is closed (or collected) it is 0; a
// test can assert that to find leaks. Any goroutine.
func LiveHandles() int64 { return liveHandles.Load() }

func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// ender is a handle's Go side that wants to know when weft let go of it.
type ender interface{ ended() }

// hookRelease is weft's release hook (weft_loop_set_release): weft is done
// with the user_data h, exactly once. It is the only place where a handle
// given to weft is deleted. Loop thread, or the goroutine freeing the loop.
func hookRelease(h uintptr) {
	hd := cgo.Handle(h)
	if e, ok := hd.Value().(ender); ok {
		e.ended()
	}
	deleteHandle(hd)
}

// handle is what a Timer, Watch, Work or synchronisation primitive keeps:
// its loop, its weft id, and whether weft has let go of it (the release
// hook says so, for the kinds weft holds a Go value of).
type handle struct {
	loop *loopCore
	id   int64
	over bool
}

func (h *handle) ended() { h.over = true }

func (h *handle) weftID() int64 { return h.id }

// do runs the loop-thread C function c on the handle's id, as call does.
func (h *handle) do(op string, c func(loop uintptr, id int64) int) error {
	return h.loop.call(op, func(l uintptr) int { return c(l, h.id) })
}

// get runs c on h's id as h.do does; c stores a value in *out.
func get[V any](h *handle, op string, c func(loop uintptr, id int64, out *V) int) (V, error) {
	var v V
	err := h.do(op, func(l uintptr, id int64) int { return c(l, id, &v) })
	return v, err
}

// register is every constructor's registration (ErrInval unless fnOK, the
// callback is not nil): it gives v a cgo.Handle and calls c, which passes
// it to weft and returns the new id (> 0) or a weft code; hd, v's handle,
// gets the loop and the id. On failure weft took nothing, and the handle is
// deleted here.
func register[T any](l *Loop, op string, fnOK bool, v T, hd *handle,
	c func(loop, h uintptr) int64) (T, error) {
	defer runtime.KeepAlive(l) // not closed by the collector meanwhile
	var none T
	if !fnOK {
		return none, opErr(op, ErrInval)
	}
	if l.c == 0 {
		return none, ErrClosed
	}
	hd.loop = l.loopCore
	h := newHandle(v)
	if hd.id = c(l.c, uintptr(h)); hd.id < 0 {
		deleteHandle(h)
		return none, opErr(op, hd.id)
	}
	return v, nil
}

// call runs a loop-thread C function of a handle, holding the loop open
// (a collected Loop is closed by another goroutine): ErrClosed once Close
// has begun, an *OpError for a negative code.
func (l *loopCore) call(op string, c func(loop uintptr) int) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closing {
		return ErrClosed
	}
	if rc := c(l.c); rc < 0 {
		return opErr(op, rc)
	}
	return nil
}

func init() {
	cweft.Hooks.Post = hookPost
	cweft.Hooks.Timer = hookTimer
	cweft.Hooks.FD = hookFD
	cweft.Hooks.Work = hookWork
	cweft.Hooks.Done = hookDone
	cweft.Hooks.Step = hookStep
	cweft.Hooks.Log = hookLog
	cweft.Hooks.Release = hookRelease
	cweft.Hooks.Drop = hookDrop
}

// recovered turns a recovered panic value into a PanicError.
func recovered(where string, v any) *PanicError {
	return &PanicError{Where: where, Value: v, Stack: debug.Stack()}
}
