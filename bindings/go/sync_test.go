package weft

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// spawn spawns fn or fails the test.
func spawn(t *testing.T, l *Loop, fn StepFunc) *Task {
	t.Helper()
	tk, err := l.Spawn(fn)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// waiter spawns a task that arms arm in its first step and appends its
// name and the status of that await to log; then, if next is true, it also
// records the status of a following Yield (where a cancellation or timeout
// that came after the grant shows up).
func waiter(t *testing.T, l *Loop, log *[]string, name string, arm func(*Task) Step, next bool) *Task {
	return spawn(t, l, func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			return arm(tk)
		case 2:
			*log = append(*log, fmt.Sprintf("%s:%d", name, st))
			if next {
				return tk.Yield()
			}
			return Done(st)
		default:
			*log = append(*log, fmt.Sprintf("%s.next:%d", name, st))
			return Done(st)
		}
	})
}

// after spawns a task that yields once (so that the tasks spawned before it
// have armed their awaits) and then runs fn.
func after(t *testing.T, l *Loop, fn func()) {
	spawn(t, l, func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Yield()
		}
		fn()
		return Done(0)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantLog(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
}

var closed = fmt.Sprint(int(ErrPrimClosed))
var canceled = fmt.Sprint(int(ErrCanceled))
var timedOut = fmt.Sprint(int(ErrTimedOut))

func TestEvent(t *testing.T) {
	l := newLoop(t)
	e, err := l.NewEvent()
	must(t, err)
	if e.IsSet() {
		t.Fatal("new event is set")
	}
	var log []string
	for _, n := range []string{"a", "b", "c"} {
		waiter(t, l, &log, n, func(tk *Task) Step { return tk.Wait(e) }, false)
	}
	after(t, l, func() { must(t, e.Set()); must(t, e.Set()) })
	run(t, l)
	wantLog(t, log, "a:0", "b:0", "c:0")
	if !e.IsSet() {
		t.Fatal("not set")
	}
	log = nil
	waiter(t, l, &log, "set", func(tk *Task) Step { return tk.Wait(e) }, false)
	run(t, l)
	wantLog(t, log, "set:0")
	must(t, e.Clear())
	if e.IsSet() {
		t.Fatal("set after Clear")
	}
	log = nil
	waiter(t, l, &log, "a", func(tk *Task) Step { return tk.Wait(e) }, false)
	waiter(t, l, &log, "b", func(tk *Task) Step { return tk.Wait(e) }, false)
	after(t, l, func() { must(t, e.Free()) })
	run(t, l)
	wantLog(t, log, "a:"+closed, "b:"+closed)
	wantErr(t, e.Set(), ErrStale)
	wantErr(t, e.Free(), ErrStale)
	wantErr(t, e.Clear(), ErrStale)
	log = nil
	waiter(t, l, &log, "stale", func(tk *Task) Step { return tk.Wait(e) }, false)
	waiter(t, l, &log, "nil", func(tk *Task) Step { return tk.Wait(nil) }, false)
	run(t, l)
	if len(log) != 0 { // an await that fails to arm finishes the task with its code
		t.Fatalf("log %q", log)
	}
	if !errors.Is(ErrPrimClosed, ErrClosed) {
		t.Fatal("ErrPrimClosed does not match ErrClosed")
	}
}

// An await on a nil primitive arms nothing and returns ErrInval, which
// finishes the task with it.
func TestAwaitNilPrimitive(t *testing.T) {
	l := newLoop(t)
	for name, arm := range map[string]func(*Task) Step{
		"Wait":    func(tk *Task) Step { return tk.Wait(nil) },
		"Acquire": func(tk *Task) Step { return tk.Acquire(nil) },
		"Lock":    func(tk *Task) Step { return tk.Lock(nil) },
		"Get":     func(tk *Task) Step { return tk.Get(nil) },
		"Put":     func(tk *Task) Step { return tk.Put(nil, 1) },
	} {
		var got Step
		tk := spawn(t, l, func(tk *Task, _ int) Step { got = arm(tk); return got })
		run(t, l)
		if r, err := tk.Result(); got != Step(ErrInval) || r != int(ErrInval) {
			t.Errorf("%s(nil): step %d, result %d (%v)", name, got, r, err)
		}
	}
}

func TestEventCancelAndTimeout(t *testing.T) {
	l := newLoop(t)
	e, err := l.NewEvent()
	must(t, err)
	var log []string
	a := waiter(t, l, &log, "cancelled", func(tk *Task) Step { return tk.Wait(e) }, false)
	b := waiter(t, l, &log, "timedout", func(tk *Task) Step { return tk.Wait(e) }, false)
	after(t, l, func() { must(t, a.Cancel()); must(t, b.SetTimeout(1000)) })
	run(t, l)
	wantLog(t, log, "cancelled:"+canceled, "timedout:"+timedOut)
	// Set, then cancel in the same step: the waiter had its grant.
	log = nil
	c := waiter(t, l, &log, "c", func(tk *Task) Step { return tk.Wait(e) }, true)
	after(t, l, func() { must(t, e.Set()); must(t, c.Cancel()) })
	run(t, l)
	wantLog(t, log, "c:0", "c.next:"+canceled)
}

func TestSemaphoreFIFOAndErrors(t *testing.T) {
	l := newLoop(t)
	_, err := l.NewSemaphore(-1)
	wantErr(t, err, ErrInval)
	s, err := l.NewBoundedSemaphore(1)
	must(t, err)
	must(t, s.TryAcquire())
	wantErr(t, s.TryAcquire(), ErrAgain)
	var log []string
	for _, n := range []string{"a", "b", "c"} {
		waiter(t, l, &log, n, func(tk *Task) Step { return tk.Acquire(s) }, false)
	}
	after(t, l, func() {
		must(t, s.Release()) // to a
		wantErr(t, s.TryAcquire(), ErrAgain)
		if v, _ := s.Value(); v != 0 {
			t.Errorf("value %d while tasks wait", v)
		}
		must(t, s.Release()) // to b
		must(t, s.Release()) // to c
		must(t, s.Release()) // back to its initial count
		wantErr(t, s.Release(), ErrInval)
	})
	run(t, l)
	wantLog(t, log, "a:0", "b:0", "c:0")
	must(t, s.TryAcquire())
	log = nil
	waiter(t, l, &log, "x", func(tk *Task) Step { return tk.Acquire(s) }, false)
	after(t, l, func() { must(t, s.Free()) })
	run(t, l)
	wantLog(t, log, "x:"+closed)
	wantErr(t, s.Release(), ErrStale)
	_, err = s.Value()
	wantErr(t, err, ErrStale)
}

func TestSemaphoreCancelAndTimeout(t *testing.T) {
	l := newLoop(t)
	s, err := l.NewSemaphore(0)
	must(t, err)
	var log []string
	a := waiter(t, l, &log, "a", func(tk *Task) Step { return tk.Acquire(s) }, true)
	b := waiter(t, l, &log, "b", func(tk *Task) Step { return tk.Acquire(s) }, true)
	after(t, l, func() { must(t, a.Cancel()); must(t, b.SetTimeout(1000)) })
	run(t, l)
	wantLog(t, log, "a:"+canceled, "b:"+timedOut, "a.next:0", "b.next:0")
	if v, _ := s.Value(); v != 0 {
		t.Fatalf("a cancelled waiter took something: value %d", v)
	}
	// Granted, then cancelled / timed out: the waiter holds the permit and
	// gets the cancellation or timeout from its next await.
	log = nil
	c := waiter(t, l, &log, "c", func(tk *Task) Step { return tk.Acquire(s) }, true)
	d := waiter(t, l, &log, "d", func(tk *Task) Step { return tk.Acquire(s) }, true)
	after(t, l, func() {
		must(t, s.Release())
		must(t, c.Cancel())
		must(t, s.Release())
		must(t, d.SetTimeout(1))
	})
	run(t, l)
	wantLog(t, log, "c:0", "d:0", "c.next:"+canceled, "d.next:"+timedOut)
	if v, _ := s.Value(); v != 0 {
		t.Fatalf("value %d, want 0 (both permits held)", v)
	}
}

func TestWithPermitBoundsConcurrency(t *testing.T) {
	l := newLoop(t)
	s, err := l.NewSemaphore(2)
	must(t, err)
	active, peak, done := 0, 0, 0
	for i := 0; i < 8; i++ {
		spawn(t, l, func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.WithPermit(s, func(c *Task, st int) Step {
					if c.Steps() == 2 { // the body's first step (step 1 acquired)
						active++
						peak = max(peak, active)
						return c.Yield()
					}
					active--
					return Done(7)
				})
			}
			if st != 7 {
				t.Errorf("WithPermit resumed with %d", st)
			}
			done++
			return Done(0)
		})
	}
	run(t, l)
	if peak != 2 || done != 8 || active != 0 {
		t.Fatalf("peak %d done %d active %d", peak, done, active)
	}
	if v, _ := s.Value(); v != 2 {
		t.Fatalf("value %d: permits not returned", v)
	}
	var log []string
	waiter(t, l, &log, "nil", func(tk *Task) Step { return tk.WithPermit(nil, nil) }, false)
	run(t, l)
	wantLog(t, log)
}

