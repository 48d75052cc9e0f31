package weft

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

// One ownership model (issue 12): weft hands every cgo.Handle back through
// its release hook; a Task keeps its id (and result) while reachable; a
// dropped Loop is closed by the collector, tasks and all.

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// dropLoops creates n loops and forgets them. With live, each has a task
// sleeping for an hour, a repeating timer and a pending post: nothing the
// binding registers may keep a loop reachable.
func dropLoops(t *testing.T, n int, live bool) {
	t.Helper()
	for i := 0; i < n; i++ {
		l, err := NewLoop()
		if err != nil {
			t.Fatal(err)
		}
		if !live {
			continue
		}
		l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Sleep(time.Hour)
			}
			return Done(st)
		})
		l.NewTimer(time.Hour, time.Hour, func(*Timer) {})
		if _, err := l.RunNoWait(); err != nil {
			t.Fatal(err)
		}
		l.Post(func() {})
	}
}

func TestDroppedLoopsAreClosedByTheCollector(t *testing.T) {
	for _, live := range []bool{false, true} {
		before, handles := openFDs(t), LiveHandles()
		dropLoops(t, 1000, live)
		if n := openFDs(t); n < before+2000 {
			t.Fatalf("live %v: %d fds for 1000 loops, want 2 each", live, n-before)
		}
		waitFor(t, func() bool {
			runtime.GC()
			return openFDs(t) <= before && LiveHandles() == handles
		})
	}
}

// A Task that is reachable keeps its result in weft, across collections;
// one that is not is released (here: while it still runs, which detaches
// it, and it runs to its end).
func TestTaskIdLivesWhileReachable(t *testing.T) {
	l := newLoop(t)
	kept, _ := l.Spawn(func(*Task, int) Step { return Done(7) })
	finished := false
	l.Spawn(func(tk *Task, st int) Step { // dropped at once
		if tk.Steps() < 3 {
			return tk.Sleep(time.Millisecond)
		}
		finished = true
		return Done(0)
	})
	waitFor(t, func() bool {
		runtime.GC()
		_, err := l.RunNoWait()
		if err != nil {
			t.Fatal(err)
		}
		return finished && LiveHandles() == 1 // only kept's
	})
	runtime.GC()
	run(t, l)
	if r, err := kept.Result(); r != 7 || err != nil {
		t.Fatal(r, err)
	}
}

// Cancelling a task that finished long ago reaches nothing else: its id
// stays its own while the Task is reachable, however many tasks came after.
func TestCancelOfALongFinishedTask(t *testing.T) {
	l := newLoop(t)
	old, _ := l.Spawn(func(*Task, int) Step { return Done(1) })
	run(t, l)
	var others []*Task
	for i := 0; i < 100; i++ {
		o, _ := l.Spawn(func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Yield()
			}
			return Done(st)
		})
		others = append(others, o)
	}
	if err := old.Cancel(); err != nil {
		t.Fatal(err)
	}
	run(t, l)
	if r, err := old.Result(); r != 1 || err != nil {
		t.Fatal(r, err)
	}
	for _, o := range others {
		if r, err := o.Result(); r != 0 || err != nil {
			t.Fatal("another task was reached:", r, err)
		}
	}
}

// A step that arms ToThread and finishes anyway leaves the work running;
// its handle goes back when the work ends, not at Close.
func TestOrphanedWorkIsReleasedWhenItEnds(t *testing.T) {
	l := newLoop(t)
	gate := make(chan struct{})
	started := make(chan struct{})
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		tk.ToThread(func() int { close(started); <-gate; return 0 })
		<-started
		return Done(3)
	})
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	if n := LiveHandles(); n != 2 { // the task and its orphaned work
		t.Fatalf("%d handles, want 2", n)
	}
	close(gate)
	run(t, l) // the loop waits for the work
	if n := LiveHandles(); n != 1 {
		t.Fatalf("%d handles after the work ended, want 1 (the task)", n)
	}
	if r, _ := tk.Result(); r != 3 {
		t.Fatal(r)
	}
}

// Awaiting a task that finished long ago, and a group whose child already
// failed: the core's rules, with no Go bookkeeping in between.
func TestAwaitFinishedTasksThroughTheCore(t *testing.T) {
	l := newLoop(t)
	ok, _ := l.Spawn(func(*Task, int) Step { return Done(5) })
	bad, _ := l.Spawn(func(*Task, int) Step { return Done(int(ErrInval)) })
	run(t, l)
	var got []int
	l.Spawn(func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			return tk.Await(ok)
		case 2:
			got = append(got, st)
			return tk.Group(ok, bad)
		default:
			got = append(got, st)
			return Done(0)
		}
	})
	run(t, l)
	if len(got) != 2 || got[0] != 5 || got[1] != int(ErrInval) {
		t.Fatal(got)
	}
}

func TestRunNilContext(t *testing.T) {
	l := newLoop(t)
	tk, _ := l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Sleep(time.Millisecond)
		}
		return Done(2)
	})
	//nolint:staticcheck // a nil Context is what this test is about
	if err := l.Run(nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := tk.Result(); r != 2 {
		t.Fatal(r)
	}
	if err := l.Run(context.TODO()); err != nil {
		t.Fatal(err)
	}
}
