package weft

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"

	"example.invalid/weft/internal/cweft"
)

// Loop is a weft event loop. Create one with NewLoop, give it work (Spawn,
// NewTimer, WatchFD, ToThread, Post), drive it with Run, and Close it. A
// Loop that becomes unreachable without Close is closed by the garbage
// collector, with its tasks, timers and watches: nothing the binding
// registers keeps a Loop reachable (a callback that captures the Loop
// itself does, as long as weft holds that callback). That close runs on the
// runtime's cleanup goroutine and, like Close, waits for running pool work;
// its panics are dropped. A Loop must not be copied.
type Loop struct {
	*loopCore
}

// loopCore is the state that callbacks reach. It never points back at its
// Loop (only weakly), so that an unreferenced Loop can be collected.
type loopCore struct {
	c    uintptr // weft_loop_t *; 0 once closed
	self weak.Pointer[Loop]

	// mu orders the any-goroutine methods (Post, Stop, Stats, Now) and the
	// methods of handles against Close: they hold it shared, Close
	// exclusively while it marks the loop closing.
	mu      sync.RWMutex
	closing bool
	running bool

	// Loop-thread state.
	runGen     uint64 // which Run is current, for context stops
	runDefault bool   // the current run is Run (not RunOnce/RunNoWait)
	ctxStopped bool   // the current Run was stopped by its context
	logH       cgo.Handle
	scratch    []int64 // ids for Gather/Group

	// The first panic recovered on any thread, until Run returns it.
	panicErr atomic.Pointer[PanicError]
}

// NewLoop creates a loop. It opens an epoll fd and an eventfd; the thread
// pool starts on first use of ToThread. Errors: ErrNoMem, ErrMFile.
// Any goroutine; the loop belongs to no thread until it runs.
func NewLoop() (*Loop, error) {
	var c uintptr
	if rc := cweft.Weft_loop_new(&c); rc < 0 {
		return nil, opErr("loop_new", rc)
	}
	cweft.Weft_go_loop_set_release(c)
	l := &Loop{&loopCore{c: c}}
	l.self = weak.Make(l)
	runtime.AddCleanup(l, func(c *loopCore) { c.close() }, l.loopCore)
	return l, nil
}

// Close frees the loop. In weft's order: every unfinished task is resumed
// with ErrCanceled until it finishes (its awaits then fail at once with
// ErrCanceled, so `return t.Sleep(...)` ends it); queued pool work is
// cancelled and running work waited for, each done callback running;
// timers and watches are stopped without being called; posts still pending
// are run. weft hands back every cgo.Handle it held as it lets go of it.
// Callbacks run by Close run on the calling goroutine; the methods of the
// loop and its handles return ErrClosed from the moment Close begins, but
// for NewTimer, AfterFunc, WatchFD and ToThread, which return ErrCanceled
// from those callbacks, and Spawn, whose task's first step gets ErrCanceled.
//
// Close returns ErrBusy if the loop is running (also when called from one of
// its callbacks), ErrClosed if it was already closed, and a *PanicError if a
// callback run by Close panicked.
func (l *Loop) Close() error {
	err := l.close()
	runtime.KeepAlive(l)
	return err
}

func (l *loopCore) close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.running {
		l.mu.Unlock()
		return opErr("loop_free", ErrBusy)
	}
	l.closing = true
	l.mu.Unlock()

	// Only EBUSY (running) can fail, and l.running excludes it.
	cweft.Weft_loop_free(l.c)
	l.c = 0
	if l.logH != 0 {
		deleteHandle(l.logH)
		l.logH = 0
	}
	l.scratch = nil
	if p := l.panicErr.Swap(nil); p != nil {
		return p
	}
	return nil
}

// Run runs the loop on the calling goroutine, locked to its OS thread,
// until nothing is alive (no unfinished task, active timer, watch, pool
// work or pending post), Stop is called, ctx is done, or a callback panics.
//
// It returns nil when the loop ran out of work or was stopped by Stop;
// ctx.Err() when ctx ended the run (at the end of the iteration in
// progress; a nil ctx is context.Background()); a *PanicError for the
// first panic recovered in a callback; and ErrBusy if the loop is already
// running, including when Run is called from one of its own callbacks. Work
// left when Run returns stays queued for the next Run or for Close.
func (l *Loop) Run(ctx context.Context) error {
	_, err := l.run(ctx, cweft.WEFT_RUN_DEFAULT)
	return err
}

// RunOnce runs one iteration of the loop on the calling goroutine, locked
// to its OS thread, blocking in the poll (up to the next timer) if nothing
// is ready. alive reports whether anything is still alive afterwards.
// Errors as for Run (without the context).
func (l *Loop) RunOnce() (alive bool, err error) { return l.run(nil, cweft.WEFT_RUN_ONCE) }

// RunNoWait runs one iteration of the loop whose poll never blocks.
// alive reports whether anything is still alive afterwards. Errors as for
// Run (without the context).
func (l *Loop) RunNoWait() (alive bool, err error) { return l.run(nil, cweft.WEFT_RUN_NOWAIT) }