func TestLock(t *testing.T) {
	l := newLoop(t)
	lk, err := l.NewLock()
	must(t, err)
	var log []string
	var holder *Task
	holder = spawn(t, l, func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			return tk.Lock(lk)
		case 2:
			log = append(log, fmt.Sprintf("h:%d", st))
			wantErr(t, lk.TryAcquire(tk), ErrInval) // not reentrant
			return tk.Lock(lk)                      // ErrInval: finishes holding the lock
		}
		return Done(st)
	})
	var ws []*Task
	for _, n := range []string{"a", "b"} {
		n := n
		var w *Task
		w = waiter(t, l, &log, n, func(tk *Task) Step { return tk.Lock(lk) }, false)
		ws = append(ws, w)
	}
	after(t, l, func() {
		if o, _ := lk.Owner(); o != holder.ID() {
			t.Errorf("owner %d, want %d", o, holder.ID())
		}
		wantErr(t, lk.TryAcquire(ws[0]), ErrAgain)
		wantErr(t, lk.Release(ws[0]), ErrInval)
		wantErr(t, lk.Release(nil), ErrInval)
		must(t, lk.Release(holder)) // to a
		if o, _ := lk.Owner(); o != ws[0].ID() {
			t.Errorf("owner %d, want a", o)
		}
		after(t, l, func() { must(t, lk.Release(ws[0])) }) // a finished holding it
	})
	run(t, l)
	wantLog(t, log, "h:0", "a:0", "b:0")
	// b holds it; a waiter is resumed by Free.
	waiter(t, l, &log, "c", func(tk *Task) Step { return tk.Lock(lk) }, false)
	after(t, l, func() { must(t, lk.Free()) })
	run(t, l)
	wantLog(t, log, "h:0", "a:0", "b:0", "c:"+closed)
	_, err = lk.Owner()
	wantErr(t, err, ErrStale)
}

