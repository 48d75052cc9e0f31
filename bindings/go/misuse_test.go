package weft

import (
	"sync"
	"testing"
	"time"
)

// Misuse at the binding's edge (issue 7): handles kept after their loop was
// closed and used again, from outside any step and from the steps of a
// task of a new loop. Every call gives an error, none crashes, and no cgo
// handle is left behind (newLoop's cleanup counts them).

// isErrStep reports whether s is an error (negative), not a pending await.
func isErrStep(s Step) bool { return s < 0 }

func TestHandlesOfAClosedLoop(t *testing.T) {
	l := newLoop(t)
	a, _ := socketpair(t)
	sleeper, err := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(time.Hour)
		}
		return Done(st)
	})
	if err != nil {
		t.Fatal(err)
	}
	finished, _ := l.Spawn(func(*Task, int) Step { return Done(7) })
	tm, _ := l.NewTimer(time.Hour, time.Hour, func(*Timer) { t.Error("timer fired") })
	w, _ := l.WatchFD(a, Readable, func(*Watch, Events) { t.Error("watch fired") })
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	work, err := l.ToThread(func() int { return 1 }, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Methods of the loop's handles.
	wantErr(t, sleeper.Cancel(), ErrClosed)
	wantErr(t, sleeper.SetTimeout(time.Second), ErrClosed)
	wantErr(t, finished.Cancel(), ErrClosed)
	wantErr(t, tm.Stop(), ErrClosed)
	wantErr(t, tm.Stop(), ErrClosed)
	wantErr(t, w.Modify(Readable|Writable), ErrClosed)
	wantErr(t, w.Stop(), ErrClosed)
	wantErr(t, work.Cancel(), ErrClosed)
	if !work.Finished() || tm.Active() || w.Active() {
		t.Fatal("handles of a closed loop still look alive")
	}
	// Results lived in the loop: read them before Close.
	if _, err := sleeper.Result(); err != ErrClosed {
		t.Fatal(err)
	}
	if _, err := finished.Result(); err != ErrClosed {
		t.Fatal(err)
	}
	if st, err := sleeper.State(); st != TaskDone || err != nil {
		t.Fatal(st, err)
	}

	// Awaits on a task of the closed loop, outside any step: errors.
	for name, s := range map[string]Step{
		"Sleep":    sleeper.Sleep(0),
		"Yield":    sleeper.Yield(),
		"AwaitFD":  sleeper.AwaitFD(a, Readable),
		"ToThread": sleeper.ToThread(func() int { return 0 }),
		"Await":    sleeper.Await(finished),
		"Gather":   sleeper.Gather(finished),
		"Group":    sleeper.Group(finished),
	} {
		if !isErrStep(s) {
			t.Errorf("%s on a task of a closed loop: %d, want an error", name, s)
		}
	}

	// The same handles from a task of a new loop: refused, the new loop is
	// not disturbed, and its own tasks run.
	l2 := newLoop(t)
	got := map[string]Step{}
	t2, err := l2.Spawn(func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			got["await old task"] = tk.Await(finished)
			got["gather old task"] = tk.Gather(sleeper, finished)
			got["old task's Sleep inside this step"] = finished.Sleep(0)
			return tk.Sleep(time.Millisecond) // still works
		default:
			return Done(42)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, l2)
	for name, s := range got {
		if !isErrStep(s) {
			t.Errorf("%s: %d, want an error", name, s)
		}
	}
	if r, err := t2.Result(); r != 42 || err != nil {
		t.Fatal(r, err)
	}
}

// Close from many goroutines at once, on a loop with live handles of every
// kind: exactly one closes it, the others get ErrClosed, nothing leaks.
func TestCloseFromManyGoroutines(t *testing.T) {
	l := newLoop(t)
	a, _ := socketpair(t)
	for i := 0; i < 10; i++ {
		l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Sleep(time.Hour)
			}
			return Done(st)
		})
	}
	l.NewTimer(time.Hour, 0, func(*Timer) {})
	l.WatchFD(a, Readable, func(*Watch, Events) {})
	l.Post(func() {})
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = l.Close()
		}(i)
	}
	close(start)
	wg.Wait()
	closed := 0
	for _, err := range errs {
		switch err {
		case nil:
			closed++
		case ErrClosed:
		default:
			t.Errorf("Close: %v", err)
		}
	}
	if closed != 1 {
		t.Fatalf("%d Close calls closed the loop, want 1", closed)
	}
}
