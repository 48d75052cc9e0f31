package weft

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openLoops counts the loops of the running test (tests are not parallel).
var openLoops int

// newLoop returns a loop that the test's cleanup closes, checking that no
// cgo handle is left once the test's last loop is closed: weft handed every
// one back.
func newLoop(t *testing.T) *Loop {
	t.Helper()
	if n := LiveHandles(); n != 0 && openLoops == 0 {
		t.Fatalf("%d cgo handles live before the test", n)
	}
	l, err := NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	openLoops++
	t.Cleanup(func() {
		if err := l.Close(); err != nil && err != ErrClosed {
			t.Errorf("Close: %v", err)
		}
		if openLoops--; openLoops == 0 {
			if n := LiveHandles(); n != 0 {
				t.Errorf("%d cgo handles leaked", n)
			}
		}
	})
	return l
}

func run(t *testing.T, l *Loop) {
	t.Helper()
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	return fds[0], fds[1]
}

func wantErr(t *testing.T, err error, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// ------------------------------------------------------------ version, errors

func TestVersion(t *testing.T) {
	if Version()>>16 != VersionMajor {
		t.Fatalf("Version %x, header major %d", Version(), VersionMajor)
	}
	if Version() != HeaderVersion {
		t.Logf("running libweft %x, header %x", Version(), HeaderVersion)
	}
	if parts := strings.Split(VersionString(), "."); len(parts) != 3 {
		t.Fatalf("VersionString %q", VersionString())
	}
}

func TestErrors(t *testing.T) {
	codes := []Errno{ErrPerm, ErrBadF, ErrAgain, ErrNoMem, ErrBusy, ErrExist, ErrInval,
		ErrMFile, ErrNoSpc, ErrTimedOut, ErrStale, ErrCanceled}
	for _, c := range codes {
		if !strings.HasPrefix(c.Name(), "WEFT_E") || c.Name() == "WEFT_E?" {
			t.Errorf("%d: name %q", int(c), c.Name())
		}
		if !strings.Contains(c.Error(), c.Name()) {
			t.Errorf("%d: Error() %q", int(c), c.Error())
		}
	}
	if Errno(-9999).Name() != "WEFT_E?" || Errno(-9999).Error() == "" {
		t.Error("unknown code")
	}
	if ErrCanceled.Name() != "WEFT_ECANCELED" || int(ErrCanceled) != -125 {
		t.Error("ErrCanceled")
	}
	if Err(0) != nil || Err(5) != nil || Err(-22) != ErrInval {
		t.Error("Err")
	}
	var err error = &OpError{Op: "timer_stop", Err: ErrStale}
	if !errors.Is(err, ErrStale) || errors.Is(err, ErrCanceled) {
		t.Error("errors.Is through OpError")
	}
	var e Errno
	if !errors.As(err, &e) || e != ErrStale {
		t.Error("errors.As")
	}
	if !strings.Contains(err.Error(), "timer_stop") {
		t.Error(err.Error())
	}
	p := &PanicError{Where: "timer", Value: os.ErrClosed}
	if !errors.Is(p, os.ErrClosed) || !strings.Contains(p.Error(), "timer") {
		t.Error("PanicError")
	}
	if (&PanicError{Value: 3}).Unwrap() != nil {
		t.Error("PanicError.Unwrap of a non-error")
	}
	for s, want := range map[TaskState]string{TaskReady: "ready", TaskWaiting: "waiting",
		TaskDone: "done", TaskRunning: "running", 0: "state?", 5: "state?"} {
		if s.String() != want {
			t.Errorf("TaskState(%d).String() = %q", int(s), s.String())
		}
	}
	for v, want := range map[LogLevel]string{LogDebug: "debug", LogInfo: "info", LogWarn: "warn",
		LogError: "error", -1: "level?", 9: "level?"} {
		if v.String() != want {
			t.Errorf("LogLevel(%d).String() = %q", int(v), v.String())
		}
	}
	if (Readable|Hangup).String() != "readable|hangup" || Events(0).String() != "none" ||
		(Writable|ErrorEvent).String() != "writable|error" {
		t.Error("Events.String")
	}
}

// ------------------------------------------------------------------- loop

func TestLoopEmptyRun(t *testing.T) {
	l := newLoop(t)
	run(t, l)
	if alive, err := l.RunOnce(); alive || err != nil {
		t.Fatal(alive, err)
	}
	if alive, err := l.RunNoWait(); alive || err != nil {
		t.Fatal(alive, err)
	}
}

func TestLoopClose(t *testing.T) {
	l := newLoop(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, l.Close(), ErrClosed)
	wantErr(t, l.Run(context.Background()), ErrClosed)
	if _, err := l.RunOnce(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	wantErr(t, l.Post(func() {}), ErrClosed)
	wantErr(t, l.Stop(), ErrClosed)
	if _, err := l.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if l.Now() != 0 {
		t.Fatal("Now after Close")
	}
	_, err := l.Spawn(func(*Task, int) Step { return Done(0) })
	wantErr(t, err, ErrClosed)
	_, err = l.NewTimer(0, 0, func(*Timer) {})
	wantErr(t, err, ErrClosed)
	_, err = l.WatchFD(0, Readable, func(*Watch, Events) {})
	wantErr(t, err, ErrClosed)
	_, err = l.ToThread(func() int { return 0 }, nil)
	wantErr(t, err, ErrClosed)
	wantErr(t, l.SetLogger(nil), ErrClosed)
	wantErr(t, l.SetThreadPoolSize(2), ErrClosed)
	if _, err := l.BackendFD(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := l.NextTimeout(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// A post that Close runs finds the loop closed: SetLogger (which takes
// nothing: no handle is left, newLoop's cleanup checks) and NextTimeout
// return ErrClosed, as every loop method does once Close has begun.
func TestLoopMethodsInsideClose(t *testing.T) {
	l := newLoop(t)
	var errs []error
	l.Post(func() {
		errs = append(errs, l.SetLogger(func(LogLevel, string) {}))
		d, err := l.NextTimeout()
		errs = append(errs, err)
		if d != -1 {
			t.Errorf("NextTimeout inside Close: %v", d)
		}
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 {
		t.Fatal("the post did not run")
	}
	for _, err := range errs {
		wantErr(t, err, ErrClosed)
	}
}

// Close cancels tasks (each sees ErrCanceled and may still clean up), runs
// pending posts, and stops timers and watches without calling them, deleting
// every cgo handle (newLoop's cleanup checks the count).
func TestCloseWithLiveHandles(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	_ = b
	var statuses []int
	sleeper, _ := l.Spawn(func(tk *Task, st int) Step {
		statuses = append(statuses, st)
		if tk.Steps() == 1 {
			return tk.Sleep(time.Hour)
		}
		return tk.Sleep(time.Hour) // returns ErrCanceled at once during Close
	})
	never, _ := l.Spawn(func(tk *Task, st int) Step { return Done(st) })
	fired := false
	tm, err := l.NewTimer(time.Hour, time.Hour, func(*Timer) { fired = true })
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.WatchFD(a, Readable, func(*Watch, Events) { fired = true })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetLogger(func(LogLevel, string) {}); err != nil {
		t.Fatal(err)
	}
	posted := false
	l.Post(func() { posted = true })
	// One iteration: both tasks start; the sleeper arms its sleep, `never`
	// finishes at once; the post runs.
	if alive, err := l.RunNoWait(); !alive || err != nil {
		t.Fatal(alive, err)
	}
	if !never.Finished() || sleeper.Finished() || !posted {
		t.Fatal("after one iteration")
	}
	posted = false
	l.Post(func() { posted = true })
	if n := LiveHandles(); n != 6 { // sleeper, never (finished, still held), timer, watch, logger, post
		t.Fatalf("live handles before Close: %d", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fired || !posted {
		t.Fatalf("fired %v posted %v", fired, posted)
	}
	if len(statuses) != 2 || statuses[1] != int(ErrCanceled) {
		t.Fatalf("sleeper statuses %v", statuses)
	}
	if _, err := sleeper.Result(); err != ErrClosed { // results lived in the loop
		t.Fatal(err)
	}
	if tm.Active() || w.Active() {
		t.Fatal("timer or watch still active after Close")
	}
	wantErr(t, tm.Stop(), ErrClosed)
	wantErr(t, w.Stop(), ErrClosed)
	if st, err := sleeper.State(); st != TaskDone || err != nil {
		t.Fatal(st, err)
	}
	if n := LiveHandles(); n != 0 {
		t.Fatalf("%d handles after Close", n)
	}
}

func TestCloseFromCallbackIsBusy(t *testing.T) {
	l := newLoop(t)
	var err1, err2 error
	l.Post(func() {
		err1 = l.Close()
		err2 = l.Run(context.Background())
		_, err3 := l.RunOnce()
		if !errors.Is(err3, ErrBusy) {
			t.Error("RunOnce from a callback:", err3)
		}
	})
	run(t, l)
	wantErr(t, err1, ErrBusy)
	wantErr(t, err2, ErrBusy)
}

func TestRunContext(t *testing.T) {
	l := newLoop(t)
	ctx, cancel := context.WithCancel(context.Background())
	tm, err := l.NewTimer(0, time.Millisecond, func(tm *Timer) { cancel() })
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, l.Run(ctx), context.Canceled)
	if !tm.Active() {
		t.Fatal("timer stopped")
	}
	// An already-done context does not run the loop.
	wantErr(t, l.Run(ctx), context.Canceled)
	// The stale stop request does not stop a later run.
	n := 0
	tm.Stop()
	tm2, _ := l.NewTimer(0, time.Microsecond, func(tm *Timer) {
		if n++; n == 5 {
			tm.Stop()
		}
	})
	run(t, l)
	if n != 5 || tm2.Active() {
		t.Fatal("n", n)
	}
}

func TestRunContextFromGoroutine(t *testing.T) {
	l := newLoop(t)
	ctx, cancel := context.WithCancel(context.Background())
	tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
	l.Post(func() { go cancel() }) // the loop is running now
	wantErr(t, l.Run(ctx), context.Canceled)
	tm.Stop()
}

func TestStop(t *testing.T) {
	l := newLoop(t)
	ticks := 0
	tm, _ := l.NewTimer(0, time.Microsecond, func(tm *Timer) {
		if ticks++; ticks == 3 {
			l.Stop()
		}
	})
	run(t, l)
	if ticks != 3 || !tm.Active() {
		t.Fatal(ticks)
	}
	// Stop when not running applies to the next run: one iteration.
	l.Stop()
	st0, _ := l.Stats()
	run(t, l)
	st1, _ := l.Stats()
	if st1.Iterations != st0.Iterations+1 {
		t.Fatalf("iterations %d -> %d", st0.Iterations, st1.Iterations)
	}
	tm.Stop()
}

func TestRunOnceNoWait(t *testing.T) {
	l := newLoop(t)
	n := 0
	l.Spawn(func(tk *Task, st int) Step {
		if n++; n == 3 {
			return Done(0)
		}
		return tk.Yield()
	})
	for i := 1; i <= 3; i++ {
		alive, err := l.RunNoWait()
		if err != nil || alive != (i < 3) || n != i {
			t.Fatal(i, alive, err, n)
		}
	}
	l.AfterFunc(time.Millisecond, func() { n = 100 })
	for n != 100 {
		if _, err := l.RunOnce(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPostFrom8Goroutines(t *testing.T) {
	l := newLoop(t)
	const G, P = 8, 2000
	// Keep the loop alive until every post arrived.
	keep, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
	var got [G][]int
	count := 0
	var wg sync.WaitGroup
	l.Post(func() {
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < P; i++ {
					if err := l.Post(func() {
						got[g] = append(got[g], i)
						if count++; count == G*P {
							keep.Stop()
						}
					}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	})
	run(t, l)
	wg.Wait()
	for g := 0; g < G; g++ {
		if len(got[g]) != P {
			t.Fatalf("goroutine %d: %d posts arrived", g, len(got[g]))
		}
		for i, v := range got[g] {
			if v != i {
				t.Fatalf("goroutine %d: post %d arrived as %d", g, i, v)
			}
		}
	}
	st, _ := l.Stats()
	if st.Posts != G*P+1 {
		t.Fatalf("stats posts %d", st.Posts)
	}
	wantErr(t, l.Post(nil), ErrInval)
}

func TestPostRacesClose(t *testing.T) {
	if n := LiveHandles(); n != 0 {
		t.Fatal(n)
	}
	for round := 0; round < 20; round++ {
		l, _ := NewLoop()
		var ran, ok sync.WaitGroup
		var delivered, accepted int64
		var mu sync.Mutex
		for g := 0; g < 8; g++ {
			ran.Add(1)
			go func() {
				defer ran.Done()
				for i := 0; i < 50; i++ {
					ok.Add(1)
					err := l.Post(func() { mu.Lock(); delivered++; mu.Unlock(); ok.Done() })
					if err != nil {
						ok.Done()
						if !errors.Is(err, ErrClosed) {
							t.Error(err)
						}
						return
					}
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}()
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		ran.Wait()
		ok.Wait()
		if delivered != accepted {
			t.Fatalf("accepted %d posts, delivered %d", accepted, delivered)
		}
	}
	if n := LiveHandles(); n != 0 {
		t.Fatalf("%d handles leaked", n)
	}
}

func TestNowAndStats(t *testing.T) {
	l := newLoop(t)
	t0 := l.Now()
	if t0 <= 0 {
		t.Fatal(t0)
	}
	var inCallback time.Duration
	l.AfterFunc(time.Millisecond, func() { inCallback = l.Now() })
	run(t, l)
	if inCallback < t0+time.Millisecond {
		t.Fatalf("now %v in a 1ms timer started at %v", inCallback, t0)
	}
	st, err := l.Stats()
	if err != nil || st.Iterations < 1 || st.TasksAlive != 0 || st.TimersActive != 0 {
		t.Fatal(st, err)
	}
	// Stats and Now from another goroutine while the loop runs.
	done := make(chan Stats, 1)
	tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
	l.Post(func() {
		go func() {
			s, _ := l.Stats()
			_ = l.Now()
			done <- s
			l.Post(func() { tm.Stop() })
		}()
	})
	run(t, l)
	if s := <-done; s.TimersActive != 1 {
		t.Fatalf("timers active %d", s.TimersActive)
	}
}

func TestOptions(t *testing.T) {
	l := newLoop(t)
	wantErr(t, l.SetThreadPoolSize(0), ErrInval)
	wantErr(t, l.SetThreadPoolSize(1025), ErrInval)
	if err := l.SetThreadPoolSize(2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, l.SetSlowCallbackThreshold(-1), ErrInval)
	if err := l.SetSlowCallbackThreshold(0); err != nil {
		t.Fatal(err)
	}
	l.ToThread(func() int { return 0 }, nil)
	wantErr(t, l.SetThreadPoolSize(3), ErrBusy) // the pool started
	var err error
	l.Post(func() { err = l.SetSlowCallbackThreshold(time.Second) })
	run(t, l)
	wantErr(t, err, ErrBusy) // running
}

func TestLoggerAndSlowCallbacks(t *testing.T) {
	l := newLoop(t)
	var lines []string
	var levels []LogLevel
	if err := l.SetLogger(func(lv LogLevel, msg string) {
		levels = append(levels, lv)
		lines = append(lines, msg)
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSlowCallbackThreshold(time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	l.Post(func() {
		for t0 := time.Now(); time.Since(t0) < time.Millisecond; {
		}
	})
	run(t, l)
	st, _ := l.Stats()
	if st.SlowCallbacks < 1 || len(lines) < 1 || levels[0] != LogWarn {
		t.Fatalf("slow %d, log %v %q", st.SlowCallbacks, levels, lines)
	}
	// Replace, then remove, the logger.
	if err := l.SetLogger(func(LogLevel, string) {}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLogger(nil); err != nil {
		t.Fatal(err)
	}
	n := len(lines)
	l.Post(func() {})
	run(t, l)
	if len(lines) != n {
		t.Fatal("logged after SetLogger(nil)")
	}
}

func TestBackendFDAndNextTimeout(t *testing.T) {
	l := newLoop(t)
	fd, err := l.BackendFD()
	if err != nil || fd < 0 {
		t.Fatal(fd, err)
	}
	if d, err := l.NextTimeout(); d != -1 || err != nil {
		t.Fatal(d, err)
	}
	tm, _ := l.NewTimer(time.Hour, 0, func(*Timer) {})
	if d, err := l.NextTimeout(); d <= 0 || d > time.Hour || err != nil {
		t.Fatal(d, err)
	}
	tm.Stop()
	l.Post(func() {})
	if d, _ := l.NextTimeout(); d != 0 {
		t.Fatal(d)
	}
	_, err = l.WatchFD(fd, Readable, func(*Watch, Events) {})
	wantErr(t, err, ErrInval) // the loop's own fd
	run(t, l)
}

// Loop-thread methods called from another goroutine while the loop runs
// return ErrPerm and change nothing.
func TestForeignGoroutineIsPerm(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.AwaitFD(a, Readable)
		}
		return Done(st)
	})
	tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
	w, _ := l.WatchFD(a, Writable, func(*Watch, Events) {})
	w.Modify(Writable)
	errs := make(chan error, 20)
	l.Post(func() {
		go func() {
			_, err := l.Spawn(func(*Task, int) Step { return Done(0) })
			errs <- err
			_, err = l.NewTimer(0, 0, func(*Timer) {})
			errs <- err
			_, err = l.WatchFD(a, Readable, func(*Watch, Events) {})
			errs <- err
			_, err = l.ToThread(func() int { return 0 }, nil)
			errs <- err
			errs <- tk.Cancel()
			errs <- tk.SetTimeout(time.Second)
			_, err = tk.State()
			errs <- err
			errs <- tm.Stop()
			errs <- w.Modify(Readable)
			errs <- w.Stop()
			errs <- l.SetLogger(nil)
			_, err = l.BackendFD()
			errs <- err
			_, err = l.NextTimeout()
			errs <- err
			close(errs)
			syscall.Write(b, []byte("x")) // lets the task finish
		}()
	})
	// The watch must not keep the loop alive: stop it from the task's end.
	l.Spawn(func(t2 *Task, st int) Step {
		if t2.Steps() == 1 {
			return t2.Await(tk)
		}
		tm.Stop()
		w.Stop()
		return Done(0)
	})
	run(t, l)
	i := 0
	for err := range errs {
		if !errors.Is(err, ErrPerm) {
			t.Errorf("call %d from a foreign goroutine: %v", i, err)
		}
		i++
	}
	if r, _ := tk.Result(); r != int(Readable) {
		t.Fatal(r)
	}
}

// ------------------------------------------------------------------ tasks

func TestTaskSleepSequence(t *testing.T) {
	l := newLoop(t)
	var trace []string
	tk, err := l.Spawn(func(tk *Task, st int) Step {
		trace = append(trace, "start")
		if st0, _ := tk.State(); st0 != TaskRunning {
			t.Errorf("state in step: %v", st0)
		}
		return tk.Then(func(tk *Task, st int) Step {
			trace = append(trace, "slept")
			return tk.Then(func(tk *Task, st int) Step {
				trace = append(trace, "yielded")
				return Done(7)
			}).Yield()
		}).Sleep(time.Millisecond)
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := tk.State(); st != TaskReady {
		t.Fatal(st)
	}
	if len(trace) != 0 {
		t.Fatal("a step ran inside Spawn")
	}
	if _, err := tk.Result(); !errors.Is(err, ErrBusy) {
		t.Fatal(err)
	}
	l.RunNoWait()
	if st, _ := tk.State(); st != TaskWaiting {
		t.Fatal(st)
	}
	run(t, l)
	if strings.Join(trace, ",") != "start,slept,yielded" {
		t.Fatal(trace)
	}
	if r, err := tk.Result(); r != 7 || err != nil || !tk.Finished() {
		t.Fatal(r, err)
	}
	if tk.ID() <= 0 || tk.Loop() != l {
		t.Fatal("ID/Loop")
	}
	if err := tk.Cancel(); err != nil {
		t.Fatal("Cancel of a finished task:", err)
	}
	if err := tk.SetTimeout(time.Second); err != nil {
		t.Fatal("SetTimeout of a finished task:", err)
	}
	if tk.Then(nil) != tk {
		t.Fatal("Then")
	}
}

// A nil callback is refused before anything is registered, on an open loop
// and on a closed one: an *OpError naming the C function, wrapping ErrInval.
func TestNilCallbacks(t *testing.T) {
	l := newLoop(t)
	closed := newLoop(t)
	must(t, closed.Close())
	for _, lp := range []*Loop{l, closed} {
		before := LiveHandles()
		for op, f := range map[string]func() (any, error){
			"task_spawn":     func() (any, error) { return lp.Spawn(nil) },
			"timer_start":    func() (any, error) { return lp.NewTimer(0, 0, nil) },
			"fd_watch_start": func() (any, error) { return lp.WatchFD(0, Readable, nil) },
			"to_thread":      func() (any, error) { return lp.ToThread(nil, nil) },
		} {
			_, err := f()
			var oe *OpError
			if !errors.As(err, &oe) || oe.Op != op || oe.Err != ErrInval {
				t.Errorf("%s with a nil callback: %v", op, err)
			}
		}
		if n := LiveHandles(); n != before {
			t.Errorf("live handles %d, want %d", n, before)
		}
	}
}

func TestTaskErrors(t *testing.T) {
	l := newLoop(t)
	_, err := l.Spawn(nil)
	wantErr(t, err, ErrInval)
	var other *Task
	results := map[string]int{}
	other, _ = l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(time.Millisecond)
		}
		return Done(0)
	})
	steps := []struct {
		name string
		fn   StepFunc
		want Errno
	}{
		{"negative sleep", func(tk *Task, _ int) Step { return tk.Sleep(-1) }, ErrInval},
		{"bad events", func(tk *Task, _ int) Step { return tk.AwaitFD(0, 4) }, ErrInval},
		{"no events", func(tk *Task, _ int) Step { return tk.AwaitFD(0, 0) }, ErrInval},
		{"bad fd", func(tk *Task, _ int) Step { return tk.AwaitFD(-1, Readable) }, ErrBadF},
		{"closed fd", func(tk *Task, _ int) Step { return tk.AwaitFD(1000, Readable) }, ErrBadF},
		{"nil work", func(tk *Task, _ int) Step { return tk.ToThread(nil) }, ErrInval},
		{"await self", func(tk *Task, _ int) Step { return tk.Await(tk) }, ErrInval},
		{"await nil", func(tk *Task, _ int) Step { return tk.Await(nil) }, ErrInval},
		{"gather self", func(tk *Task, _ int) Step { return tk.Gather(other, tk) }, ErrInval},
		{"gather nil", func(tk *Task, _ int) Step { return tk.Gather(nil) }, ErrInval},
		{"await in another task's step", func(tk *Task, _ int) Step { return other.Sleep(0) }, ErrInval},
		{"pending without await", func(tk *Task, _ int) Step { return pending }, ErrInval},
		{"done(pending)", func(tk *Task, _ int) Step { return Done(int(pending)) }, ErrInval},
		{"two awaits", func(tk *Task, _ int) Step {
			tk.Sleep(time.Millisecond)
			if r := tk.Yield(); r != Step(ErrBusy) {
				t.Errorf("second await: %d", r)
			}
			return Done(int(ErrBusy))
		}, ErrBusy},
	}
	tasks := map[string]*Task{}
	for _, s := range steps {
		tk, err := l.Spawn(s.fn)
		if err != nil {
			t.Fatal(err)
		}
		tasks[s.name] = tk
	}
	run(t, l)
	for _, s := range steps {
		r, err := tasks[s.name].Result()
		results[s.name] = r
		if r != int(s.want) || !errors.Is(err, s.want) {
			t.Errorf("%s: result %d (%v), want %v", s.name, r, err, s.want)
		}
	}
	// Awaits outside any step.
	if r := other.Sleep(0); r != Step(ErrStale) && r != Step(ErrInval) {
		t.Errorf("await outside a step: %d", r)
	}
}

func TestTaskOfAnotherLoop(t *testing.T) {
	l := newLoop(t)
	l2 := newLoop(t)
	foreign, _ := l2.Spawn(func(tk *Task, st int) Step { return tk.Sleep(time.Hour) })
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if r := tk.Await(foreign); r != Step(ErrStale) {
			t.Errorf("Await: %d", r)
		}
		return tk.Gather(foreign)
	})
	run(t, l)
	if r, _ := tk.Result(); r != int(ErrStale) {
		t.Fatal(r)
	}
}

func TestAwaitFD(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	var got []byte
	reader, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.AwaitFD(a, Readable)
		}
		if Events(st)&Readable == 0 {
			return Done(-1)
		}
		buf := make([]byte, 16)
		n, _ := syscall.Read(a, buf)
		got = append(got, buf[:n]...)
		return Done(st)
	})
	l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.AwaitFD(b, Writable)
		}
		syscall.Write(b, []byte("ping"))
		return Done(st)
	})
	run(t, l)
	if string(got) != "ping" {
		t.Fatalf("%q", got)
	}
	if r, _ := reader.Result(); Events(r) != Readable {
		t.Fatal(Events(r))
	}
	// Hangup is reported.
	syscall.Shutdown(b, syscall.SHUT_WR)
	hup, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.AwaitFD(a, Readable)
		}
		return Done(st)
	})
	run(t, l)
	if r, _ := hup.Result(); Events(r)&Readable == 0 {
		t.Fatal(Events(r))
	}
}

func TestTaskToThread(t *testing.T) {
	l := newLoop(t)
	onPool := make(chan bool, 1)
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.ToThread(func() int {
				onPool <- true
				return 41
			})
		}
		return Done(st + 1)
	})
	run(t, l)
	if r, _ := tk.Result(); r != 42 || !<-onPool {
		t.Fatal(r)
	}
}

func TestAwaitAndGather(t *testing.T) {
	l := newLoop(t)
	mk := func(d time.Duration, r int) *Task {
		tk, _ := l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Sleep(d)
			}
			return Done(r)
		})
		return tk
	}
	a, b, c := mk(time.Millisecond, 1), mk(2*time.Millisecond, 2), mk(0, -5)
	var awaited, gathered, again int = -100, -100, -100
	l.Spawn(func(tk *Task, st int) Step {
		return tk.Then(func(tk *Task, st int) Step {
			awaited = st
			return tk.Then(func(tk *Task, st int) Step {
				gathered = st
				// b is finished now: Await delivers its kept result.
				return tk.Then(func(tk *Task, st int) Step {
					again = st
					return Done(0)
				}).Await(b)
			}).Gather(a, b, c, a)
		}).Await(a)
	})
	run(t, l)
	if awaited != 1 || gathered != 0 || again != 2 {
		t.Fatal(awaited, gathered, again)
	}
	for tk, want := range map[*Task]int{a: 1, b: 2, c: -5} {
		if r, _ := tk.Result(); r != want {
			t.Fatal(r, want)
		}
	}
	// Gather of nothing, and of finished tasks only, resumes with 0.
	var g1, g2 = -1, -1
	l.Spawn(func(tk *Task, st int) Step {
		return tk.Then(func(tk *Task, st int) Step {
			g1 = st
			return tk.Then(func(tk *Task, st int) Step { g2 = st; return Done(0) }).Gather(a, c)
		}).Gather()
	})
	run(t, l)
	if g1 != 0 || g2 != 0 {
		t.Fatal(g1, g2)
	}
}