func TestLockCancelAndWithLock(t *testing.T) {
	l := newLoop(t)
	lk, err := l.NewLock()
	must(t, err)
	var log []string
	owner := spawn(t, l, func(tk *Task, st int) Step { return Done(0) })
	run(t, l)
	must(t, lk.TryAcquire(owner))
	a := waiter(t, l, &log, "a", func(tk *Task) Step { return tk.Lock(lk) }, true)
	b := waiter(t, l, &log, "b", func(tk *Task) Step { return tk.Lock(lk) }, true)
	after(t, l, func() {
		must(t, a.Cancel())        // before its grant
		must(t, lk.Release(owner)) // to b
		must(t, b.Cancel())        // after its grant
	})
	run(t, l)
	wantLog(t, log, "a:"+canceled, "b:0", "a.next:0", "b.next:"+canceled)
	if o, _ := lk.Owner(); o != b.ID() {
		t.Fatalf("owner %d, want b", o)
	}
	must(t, lk.Release(b))
	inside := 0
	for i := 0; i < 3; i++ {
		spawn(t, l, func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.WithLock(lk, func(c *Task, st int) Step {
					if c.Steps() == 2 {
						inside++
						if inside != 1 {
							t.Errorf("%d tasks inside the lock", inside)
						}
						return c.Yield()
					}
					inside--
					return Done(0)
				})
			}
			return Done(st)
		})
	}
	run(t, l)
	if o, _ := lk.Owner(); o != 0 {
		t.Fatalf("lock still held by %d", o)
	}
}