func (l *Loop) run(ctx context.Context, mode int) (bool, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.mu.Lock()
	if l.closing || l.running {
		l.mu.Unlock()
		if l.closing {
			return false, ErrClosed
		}
		return false, opErr("loop_run", ErrBusy)
	}
	l.running, l.runDefault, l.ctxStopped = true, mode == cweft.WEFT_RUN_DEFAULT, false
	l.runGen++
	lc, gen := l.loopCore, l.runGen
	l.mu.Unlock()
	// A done ctx posts a stop tagged with this run: a stale one, delivered
	// by a later run or by Close, does nothing (a plain weft_loop_stop would
	// stop the next run).
	unwatch := context.AfterFunc(ctx, func() {
		if lc.later(func() { lc.ctxStop(gen) }) != nil {
			l.Stop() // ENOMEM: fall back to a plain stop
		}
	})
	rc := cweft.Weft_loop_run(l.c, mode)
	unwatch()
	l.mu.Lock()
	l.running, l.runDefault = false, false
	l.mu.Unlock()
	if p := l.panicErr.Swap(nil); p != nil {
		return rc == 1, p
	}
	if rc < 0 {
		return false, opErr("loop_run", rc)
	}
	if l.ctxStopped {
		return true, ctx.Err()
	}
	return rc == 1, nil
}

// ctxStop is the post a done context sends to stop run gen.
func (l *loopCore) ctxStop(gen uint64) {
	if l.running && l.runDefault && l.runGen == gen {
		l.ctxStopped = true
		cweft.Weft_loop_stop(l.c)
	}
}

// Stop asks the current Run to return after the iteration in progress; if
// the loop is not running, the next Run (or RunOnce) returns after one
// iteration. Any goroutine.
func (l *Loop) Stop() error { return l.call("loop_stop", cweft.Weft_loop_stop) }

// post is one Post: a Go function run once on the loop thread.
type post struct {
	loop *loopCore
	fn   func()
}

// Post queues fn to run once on the loop thread, in a later iteration
// (never inside Post). Posts run in the order the loop receives them; every
// post is run exactly once, by a Run or by Close. Any goroutine.
// Errors: ErrInval (nil fn), ErrNoMem, ErrClosed (Close has begun; this
// includes posting from a callback that Close runs).
func (l *Loop) Post(fn func()) error {
	if fn == nil {
		return opErr("loop_post", ErrInval)
	}
	return l.later(fn)
}

// later posts fn to run once on the loop thread: Post, and the binding's
// own posts (a done context's stop, the cleanups of collected objects).
func (l *loopCore) later(fn func()) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closing { // checked first: a closed loop's LiveHandles never moves
		return ErrClosed
	}
	h := newHandle(&post{loop: l, fn: fn})
	if rc := cweft.Weft_go_loop_post(l.c, uintptr(h)); rc < 0 {
		deleteHandle(h) // weft took nothing
		return opErr("loop_post", rc)
	}
	return nil
}

func hookPost(h uintptr) {
	p := cgo.Handle(h).Value().(*post)
	defer p.loop.recoverIn("post")
	p.fn()
}

// recoverIn is deferred by every hook running on the loop thread.
func (l *loopCore) recoverIn(where string) {
	if v := recover(); v != nil {
		l.recordPanic(recovered(where, v))
		l.checkPanic()
	}
}

// recordPanic keeps the first panic. Pool threads only record; the loop
// thread stops the loop when the work's result arrives (checkPanic).
func (l *loopCore) recordPanic(p *PanicError) { l.panicErr.CompareAndSwap(nil, p) }

// checkPanic stops the current Run if a panic was recorded. Loop thread.
func (l *loopCore) checkPanic() {
	if l.panicErr.Load() != nil && l.runDefault {
		cweft.Weft_loop_stop(l.c)
	}
}

// Now returns weft's monotonic clock (CLOCK_MONOTONIC, from an arbitrary
// origin) as cached at the start of the current or last iteration; before
// the first run, the time of NewLoop. Any goroutine; 0 after Close.
func (l *Loop) Now() (now time.Duration) {
	l.call("loop_now", func(c uintptr) int { now = time.Duration(cweft.Weft_loop_now(c)); return 0 })
	return now
}

// Stats is a snapshot of a loop's counters. Gauges are the value now;
// totals count since NewLoop. Its fields are weft_loop_stats_t's, in order.
type Stats struct {
	Iterations      int64         // total loop iterations run
	TasksAlive      int64         // gauge: tasks not yet finished
	TasksReady      int64         // gauge: tasks queued to run a step
	TimersActive    int64         // gauge: timers started and not stopped or fired
	FDWatchesActive int64         // gauge: fd watches started and not stopped
	WorkQueued      int64         // gauge: pool work waiting for a thread
	WorkRunning     int64         // gauge: pool work executing now
	WorkTime        time.Duration // total time pool threads spent in work
	SlowCallbacks   int64         // total callbacks and steps slower than SetSlowCallbackThreshold
	Posts           int64         // total posts run
}