func TestGroup(t *testing.T) {
	l := newLoop(t)
	var cleanups []int
	child := func(d time.Duration, r int) *Task {
		tk, _ := l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Sleep(d)
			}
			if st < 0 {
				cleanups = append(cleanups, st)
				return Done(st)
			}
			return Done(r)
		})
		return tk
	}
	ok1, bad, slow := child(0, 1), child(time.Millisecond, int(ErrTimedOut)), child(time.Hour, 3)
	var res = 1
	l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Group(ok1, bad, slow)
		}
		res = st
		return Done(st)
	})
	run(t, l)
	if res != int(ErrTimedOut) {
		t.Fatalf("group: %d", res)
	}
	if r, _ := slow.Result(); r != int(ErrCanceled) || len(cleanups) != 1 {
		t.Fatal(r, cleanups)
	}
	// A group containing an already-failed task fails with its result and
	// cancels the others.
	slow2 := child(time.Hour, 3)
	l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Group(ok1, slow2, bad)
		}
		res = st
		return Done(st)
	})
	run(t, l)
	if res != int(ErrTimedOut) {
		t.Fatalf("group with a failed task: %d", res)
	}
	if r, _ := slow2.Result(); r != int(ErrCanceled) {
		t.Fatal(r)
	}
	// All good: 0.
	l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Group(child(0, 1), child(0, 2))
		}
		res = st
		return Done(st)
	})
	run(t, l)
	if res != 0 {
		t.Fatal(res)
	}
}