func TestQueueCarriesGoValues(t *testing.T) {
	l := newLoop(t)
	_, err := l.NewQueue(-1, nil)
	wantErr(t, err, ErrInval)
	q, err := l.NewQueue(2, nil)
	must(t, err)
	type point struct{ x, y int }
	vals := []any{"s", 42, &point{1, 2}, []byte("b"), nil, point{3, 4}}
	var got []any
	spawn(t, l, func(tk *Task, st int) Step { // producer
		if st != 0 {
			t.Errorf("put: %d", st)
		}
		if i := tk.Steps() - 1; i < len(vals) {
			return tk.Put(q, vals[i])
		}
		must(t, q.Close(false))
		return Done(0)
	})
	spawn(t, l, func(tk *Task, st int) Step { // consumer
		if tk.Steps() > 1 {
			if st != 0 {
				if st != int(ErrPrimClosed) {
					t.Errorf("get: %d", st)
				}
				return Done(0)
			}
			v, ok := tk.Item()
			if !ok {
				t.Error("no item")
			}
			got = append(got, v)
		}
		return tk.Get(q)
	})
	run(t, l)
	if !reflect.DeepEqual(got, vals) {
		t.Fatalf("got %v, want %v", got, vals)
	}
	if len(q.items) != 0 {
		t.Fatalf("table holds %d values", len(q.items))
	}
	wantErr(t, q.TryPut(1), ErrPrimClosed)
	_, err = q.TryGet()
	wantErr(t, err, ErrPrimClosed)
	must(t, q.Free())
	wantErr(t, q.Free(), ErrStale)
}

func TestQueueTryAndFIFO(t *testing.T) {
	l := newLoop(t)
	q, err := l.NewQueue(1, nil)
	must(t, err)
	_, err = q.TryGet()
	wantErr(t, err, ErrAgain)
	must(t, q.TryPut("x"))
	wantErr(t, q.TryPut("y"), ErrAgain)
	if n, _ := q.Len(); n != 1 {
		t.Fatalf("len %d", n)
	}
	var log []string
	for _, n := range []string{"a", "b", "c"} { // putters wait, in order
		n := n
		waiter(t, l, &log, n, func(tk *Task) Step { return tk.Put(q, n) }, false)
	}
	var got []any
	after(t, l, func() {
		wantErr(t, q.TryPut("z"), ErrAgain)
		for i := 0; i < 4; i++ {
			v, err := q.TryGet() // moves the oldest putter's value in
			must(t, err)
			got = append(got, v)
		}
	})
	run(t, l)
	wantLog(t, log, "a:0", "b:0", "c:0")
	if !reflect.DeepEqual(got, []any{"x", "a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
	// getters wait, in order; a try-put hands to the oldest.
	log = nil
	var items []any
	for _, n := range []string{"a", "b"} {
		n := n
		spawn(t, l, func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Get(q)
			}
			v, _ := tk.Item()
			items = append(items, fmt.Sprint(n, "=", v))
			return Done(0)
		})
	}
	after(t, l, func() { must(t, q.TryPut(1)); must(t, q.TryPut(2)) })
	run(t, l)
	if !reflect.DeepEqual(items, []any{"a=1", "b=2"}) {
		t.Fatalf("items %v", items)
	}
	if len(q.items) != 0 {
		t.Fatalf("table holds %d values", len(q.items))
	}
}