// Stats returns the loop's counters. Any goroutine; read while the loop
// runs, each field is exact but the fields are not one consistent snapshot.
func (l *Loop) Stats() (Stats, error) {
	var s struct {
		size uint64
		Stats
	}
	s.size = uint64(unsafe.Sizeof(s)) // == sizeof(weft_loop_stats_t), checked in weft_go.i
	err := l.call("loop_stats", func(c uintptr) int {
		return cweft.Weft_loop_stats(c, (*cweft.LoopStats)(unsafe.Pointer(&s)))
	})
	return s.Stats, err
}

// SetThreadPoolSize sets how many threads the loop's pool starts with
// (1..1024, default 4). Only before the pool has started (first
// ToThread) and while the loop is not running. Errors: ErrInval, ErrBusy.
func (l *Loop) SetThreadPoolSize(n int) error {
	return l.setOption(cweft.WEFT_OPT_THREAD_POOL_SIZE, int64(n))
}

// SetSlowCallbackThreshold makes the loop count (Stats.SlowCallbacks) and
// log at LogWarn every callback or task step that runs longer than d, like
// asyncio's debug mode; 0 turns it off (the default). Only while the loop
// is not running. Errors: ErrInval (d < 0), ErrBusy.
func (l *Loop) SetSlowCallbackThreshold(d time.Duration) error {
	return l.setOption(cweft.WEFT_OPT_SLOW_CALLBACK_NS, int64(d))
}

func (l *Loop) setOption(opt int, v int64) error {
	return l.call("loop_set_option", func(c uintptr) int { return cweft.Weft_loop_set_option(c, opt, v) })
}

// LogLevel is the severity of a log line.
type LogLevel int

// Log levels, as in weft.h.
const (
	LogDebug LogLevel = LogLevel(cweft.WEFT_LOG_DEBUG)
	LogInfo  LogLevel = LogLevel(cweft.WEFT_LOG_INFO)
	LogWarn  LogLevel = LogLevel(cweft.WEFT_LOG_WARN)
	LogError LogLevel = LogLevel(cweft.WEFT_LOG_ERROR)
)

// String returns "debug", "info", "warn" or "error".
func (v LogLevel) String() string {
	if v >= LogDebug && v <= LogError {
		return [...]string{"debug", "info", "warn", "error"}[v]
	}
	return "level?"
}

type logger struct {
	loop *loopCore
	fn   func(LogLevel, string)
}

// SetLogger sets the function that receives the loop's log lines (slow
// callbacks at LogWarn, misbehaving steps at LogError), or with nil removes
// it. fn runs on the loop thread. With no logger weft prints nothing.
func (l *Loop) SetLogger(fn func(level LogLevel, msg string)) error {
	defer runtime.KeepAlive(l) // not closed by the collector meanwhile
	var h cgo.Handle
	if fn != nil {
		h = newHandle(&logger{loop: l.loopCore, fn: fn})
	}
	err := l.call("loop_set_logger", func(c uintptr) int {
		return cweft.Weft_go_loop_set_logger(c, uintptr(h))
	})
	if err == nil {
		h, l.logH = l.logH, h // the old logger's handle goes
	}
	if h != 0 {
		deleteHandle(h)
	}
	return err
}

func hookLog(h uintptr, level int32, msg string) {
	lg := cgo.Handle(h).Value().(*logger)
	defer lg.loop.recoverIn("logger")
	lg.fn(LogLevel(level), msg)
}

// BackendFD returns the loop's backend fd (the epoll fd, or the io_uring
// ring's fd), for embedding weft in another event loop: when it is
// readable, or after NextTimeout, call RunNoWait. The fd stays the loop's.
func (l *Loop) BackendFD() (fd int, err error) {
	fd = -1
	err = l.call("loop_backend_fd", func(c uintptr) int { fd = cweft.Weft_loop_backend_fd(c); return fd })
	return max(fd, -1), err
}

// NextTimeout returns how long an embedder may block before the loop next
// has work: 0 if tasks or posts are ready or a timer is due, the time to the
// earliest timer otherwise, and -1 if nothing is scheduled in time.
func (l *Loop) NextTimeout() (time.Duration, error) {
	d := time.Duration(-1)
	err := l.call("loop_next_timeout", func(c uintptr) int {
		if ns := cweft.Weft_loop_next_timeout(c); ns >= 0 {
			d = time.Duration(ns)
			return 0
		}
		// -1, "nothing scheduled", is also WEFT_EPERM, its only error on an
		// open loop: ask a loop-thread call that changes nothing (stopping
		// timer 0, which never exists). weft_loop_backend_fd would tell too,
		// but on io_uring it makes the loop keep a poll in the ring for good.
		if cweft.Weft_timer_stop(c, 0) == cweft.WEFT_EPERM {
			return cweft.WEFT_EPERM
		}
		return 0
	})
	return d, err
}
