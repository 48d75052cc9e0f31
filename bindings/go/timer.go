package weft

import (
	"runtime/cgo"
	"strings"
	"time"

	"example.invalid/weft/internal/cweft"
)

// Timer is a weft timer: a Go function the loop calls once after a timeout,
// then, if it repeats, every period until stopped. Loop thread.
type Timer struct {
	node
	loop   *Loop
	id     int64
	fn     func(*Timer)
	repeat bool
}

// NewTimer starts a timer that calls fn on the loop thread once timeout has
// passed (measured from now; never early), then every repeat until Stop if
// repeat > 0. A repeating timer that falls behind skips the missed periods.
// Loop thread. Errors: ErrInval (nil fn, negative timeout or repeat),
// ErrNoMem, ErrPerm, ErrCanceled (from a callback that Close runs),
// ErrClosed.
func (l *Loop) NewTimer(timeout, repeat time.Duration, fn func(*Timer)) (*Timer, error) {
	if fn == nil {
		return nil, opErr("timer_start", ErrInval)
	}
	if l.c == 0 {
		return nil, ErrClosed
	}
	t := &Timer{loop: l, fn: fn, repeat: repeat > 0}
	t.owner = t
	h := newHandle(t)
	id := cweft.Weft_go_timer_start(l.c, int64(timeout), int64(repeat), uintptr(h))
	if id < 0 {
		deleteHandle(h)
		return nil, opErr("timer_start", id)
	}
	t.id, t.h = id, h
	l.live.push(&t.node)
	return t, nil
}

// AfterFunc starts a one-shot timer that calls fn on the loop thread after
// d, like time.AfterFunc. Errors as for NewTimer.
func (l *Loop) AfterFunc(d time.Duration, fn func()) (*Timer, error) {
	if fn == nil {
		return nil, opErr("timer_start", ErrInval)
	}
	return l.NewTimer(d, 0, func(*Timer) { fn() })
}

func hookTimer(h uintptr, _ int64) {
	t := cgo.Handle(h).Value().(*Timer)
	defer t.afterFire()
	t.fn(t)
}

func (t *Timer) afterFire() {
	if v := recover(); v != nil {
		t.loop.recordPanic(recovered("timer", v))
		t.loop.checkPanic()
	}
	if !t.repeat { // a one-shot timer ends when its callback returns
		t.loop.live.end(&t.node)
	}
}

func (t *Timer) endAtClose() {}

// Stop stops the timer; its function will not be called again (a timer may
// stop itself from its function). Loop thread. Errors: ErrStale (already
// stopped, or a one-shot timer that has fired), ErrPerm, ErrClosed.
func (t *Timer) Stop() error {
	l := t.loop
	if l.c == 0 {
		return ErrClosed
	}
	if rc := cweft.Weft_timer_stop(l.c, t.id); rc < 0 {
		return opErr("timer_stop", rc)
	}
	l.live.end(&t.node)
	return nil
}

// Active reports whether the timer can still fire. Loop thread.
func (t *Timer) Active() bool { return t.h != 0 }

// Events is a set of fd readiness bits.
type Events int

// Readiness bits, as in weft.h. Hangup and ErrorEvent are only reported.
const (
	Readable   Events = Events(cweft.WEFT_READABLE)
	Writable   Events = Events(cweft.WEFT_WRITABLE)
	Hangup     Events = Events(cweft.WEFT_HANGUP)
	ErrorEvent Events = Events(cweft.WEFT_ERROR)
)