func TestQueueCancelAndTimeout(t *testing.T) {
	l := newLoop(t)
	q, err := l.NewQueue(1, nil)
	must(t, err)
	var log []string
	// Getters cancelled / timed out before a grant take nothing.
	a := waiter(t, l, &log, "a", func(tk *Task) Step { return tk.Get(q) }, false)
	b := waiter(t, l, &log, "b", func(tk *Task) Step { return tk.Get(q) }, false)
	after(t, l, func() { must(t, a.Cancel()); must(t, b.SetTimeout(1000)) })
	run(t, l)
	wantLog(t, log, "a:"+canceled, "b:"+timedOut)
	// A getter granted, then cancelled, receives the item.
	log = nil
	var got any
	c := spawn(t, l, func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			return tk.Get(q)
		case 2:
			got, _ = tk.Item()
			log = append(log, fmt.Sprint("c:", st))
			return tk.Yield()
		}
		log = append(log, fmt.Sprint("c.next:", st))
		return Done(0)
	})
	after(t, l, func() { must(t, q.TryPut("gift")); must(t, c.Cancel()) })
	run(t, l)
	wantLog(t, log, "c:0", "c.next:"+canceled)
	if got != "gift" {
		t.Fatalf("got %v", got)
	}
	// Putters: one cancelled before its grant (its value stays its own), one
	// granted then timed out (its value is in the queue).
	must(t, q.TryPut("full"))
	log = nil
	p := waiter(t, l, &log, "p", func(tk *Task) Step { return tk.Put(q, "p") }, true)
	r := waiter(t, l, &log, "r", func(tk *Task) Step { return tk.Put(q, "r") }, true)
	after(t, l, func() {
		must(t, p.Cancel())
		v, err := q.TryGet() // r's value moves in
		must(t, err)
		if v != "full" {
			t.Errorf("got %v", v)
		}
		must(t, r.SetTimeout(1))
	})
	run(t, l)
	wantLog(t, log, "p:"+canceled, "r:0", "p.next:0", "r.next:"+timedOut)
	v, err := q.TryGet()
	must(t, err)
	if v != "r" || len(q.items) != 0 {
		t.Fatalf("got %v, table %v", v, q.items)
	}
}

// A Put whose step finishes the task instead of returning it: a value not
// put by then goes to onDrop (once the task finished) and leaves the table;
// one put at once stays in the queue.
func TestQueueAbandonedPut(t *testing.T) {
	l := newLoop(t)
	var dropped []any
	q, err := l.NewQueue(2, func(v any) { dropped = append(dropped, v) })
	must(t, err)
	must(t, q.TryPut("full"))
	for _, v := range []string{"room", "waits"} {
		spawn(t, l, func(tk *Task, st int) Step {
			tk.Put(q, v)
			return Done(0)
		})
	}
	run(t, l)
	if !reflect.DeepEqual(dropped, []any{"waits"}) || len(q.items) != 2 {
		t.Fatalf("dropped %v, table %v", dropped, q.items)
	}
	for _, want := range []string{"full", "room"} {
		if v, err := q.TryGet(); err != nil || v != want {
			t.Fatalf("got %v, %v; want %v", v, err, want)
		}
	}
	if len(q.items) != 0 {
		t.Fatalf("table %v", q.items)
	}
}