func TestCancel(t *testing.T) {
	l := newLoop(t)
	var seen []int
	sleeper, _ := l.Spawn(func(tk *Task, st int) Step {
		seen = append(seen, st)
		switch len(seen) {
		case 1:
			return tk.Sleep(time.Hour)
		case 2: // cancelled: clean up with another await
			return tk.Yield()
		}
		return Done(99)
	})
	notStarted, _ := l.Spawn(func(tk *Task, st int) Step { return Done(st) })
	if err := notStarted.Cancel(); err != nil {
		t.Fatal(err)
	}
	l.RunNoWait()
	if err := sleeper.Cancel(); err != nil {
		t.Fatal(err)
	}
	run(t, l)
	if len(seen) != 3 || seen[1] != int(ErrCanceled) || seen[2] != 0 {
		t.Fatal(seen)
	}
	if r, _ := sleeper.Result(); r != 99 {
		t.Fatal(r)
	}
	if r, _ := notStarted.Result(); r != int(ErrCanceled) {
		t.Fatal(r)
	}
	// A running task cancelling itself gets ErrCanceled from its next await.
	self, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			tk.Cancel()
			return tk.Sleep(time.Hour)
		}
		return Done(st)
	})
	run(t, l)
	if r, _ := self.Result(); r != int(ErrCanceled) {
		t.Fatal(r)
	}
}

