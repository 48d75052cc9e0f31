package weft

import (
	"runtime/cgo"
	"strings"
	"time"

	"example.invalid/weft/internal/cweft"
)

// Timer is a weft timer: a Go function the loop calls once after a timeout,
// then, if it repeats, every period until stopped.
type Timer struct {
	handle
	fn func(*Timer)
}

// NewTimer starts a timer that calls fn on the loop thread once timeout has
// passed (measured from now; never early), then every repeat until Stop if
// repeat > 0. A repeating timer that falls behind skips the missed periods.
// Errors: ErrInval (nil fn, negative timeout or repeat), ErrNoMem,
// ErrCanceled (see Loop.Close).
func (l *Loop) NewTimer(timeout, repeat time.Duration, fn func(*Timer)) (*Timer, error) {
	t := &Timer{fn: fn}
	return register(l, "timer_start", fn != nil, t, &t.handle, func(c, h uintptr) int64 {
		return cweft.Weft_go_timer_start(c, int64(timeout), int64(repeat), h)
	})
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
	defer t.loop.recoverIn("timer")
	t.fn(t)
}

// Stop stops the timer; its function will not be called again (a timer may
// stop itself from its function). Errors: ErrStale (already stopped, or a
// one-shot timer that has fired).
func (t *Timer) Stop() error { return t.do("timer_stop", cweft.Weft_timer_stop) }

// Active reports whether the timer can still fire.
func (t *Timer) Active() bool { return !t.over }

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
	for i, name := range [...]string{"readable", "writable", "hangup", "error"} {
		if e&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Watch is an fd watch: a Go function the loop calls in every iteration in
// which its fd is ready (level-triggered).
type Watch struct {
	handle
	fd int
	fn func(*Watch, Events)
}

// WatchFD watches fd (a socket, pipe, eventfd, tty: anything epoll accepts)
// for events (Readable and/or Writable) and calls fn on the loop thread with
// the ready requested events, plus Hangup and ErrorEvent when reported,
// in every iteration while the fd stays ready, until Stop. The caller keeps
// owning fd and must stop every watch on it before closing it. Several
// watches and task awaits may share an fd. Errors: ErrInval (nil fn, bad
// events, the loop's own fd), ErrBadF, ErrNoMem, ErrNoSpc, ErrCanceled (see
// Loop.Close).
func (l *Loop) WatchFD(fd int, events Events, fn func(w *Watch, ev Events)) (*Watch, error) {
	w := &Watch{fd: fd, fn: fn}
	return register(l, "fd_watch_start", fn != nil, w, &w.handle, func(c, h uintptr) int64 {
		return cweft.Weft_go_fd_watch_start(c, fd, int(events), h)
	})
}

func hookFD(h uintptr, _ int64, events int32) {
	w := cgo.Handle(h).Value().(*Watch)
	defer w.loop.recoverIn("fd watch")
	w.fn(w, Events(events))
}

// Modify changes the events the watch asks for (same rules as WatchFD); on
// error the watch keeps its old events. Errors: ErrInval, ErrStale
// (stopped), ErrBadF (the fd was closed), ErrNoMem.
func (w *Watch) Modify(events Events) error {
	return w.do("fd_watch_modify", func(c uintptr, id int64) int {
		return cweft.Weft_fd_watch_modify(c, id, int(events))
	})
}

// Stop stops the watch (also from its own function); its function will not
// be called again. Errors: ErrStale (already stopped).
func (w *Watch) Stop() error { return w.do("fd_watch_stop", cweft.Weft_fd_watch_stop) }

// FD returns the watched fd.
func (w *Watch) FD() int { return w.fd }

// Active reports whether the watch is still started.
func (w *Watch) Active() bool { return !w.over }

// Work is blocking work handed to the loop's thread pool by Loop.ToThread.
type Work struct {
	handle
	fn   func() int
	done func(int)
}

// ToThread runs fn on the loop's thread pool (see the package doc, Threads),
// then done(result) on the loop thread, where result is fn's return value,
// or ErrCanceled if the work was cancelled before it started (or the loop
// closed first). done may be nil. A panic in fn is recovered: done gets
// ErrHost and Run returns the *PanicError. Errors: ErrInval (nil fn),
// ErrNoMem, ErrAgain (no pool thread could be created), ErrCanceled (see
// Loop.Close).
func (l *Loop) ToThread(fn func() int, done func(result int)) (*Work, error) {
	w := &Work{fn: fn, done: done}
	return register(l, "to_thread", fn != nil, w, &w.handle, cweft.Weft_go_to_thread)
}

// hookWork runs pool work: Loop.ToThread, Task.ToThread.
func hookWork(h uintptr) (r int32) {
	w := cgo.Handle(h).Value().(*Work)
	defer func() {
		if v := recover(); v != nil {
			w.loop.recordPanic(recovered("work", v)) // the loop thread stops the run
			r = int32(ErrHost)
		}
	}()
	return int32(w.fn())
}

func hookDone(h uintptr, _ int64, result int32) {
	w := cgo.Handle(h).Value().(*Work)
	defer w.loop.recoverIn("done")
	w.loop.checkPanic()
	if w.done != nil {
		w.done(int(result))
	}
}

// Cancel cancels the work if no pool thread has taken it yet: it will never
// run, and done gets ErrCanceled in a later iteration. Errors: ErrBusy (the
// work already started; it completes normally), ErrStale (done has run).
func (w *Work) Cancel() error { return w.do("work_cancel", cweft.Weft_work_cancel) }

// Finished reports whether done has run.
func (w *Work) Finished() bool { return w.over }