func TestQueueCloseAndFreeDropOnce(t *testing.T) {
	l := newLoop(t)
	var dropped []any
	drop := func(v any) { dropped = append(dropped, v) }
	q, err := l.NewQueue(2, drop)
	must(t, err)
	must(t, q.TryPut(1))
	must(t, q.TryPut(2))
	var log []string
	waiter(t, l, &log, "putter", func(tk *Task) Step { return tk.Put(q, 3) }, false)
	after(t, l, func() { must(t, q.Close(true)); must(t, q.Close(true)) })
	run(t, l)
	wantLog(t, log, "putter:"+closed)
	if !reflect.DeepEqual(dropped, []any{1, 2}) || len(q.items) != 0 {
		t.Fatalf("dropped %v, table %v", dropped, q.items)
	}
	// A plain close keeps the items for the getters, then they get closed.
	q2, err := l.NewQueue(0, drop)
	must(t, err)
	must(t, q2.TryPut("a"))
	must(t, q2.Close(false))
	log = nil
	spawn(t, l, func(tk *Task, st int) Step {
		if tk.Steps() > 1 {
			v, _ := tk.Item()
			log = append(log, fmt.Sprintf("%d%v", st, v))
			if st != 0 {
				return Done(0)
			}
		}
		return tk.Get(q2)
	})
	run(t, l)
	wantLog(t, log, "0a", closed+"<nil>")
	// Free drops what is queued and resumes waiters; the loop's Close drops
	// what a live queue holds.
	dropped = nil
	q3, err := l.NewQueue(0, drop)
	must(t, err)
	must(t, q3.TryPut("f1"))
	must(t, q3.TryPut("f2"))
	must(t, q3.Free())
	q4, err := l.NewQueue(1, drop)
	must(t, err)
	must(t, q4.TryPut("waiting"))
	log = nil
	waiter(t, l, &log, "w", func(tk *Task) Step { return tk.Put(q4, "w") }, false)
	after(t, l, func() { must(t, q4.Free()) })
	run(t, l)
	wantLog(t, log, "w:"+closed)
	q5, err := l.NewQueue(0, func(v any) { dropped = append(dropped, v); panic("drop") })
	must(t, err)
	must(t, q5.TryPut("at close"))
	if !reflect.DeepEqual(dropped, []any{"f1", "f2", "waiting"}) {
		t.Fatalf("dropped %v", dropped)
	}
	_ = l.Close() // the panic in onDrop is recovered
	if !reflect.DeepEqual(dropped, []any{"f1", "f2", "waiting", "at close"}) {
		t.Fatalf("dropped %v", dropped)
	}
	for _, x := range []*Queue{q, q2, q3, q4, q5} {
		if len(x.items) != 0 {
			t.Fatalf("table holds %v", x.items)
		}
	}
	wantErr(t, q5.TryPut(1), ErrClosed)
}

func TestFirst(t *testing.T) {
	l := newLoop(t)
	evs := make([]*Event, 3)
	tasks := make([]*Task, 3)
	for i := range evs {
		var err error
		evs[i], err = l.NewEvent()
		must(t, err)
		e := evs[i]
		tasks[i] = spawn(t, l, func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				return tk.Wait(e)
			}
			return Done(10 + st)
		})
	}
	var idx []int
	spawn(t, l, func(tk *Task, st int) Step {
		switch tk.Steps() {
		case 1:
			return tk.First(tasks...)
		case 2:
			idx = append(idx, st)
			return tk.First(tasks[0], tasks[2], tasks[2]) // tasks[2] is index 1
		case 3:
			idx = append(idx, st)
			// already finished: at once, lowest index
			return tk.First(tasks[0], tasks[1], tasks[2])
		}
		idx = append(idx, st)
		must(t, evs[0].Set())
		return Done(0)
	})
	after(t, l, func() { must(t, evs[1].Set()) })
	spawn(t, l, func(tk *Task, st int) Step { // sets evs[2] once tasks[1] is done
		if tk.Steps() == 1 {
			return tk.Await(tasks[1])
		}
		if tk.Steps() == 2 {
			return tk.Yield()
		}
		must(t, evs[2].Set())
		return Done(0)
	})
	run(t, l)
	if !reflect.DeepEqual(idx, []int{1, 1, 1}) {
		t.Fatalf("indexes %v", idx)
	}
	var log []string
	waiter(t, l, &log, "empty", func(tk *Task) Step { return tk.First() }, false)
	waiter(t, l, &log, "nil", func(tk *Task) Step { return tk.First(nil) }, false)
	run(t, l)
	wantLog(t, log)
	if r, _ := tasks[0].Result(); r != 10 {
		t.Fatalf("task 0 result %d", r)
	}
}