func TestTimeout(t *testing.T) {
	l := newLoop(t)
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(time.Hour)
		}
		return Done(st)
	})
	wantErr(t, tk.SetTimeout(-1), ErrInval)
	if err := tk.SetTimeout(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cleared, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(2 * time.Millisecond)
		}
		return Done(st)
	})
	cleared.SetTimeout(time.Millisecond)
	cleared.SetTimeout(0)
	run(t, l)
	if r, err := tk.Result(); r != int(ErrTimedOut) || !errors.Is(err, ErrTimedOut) {
		t.Fatal(r, err)
	}
	if r, _ := cleared.Result(); r != 0 {
		t.Fatal(r)
	}
}

// Cancelling a task that waits on running pool work: the work completes,
// then the task resumes with ErrCanceled; its handle is released only then.
func TestCancelDuringToThread(t *testing.T) {
	l := newLoop(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var tk *Task
	tk, _ = l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.ToThread(func() int {
				close(started)
				<-release
				return 5
			})
		}
		return Done(st)
	})
	l.Post(func() {
		go func() {
			<-started
			l.Post(func() {
				tk.Cancel()
				close(release)
			})
		}()
	})
	run(t, l)
	if r, _ := tk.Result(); r != int(ErrCanceled) {
		t.Fatal(r)
	}
}