// String lists the bits, for example "readable|hangup".
func (e Events) String() string {
	var parts []string
	for _, b := range []struct {
		bit  Events
		name string
	}{{Readable, "readable"}, {Writable, "writable"}, {Hangup, "hangup"}, {ErrorEvent, "error"}} {
		if e&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Watch is an fd watch: a Go function the loop calls in every iteration in
// which its fd is ready (level-triggered). Loop thread.
type Watch struct {
	node
	loop *Loop
	id   int64
	fd   int
	fn   func(*Watch, Events)
}

// WatchFD watches fd (a socket, pipe, eventfd, tty: anything epoll accepts)
// for events (Readable and/or Writable) and calls fn on the loop thread with
// the ready requested events, plus Hangup and ErrorEvent when reported,
// in every iteration while the fd stays ready, until Stop. The caller keeps
// owning fd and must stop every watch on it before closing it. Several
// watches and task awaits may share an fd. Loop thread.
// Errors: ErrInval (nil fn, bad events, the loop's own fd), ErrBadF,
// ErrNoMem, ErrNoSpc, ErrPerm, ErrCanceled (from a callback that Close
// runs), ErrClosed.
func (l *Loop) WatchFD(fd int, events Events, fn func(w *Watch, ev Events)) (*Watch, error) {
	if fn == nil {
		return nil, opErr("fd_watch_start", ErrInval)
	}
	if l.c == 0 {
		return nil, ErrClosed
	}
	w := &Watch{loop: l, fd: fd, fn: fn}
	w.owner = w
	h := newHandle(w)
	id := cweft.Weft_go_fd_watch_start(l.c, fd, int(events), uintptr(h))
	if id < 0 {
		deleteHandle(h)
		return nil, opErr("fd_watch_start", id)
	}
	w.id, w.h = id, h
	l.live.push(&w.node)
	return w, nil
}

func hookFD(h uintptr, _ int64, events int32) {
	w := cgo.Handle(h).Value().(*Watch)
	defer w.loop.recoverIn("fd watch")
	w.fn(w, Events(events))
}

func (w *Watch) endAtClose() {}

// Modify changes the events the watch asks for (same rules as WatchFD); on
// error the watch keeps its old events. Loop thread. Errors: ErrInval,
// ErrStale (stopped), ErrBadF (the fd was closed), ErrNoMem, ErrPerm,
// ErrClosed.
func (w *Watch) Modify(events Events) error {
	l := w.loop
	if l.c == 0 {
		return ErrClosed
	}
	if rc := cweft.Weft_fd_watch_modify(l.c, w.id, int(events)); rc < 0 {
		return opErr("fd_watch_modify", rc)
	}
	return nil
}

// Stop stops the watch (also from its own function); its function will not
// be called again. Loop thread. Errors: ErrStale (already stopped),
// ErrPerm, ErrClosed.
func (w *Watch) Stop() error {
	l := w.loop
	if l.c == 0 {
		return ErrClosed
	}
	if rc := cweft.Weft_fd_watch_stop(l.c, w.id); rc < 0 {
		return opErr("fd_watch_stop", rc)
	}
	l.live.end(&w.node)
	return nil
}

// FD returns the watched fd.
func (w *Watch) FD() int { return w.fd }

// Active reports whether the watch is still started. Loop thread.
func (w *Watch) Active() bool { return w.h != 0 }

// Work is blocking work handed to the loop's thread pool by Loop.ToThread.
type Work struct {
	node
	loop     *Loop
	id       int64
	fn       func() int
	done     func(int)
	finished bool
}

// ToThread runs fn on the loop's thread pool (a C thread calling into Go),
// then done(result) on the loop thread, where result is fn's return value,
// or ErrCanceled if the work was cancelled before it started (or the loop
// closed first). done may be nil. fn must not call loop-thread methods;
// Post and Stop are allowed. A panic in fn is recovered: done gets
// ErrHost and Run returns the *PanicError. Loop thread.
// Errors: ErrInval (nil fn), ErrNoMem, ErrAgain (no pool thread could be
// created), ErrCanceled (from a callback that Close runs), ErrPerm,
// ErrClosed.
func (l *Loop) ToThread(fn func() int, done func(result int)) (*Work, error) {
	if fn == nil {
		return nil, opErr("to_thread", ErrInval)
	}
	if l.c == 0 {
		return nil, ErrClosed
	}
	w := &Work{loop: l, fn: fn, done: done}
	w.owner = w
	h := newHandle(w)
	id := cweft.Weft_go_to_thread(l.c, uintptr(h))
	if id < 0 {
		deleteHandle(h)
		return nil, opErr("to_thread", id)
	}
	w.id, w.h = id, h
	l.live.push(&w.node)
	return w, nil
}

// hookWork runs pool work: Loop.ToThread, Task.ToThread.
func hookWork(h uintptr) (r int32) {
	var fn func() int
	var l *Loop
	switch w := cgo.Handle(h).Value().(type) {
	case *Work:
		fn, l = w.fn, w.loop
	case *taskWork:
		fn, l = w.fn, w.loop
	}
	defer func() {
		if v := recover(); v != nil {
			l.recordPanic(recovered("work", v)) // the loop thread stops the run
			r = int32(ErrHost)
		}
	}()
	return int32(fn())
}

func hookDone(h uintptr, _ int64, result int32) {
	w := cgo.Handle(h).Value().(*Work)
	l := w.loop
	l.live.end(&w.node)
	w.finished, w.fn = true, nil
	defer l.recoverIn("done")
	l.checkPanic()
	if w.done != nil {
		w.done(int(result))
	}
}

func (w *Work) endAtClose() { w.finished = true }

// Cancel cancels the work if no pool thread has taken it yet: it will never
// run, and done gets ErrCanceled in a later iteration. Loop thread.
// Errors: ErrBusy (the work already started; it completes normally),
// ErrStale (done has run), ErrPerm, ErrClosed.
func (w *Work) Cancel() error {
	l := w.loop
	if l.c == 0 {
		return ErrClosed
	}
	if rc := cweft.Weft_work_cancel(l.c, w.id); rc < 0 {
		return opErr("work_cancel", rc)
	}
	return nil
}

// Finished reports whether done has run. Loop thread.
func (w *Work) Finished() bool { return w.finished }