// TestQueueRandomNoLossNoDup: producers, consumers and random cancellations
// on a small queue; every value ends up received, dropped at close or kept
// by its putter, exactly once.
func TestQueueRandomNoLossNoDup(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		l := newLoop(t)
		rng := rand.New(rand.NewSource(seed))
		seen := map[int]string{}
		mark := func(v int, how string) {
			if old, ok := seen[v]; ok {
				t.Fatalf("seed %d: value %d %s, already %s", seed, v, how, old)
			}
			seen[v] = how
		}
		q, err := l.NewQueue(1+rng.Intn(3), func(v any) { mark(v.(int), "dropped") })
		must(t, err)
		var tasks []*Task
		const producers, per = 4, 50
		for p := 0; p < producers; p++ {
			p := p
			i := 0
			tasks = append(tasks, spawn(t, l, func(tk *Task, st int) Step {
				if tk.Steps() > 1 {
					if st != 0 {
						mark(p*per+i, "kept")
						// the remaining values were never put
						for i++; i < per; i++ {
							mark(p*per+i, "kept")
						}
						return Done(0)
					}
					i++
				}
				if i == per {
					return Done(0)
				}
				return tk.Put(q, p*per+i)
			}))
		}
		for c := 0; c < 3; c++ {
			tasks = append(tasks, spawn(t, l, func(tk *Task, st int) Step {
				if tk.Steps() > 1 {
					if st != 0 {
						return Done(0)
					}
					v, _ := tk.Item()
					mark(v.(int), "received")
				}
				return tk.Get(q)
			}))
		}
		spawn(t, l, func(tk *Task, st int) Step { // cancels at random, then closes
			if tk.Steps() < 40 {
				if rng.Intn(4) == 0 {
					_ = tasks[rng.Intn(len(tasks))].Cancel()
				}
				return tk.Yield()
			}
			must(t, q.Close(true))
			return Done(0)
		})
		run(t, l)
		if len(seen) != producers*per {
			t.Fatalf("seed %d: %d values accounted for, want %d", seed, len(seen), producers*per)
		}
		if len(q.items) != 0 {
			t.Fatalf("seed %d: table holds %d", seed, len(q.items))
		}
	}
}

// A primitive the program drops is freed on the loop thread once
// collected: a task still waiting on it (nothing could wake it any more)
// resumes with ErrPrimClosed, and a dropped Queue's values reach onDrop.
func TestDroppedPrimitivesAreFreedByTheCollector(t *testing.T) {
	l := newLoop(t)
	var dropped []any
	arms := map[string]func(tk *Task) Step{
		"event": func(tk *Task) Step { e, err := l.NewEvent(); must(t, err); return tk.Wait(e) },
		"semaphore": func(tk *Task) Step {
			s, err := l.NewSemaphore(0)
			must(t, err)
			return tk.Acquire(s)
		},
		"lock": func(tk *Task) Step { // held by a task that finished at once
			lk, err := l.NewLock()
			must(t, err)
			holder := spawn(t, l, func(*Task, int) Step { return Done(0) })
			must(t, lk.TryAcquire(holder))
			return tk.Lock(lk)
		},
		"queue": func(tk *Task) Step {
			q, err := l.NewQueue(0, func(v any) { dropped = append(dropped, v) })
			must(t, err)
			must(t, q.TryPut("kept"))
			q2, err := l.NewQueue(1, nil)
			must(t, err)
			return tk.Get(q2)
		},
	}
	var log []string
	waiting := len(arms)
	for name, arm := range arms {
		spawn(t, l, func(tk *Task, st int) Step {
			if tk.Steps() == 1 {
				tk.SetTimeout(10 * time.Second) // only if the cleanup never comes
				return arm(tk)
			}
			log = append(log, fmt.Sprintf("%s:%d", name, st))
			waiting--
			return Done(0)
		})
	}
	arms = nil
	_, err := l.NewTimer(time.Millisecond, time.Millisecond, func(tm *Timer) {
		runtime.GC()
		if waiting == 0 && (len(dropped) == 1 || strings.Contains(fmt.Sprint(log), timedOut)) {
			tm.Stop()
		}
	})
	must(t, err)
	run(t, l)
	sort.Strings(log)
	wantLog(t, log, "event:"+closed, "lock:"+closed, "queue:"+closed, "semaphore:"+closed)
	if !reflect.DeepEqual(dropped, []any{"kept"}) {
		t.Fatalf("dropped %v, want [kept]", dropped)
	}
}