// A step that arms ToThread and then finishes anyway: weft disarms the
// await, the work may still run; its handle lives until Close.
func TestFinishWithToThreadArmed(t *testing.T) {
	l := newLoop(t)
	ran := make(chan struct{}, 1)
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		tk.ToThread(func() int { ran <- struct{}{}; return 0 })
		return Done(3)
	})
	run(t, l)
	if r, _ := tk.Result(); r != 3 {
		t.Fatal(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	default:
	}
}

// ----------------------------------------------------------------- panics

func TestPanicInStep(t *testing.T) {
	l := newLoop(t)
	other := 0
	tm, _ := l.NewTimer(0, time.Millisecond, func(*Timer) { other++ })
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(time.Millisecond)
		}
		panic("boom")
	})
	err := l.Run(context.Background())
	var p *PanicError
	if !errors.As(err, &p) || p.Value != "boom" || p.Where != "task step" || len(p.Stack) == 0 {
		t.Fatalf("Run: %v", err)
	}
	r, err := tk.Result()
	if r != int(ErrHost) || !errors.As(err, &p) {
		t.Fatal(r, err)
	}
	// The loop is usable afterwards; the panic is reported once.
	tm.Stop()
	run(t, l)
}

func TestPanicInCallbacks(t *testing.T) {
	a, b := socketpair(t)
	syscall.Write(b, []byte("x"))
	cases := map[string]func(l *Loop){
		"post":  func(l *Loop) { l.Post(func() { panic("p") }) },
		"timer": func(l *Loop) { l.AfterFunc(0, func() { panic("p") }) },
		"repeating timer": func(l *Loop) {
			l.NewTimer(0, time.Millisecond, func(*Timer) { panic("p") })
		},
		"fd watch": func(l *Loop) {
			l.WatchFD(a, Readable, func(*Watch, Events) { panic("p") })
		},
		"work": func(l *Loop) { l.ToThread(func() int { panic("p") }, func(r int) {}) },
		"done": func(l *Loop) { l.ToThread(func() int { return 0 }, func(r int) { panic("p") }) },
		"logger": func(l *Loop) {
			l.SetLogger(func(LogLevel, string) { panic("p") })
			l.SetSlowCallbackThreshold(1)
			l.Post(func() { time.Sleep(time.Microsecond) })
		},
		"task work": func(l *Loop) {
			l.Spawn(func(tk *Task, st int) Step {
				if tk.Steps() == 1 {
					return tk.ToThread(func() int { panic("p") })
				}
				if st != int(ErrHost) {
					panic("status")
				}
				return Done(st)
			})
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			l := newLoop(t)
			setup(l)
			err := l.Run(context.Background())
			var p *PanicError
			if !errors.As(err, &p) || p.Value != "p" {
				t.Fatalf("Run: %v", err)
			}
			// Close ends what is left (the repeating timer, the watch).
		})
	}
}

func TestPanicDuringClose(t *testing.T) {
	l := newLoop(t)
	l.Post(func() { panic("at close") })
	err := l.Close()
	var p *PanicError
	if !errors.As(err, &p) || p.Value != "at close" {
		t.Fatal(err)
	}
}

func TestPanicInRunOnce(t *testing.T) {
	l := newLoop(t)
	l.Post(func() { panic("once") })
	l.Post(func() {})
	alive, err := l.RunNoWait()
	var p *PanicError
	if !errors.As(err, &p) || alive {
		t.Fatal(alive, err)
	}
	// No stop request lingers: a Run goes on until its work is done.
	n := 0
	l.NewTimer(0, time.Microsecond, func(tm *Timer) {
		if n++; n == 3 {
			tm.Stop()
		}
	})
	run(t, l)
	if n != 3 {
		t.Fatal(n)
	}
}

// ----------------------------------------------------------------- timers

func TestTimers(t *testing.T) {
	l := newLoop(t)
	var order []string
	t1, _ := l.AfterFunc(time.Millisecond, func() { order = append(order, "1ms") })
	l.AfterFunc(0, func() { order = append(order, "0") })
	n := 0
	rep, _ := l.NewTimer(0, time.Millisecond, func(tm *Timer) {
		if n++; n == 3 {
			if err := tm.Stop(); err != nil {
				t.Error(err)
			}
			wantErr(t, tm.Stop(), ErrStale)
		}
	})
	run(t, l)
	if len(order) != 2 || order[0] != "0" || n != 3 {
		t.Fatal(order, n)
	}
	if t1.Active() || rep.Active() {
		t.Fatal("still active")
	}
	wantErr(t, t1.Stop(), ErrStale) // fired
	_, err := l.NewTimer(-1, 0, func(*Timer) {})
	wantErr(t, err, ErrInval)
	_, err = l.NewTimer(0, -1, func(*Timer) {})
	wantErr(t, err, ErrInval)
	_, err = l.NewTimer(0, 0, nil)
	wantErr(t, err, ErrInval)
	_, err = l.AfterFunc(0, nil)
	wantErr(t, err, ErrInval)
	// Stopped before firing: never called.
	called := false
	t3, _ := l.AfterFunc(0, func() { called = true })
	if err := t3.Stop(); err != nil {
		t.Fatal(err)
	}
	run(t, l)
	if called {
		t.Fatal("stopped timer fired")
	}
	// A one-shot timer stopping itself from its callback.
	var selfStop error = errors.New("unset")
	t4, _ := l.NewTimer(0, 0, func(tm *Timer) { selfStop = tm.Stop() })
	run(t, l)
	if t4.Active() || (selfStop != nil && !errors.Is(selfStop, ErrStale)) {
		t.Fatal(selfStop)
	}
}

func TestTimerCallbackSpawns(t *testing.T) {
	l := newLoop(t)
	var tk *Task
	l.AfterFunc(0, func() {
		tk, _ = l.Spawn(func(tk *Task, st int) Step { return Done(11) })
	})
	run(t, l)
	if r, _ := tk.Result(); r != 11 {
		t.Fatal(r)
	}
}

// ---------------------------------------------------------------- watches

func TestWatch(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	var evs []Events
	w, err := l.WatchFD(a, Writable, func(w *Watch, ev Events) {
		evs = append(evs, ev)
		switch len(evs) {
		case 1:
			if err := w.Modify(Readable); err != nil {
				t.Error(err)
			}
			syscall.Write(b, []byte("x"))
		case 2:
			if err := w.Stop(); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.FD() != a || !w.Active() {
		t.Fatal("FD/Active")
	}
	run(t, l)
	if len(evs) != 2 || evs[0] != Writable || evs[1] != Readable {
		t.Fatal(evs)
	}
	wantErr(t, w.Stop(), ErrStale)
	wantErr(t, w.Modify(Readable), ErrStale)
	if w.Active() {
		t.Fatal("active after Stop")
	}
}

func TestWatchErrors(t *testing.T) {
	l := newLoop(t)
	a, _ := socketpair(t)
	f, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		fd   int
		ev   Events
		fn   func(*Watch, Events)
		want error
	}{
		{a, Readable, nil, ErrInval},
		{a, 0, func(*Watch, Events) {}, ErrInval},
		{a, Hangup, func(*Watch, Events) {}, ErrInval},
		{-1, Readable, func(*Watch, Events) {}, ErrBadF},
		{int(f.Fd()), Readable, func(*Watch, Events) {}, ErrBadF},
		{1 << 20, Readable, func(*Watch, Events) {}, ErrBadF},
	} {
		_, err := l.WatchFD(c.fd, c.ev, c.fn)
		wantErr(t, err, c.want)
	}
	w, _ := l.WatchFD(a, Readable, func(*Watch, Events) {})
	wantErr(t, w.Modify(0), ErrInval)
	wantErr(t, w.Modify(8), ErrInval)
	w.Stop()
}

// ------------------------------------------------------------------- work

func TestWork(t *testing.T) {
	l := newLoop(t)
	results := []int{}
	w, err := l.ToThread(func() int { return 7 }, func(r int) { results = append(results, r) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ToThread(nil, nil); !errors.Is(err, ErrInval) {
		t.Fatal(err)
	}
	noDone, _ := l.ToThread(func() int { return 1 }, nil)
	run(t, l)
	if len(results) != 1 || results[0] != 7 || !w.Finished() || !noDone.Finished() {
		t.Fatal(results)
	}
	wantErr(t, w.Cancel(), ErrStale)
}

func TestWorkCancel(t *testing.T) {
	l := newLoop(t)
	if err := l.SetThreadPoolSize(1); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	var r1, r2 int
	w1, _ := l.ToThread(func() int { close(started); <-release; return 1 }, func(r int) { r1 = r })
	w2, _ := l.ToThread(func() int { return 2 }, func(r int) { r2 = r })
	var c1, c2 error
	l.Post(func() {
		go func() {
			<-started
			l.Post(func() {
				c1 = w1.Cancel() // running: busy
				c2 = w2.Cancel() // queued behind it on the one pool thread
				close(release)
			})
		}()
	})
	run(t, l)
	wantErr(t, c1, ErrBusy)
	if c2 != nil || r1 != 1 || r2 != int(ErrCanceled) {
		t.Fatal(c2, r1, r2)
	}
}

// Close waits for running work and cancels queued work; both done callbacks run.
func TestCloseWithWork(t *testing.T) {
	l := newLoop(t)
	l.SetThreadPoolSize(1)
	started := make(chan struct{})
	var r1, r2 = 100, 100
	l.ToThread(func() int { close(started); return 1 }, func(r int) { r1 = r })
	l.ToThread(func() int { return 2 }, func(r int) { r2 = r })
	<-started
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if r1 != 1 || (r2 != 2 && r2 != int(ErrCanceled)) {
		t.Fatal(r1, r2)
	}
}

// ----------------------------------------------------------------- handles

// Many handles of every kind come and go; none is left.
func TestNoHandleLeaks(t *testing.T) {
	l := newLoop(t)
	a, b := socketpair(t)
	const N = 200
	for i := 0; i < N; i++ {
		l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Sleep(time.Duration(i) * time.Microsecond)
			}
			return Done(0)
		})
		l.AfterFunc(0, func() {})
		tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
		tm.Stop()
		l.Post(func() {})
		l.ToThread(func() int { return 0 }, nil)
		w, _ := l.WatchFD(a, Writable, func(w *Watch, _ Events) { w.Stop() })
		_ = w
	}
	syscall.Write(b, []byte("x"))
	run(t, l)
	// What is left are the ids of the finished tasks, which nothing
	// references: the collector releases them (a cleanup posts each release
	// to the loop).
	waitFor(t, func() bool {
		runtime.GC()
		run(t, l)
		return LiveHandles() == 0
	})
}

// waitFor polls cond (which drives the collector) until it holds, failing
// the test after a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in a minute")
		}
		runtime.Gosched()
	}
}

func TestStopFromGoroutine(t *testing.T) {
	l := newLoop(t)
	tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
	l.Post(func() { go l.Stop() })
	run(t, l) // returns although the timer keeps the loop alive
	if !tm.Active() {
		t.Fatal("timer")
	}
	tm.Stop()
}

func TestSteps(t *testing.T) {
	l := newLoop(t)
	var seen []int
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		seen = append(seen, tk.Steps())
		if tk.Steps() == 3 {
			return Done(0)
		}
		return tk.Sleep(0)
	})
	if tk.Steps() != 0 {
		t.Fatal(tk.Steps())
	}
	run(t, l)
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 || tk.Steps() != 3 {
		t.Fatal(seen)
	}
}
