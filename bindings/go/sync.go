package weft

import (
	"errors"
	"runtime"
	"runtime/cgo"

	"example.invalid/weft/internal/cweft"
)

// ErrPrimClosed is the status an await on an Event, Semaphore, Lock or
// Queue resumes with when the primitive is freed (or the queue closed)
// while waiting, and the error of a put into a closed queue or a get from a
// closed, empty one. It is weft's WEFT_ECLOSED, the same code as
// ErrSocketClosed, and matches ErrClosed with errors.Is.
const ErrPrimClosed = ErrSocketClosed

// newPrim is every primitive's constructor: c creates it (writing its id
// to out), wrap makes its Go value, and a cleanup frees it with free on the
// loop thread once that value is collected (ErrStale if freed already).
func newPrim[T any](l *Loop, op string, c func(loop uintptr, out *int64) int,
	free func(loop uintptr, id int64) int, wrap func(handle) *T) (*T, error) {
	var id int64
	if err := l.call(op, func(lp uintptr) int { return c(lp, &id) }); err != nil {
		return nil, err
	}
	h := handle{loop: l.loopCore, id: id}
	v := wrap(h)
	runtime.AddCleanup(v, func(h handle) { h.loop.later(func() { h.do("", free) }) }, h)
	return v, nil
}

// ------------------------------------------------------------------ Event

// Event is a flag that tasks wait for (asyncio.Event), initially clear. The
// package doc (Synchronisation) has the rules and errors of every primitive.
type Event struct{ handle }

// NewEvent creates a clear event. Errors: ErrNoMem.
func (l *Loop) NewEvent() (*Event, error) {
	return newPrim(l, "event_new", cweft.Weft_event_new, cweft.Weft_event_free,
		func(h handle) *Event { return &Event{h} })
}

// Set sets the event and resumes every waiting task with 0, in the order
// they began to wait; setting a set event does nothing.
func (e *Event) Set() error { return e.do("event_set", cweft.Weft_event_set) }

// Clear clears the event; tasks already resumed stay resumed.
func (e *Event) Clear() error { return e.do("event_clear", cweft.Weft_event_clear) }

// IsSet reports whether the event is set (false on error).
func (e *Event) IsSet() bool {
	set := false
	_ = e.do("event_is_set", func(c uintptr, id int64) int {
		rc := cweft.Weft_event_is_set(c, id)
		set = rc == 1
		return rc
	})
	return set
}

// Free frees the event; waiting tasks resume with ErrPrimClosed.
func (e *Event) Free() error { return e.do("event_free", cweft.Weft_event_free) }

// Wait suspends the task until e is set (at once, in the next iteration,
// if it is set now) and resumes it with 0, or with ErrPrimClosed if e is
// freed first. Errors: ErrInval (nil e).
func (t *Task) Wait(e *Event) Step { return awaitOn(t, e, cweft.Weft_await_event) }

// -------------------------------------------------------------- Semaphore

// Semaphore is a count of permits (asyncio.Semaphore; BoundedSemaphore with
// NewBoundedSemaphore). A permit is not owned by a task: any code may
// release one. Rules and errors: as for Event.
type Semaphore struct{ handle }

// NewSemaphore creates a semaphore holding permits (>= 0) permits. Errors:
// ErrInval (permits < 0), ErrNoMem.
func (l *Loop) NewSemaphore(permits int64) (*Semaphore, error) { return l.newSem(permits, 0) }

// NewBoundedSemaphore is NewSemaphore where releasing beyond the initial
// count is ErrInval (asyncio.BoundedSemaphore).
func (l *Loop) NewBoundedSemaphore(permits int64) (*Semaphore, error) {
	return l.newSem(permits, cweft.WEFT_SEMAPHORE_BOUNDED)
}

func (l *Loop) newSem(permits int64, flags int) (*Semaphore, error) {
	return newPrim(l, "semaphore_new", func(c uintptr, out *int64) int {
		return cweft.Weft_semaphore_new(c, permits, flags, out)
	}, cweft.Weft_semaphore_free, func(h handle) *Semaphore { return &Semaphore{h} })
}

// Release returns one permit: to the oldest waiting task, whose Acquire
// resumes with 0, or to the count. Errors: ErrInval (a bounded semaphore
// would exceed its initial count).
func (s *Semaphore) Release() error { return s.do("semaphore_release", cweft.Weft_semaphore_release) }

// TryAcquire takes a permit without waiting. Errors: ErrAgain (none free,
// or a task waits for one).
func (s *Semaphore) TryAcquire() error {
	return s.do("semaphore_try_acquire", cweft.Weft_semaphore_try_acquire)
}

// Value returns the number of free permits (0 while tasks wait).
func (s *Semaphore) Value() (int64, error) {
	return get(&s.handle, "semaphore_value", cweft.Weft_semaphore_value)
}

// Free frees the semaphore; waiting tasks resume with ErrPrimClosed.
func (s *Semaphore) Free() error { return s.do("semaphore_free", cweft.Weft_semaphore_free) }

// Acquire suspends the task until it holds a permit of s (at once if one is
// free and nobody waits) and resumes it with 0, or with ErrPrimClosed if s
// is freed first. Errors: ErrInval (nil s).
func (t *Task) Acquire(s *Semaphore) Step { return awaitOn(t, s, cweft.Weft_await_semaphore) }

// WithPermit runs body as the steps of a new task that holds a permit of s
// for as long as body runs: the permit is released when body finishes
// (returns anything but a pending await, or panics). t awaits that task
// and resumes with its result, or with the error Acquire resumed with
// (ErrPrimClosed, ErrCanceled...). body gets status 0 in its first step.
// Cancelling t cancels only t's await; call Cancel on the task to stop
// body. Errors as for Await, plus those of Spawn.
func (t *Task) WithPermit(s *Semaphore, body StepFunc) Step {
	if s == nil || body == nil {
		return Step(ErrInval)
	}
	return t.scoped(func(c *Task) Step { return c.Acquire(s) },
		func(*Task) { _ = s.Release() }, body)
}

// scoped spawns the task behind WithPermit and WithLock and awaits it.
func (t *Task) scoped(acquire func(c *Task) Step, release func(c *Task), body StepFunc) Step {
	child, err := t.loop.Spawn(func(c *Task, status int) Step {
		if status < 0 {
			return Done(status)
		}
		c.Then(func(c *Task, status int) Step {
			if status < 0 {
				return Done(status)
			}
			c.onDone = func() { release(c) }
			c.Then(body)
			return body(c, 0)
		})
		return acquire(c)
	})
	if err != nil {
		return Step(errCode(err))
	}
	return t.Await(child)
}

// errCode is the weft code behind err (ErrHost when there is none).
func errCode(err error) int {
	if e := Errno(0); errors.As(err, &e) {
		return int(e)
	}
	return int(ErrHost)
}

// ------------------------------------------------------------------- Lock

// Lock is mutual exclusion between tasks (asyncio.Lock), owned by the task
// that holds it; it is not reentrant. Rules and errors: as for Event.
type Lock struct{ handle }

// NewLock creates an unlocked lock. Errors: ErrNoMem.
func (l *Loop) NewLock() (*Lock, error) {
	return newPrim(l, "lock_new", cweft.Weft_lock_new, cweft.Weft_lock_free,
		func(h handle) *Lock { return &Lock{h} })
}

// TryAcquire locks it for owner (a live task of the loop) without waiting.
// Errors: ErrAgain (held, or a task waits for it), ErrInval (owner nil or
// already holding it), ErrStale (owner not live).
func (lk *Lock) TryAcquire(owner *Task) error {
	return lk.owned("lock_try_acquire", owner, cweft.Weft_lock_try_acquire)
}

// owned runs c on the lock and owner's id; ErrInval for a nil owner.
func (lk *Lock) owned(op string, owner *Task, c func(loop uintptr, lock, owner int64) int) error {
	if owner == nil {
		return opErr(op, ErrInval)
	}
	return lk.do(op, func(l uintptr, id int64) int { return c(l, id, owner.id) })
}

// Release unlocks it; owner must be the task holding it (also after that
// task finished). The lock passes to the oldest waiting task. Errors:
// ErrInval (owner nil or not the holder, or unlocked).
func (lk *Lock) Release(owner *Task) error {
	return lk.owned("lock_release", owner, cweft.Weft_lock_release)
}

// Owner returns the id (Task.ID) of the task holding the lock, 0 if
// unlocked.
func (lk *Lock) Owner() (int64, error) {
	return get(&lk.handle, "lock_owner", cweft.Weft_lock_owner)
}

// Free frees the lock, held or not; waiting tasks resume with
// ErrPrimClosed.
func (lk *Lock) Free() error { return lk.do("lock_free", cweft.Weft_lock_free) }

// Lock suspends the task until it holds lk (at once if it is free and
// nobody waits) and resumes it with 0, or ErrPrimClosed if lk is freed
// first. Release it with lk.Release(t). Errors: ErrInval (nil lk, or t
// already holds it).
func (t *Task) Lock(lk *Lock) Step { return awaitOn(t, lk, cweft.Weft_await_lock) }

// WithLock is WithPermit for a lock: body runs as a new task holding lk,
// which is released when body finishes; t resumes with body's result.
func (t *Task) WithLock(lk *Lock, body StepFunc) Step {
	if lk == nil || body == nil {
		return Step(ErrInval)
	}
	return t.scoped(func(c *Task) Step { return c.Lock(lk) },
		func(c *Task) { _ = lk.Release(c) }, body)
}

// ------------------------------------------------------------------ Queue

// Queue is a FIFO of Go values between tasks (asyncio.Queue), bounded or
// unbounded, which can be closed like a Go channel. Rules and errors: as
// for Event.
//
// weft queues int64 items; the Queue maps each value put onto a fresh
// item in a table of its own, and takes it out when a get returns it or
// weft drops it. A value dropped by Close(true), Free or the loop's Close,
// or given to a Put whose step returned without waiting for it and not put
// by then, is removed from the table exactly once and passed to the onDrop
// function given to NewQueue (if any); a put that fails, is cancelled,
// times out or resumes with ErrPrimClosed leaves the value with the putter
// (the Queue forgets it).
type Queue struct{ *queueCore }

type queueCore struct {
	handle
	items  map[int64]any
	next   int64
	onDrop func(v any)
}

// ended: weft released the queue's handle (it is freed).
func (q *queueCore) ended() {
	q.over = true
	clear(q.items)
}

// NewQueue creates a queue holding at most capacity (>= 1) values, or any
// number for capacity 0. onDrop (may be nil) is called on the loop thread,
// once per value the queue discards (Close(true), Free, the loop's Close,
// oldest first; an abandoned Put, see Task.Put); a panic in it is recovered
// and returned by Run. Errors:
// ErrInval (capacity < 0), ErrNoMem.
func (l *Loop) NewQueue(capacity int, onDrop func(v any)) (*Queue, error) {
	qc := &queueCore{items: map[int64]any{}, onDrop: onDrop}
	return newPrim(l, "queue_new", func(c uintptr, out *int64) int {
		h := newHandle(qc) // deleted by the release hook once the queue is freed
		if *out = cweft.Weft_go_queue_new(c, int64(capacity), uintptr(h)); *out < 0 {
			deleteHandle(h) // weft took nothing
		}
		return int(min(*out, 0))
	}, cweft.Weft_queue_free, func(h handle) *Queue { qc.handle = h; return &Queue{qc} })
}

func hookDrop(h uintptr, _ int64, item int64) {
	q := cgo.Handle(h).Value().(*queueCore)
	v, ok := q.take(item)
	if !ok {
		return
	}
	if q.onDrop != nil {
		defer func() {
			if r := recover(); r != nil {
				q.loop.recordPanic(recovered("queue drop", r))
			}
		}()
		q.onDrop(v)
	}
}

// add enters v in the table under a fresh item.
func (q *queueCore) add(v any) int64 {
	q.next++
	q.items[q.next] = v
	return q.next
}

// take removes item from the table and returns its value.
func (q *queueCore) take(item int64) (any, bool) {
	v, ok := q.items[item]
	delete(q.items, item)
	return v, ok
}

// TryPut puts v without waiting: to the oldest waiting getter, else at the
// tail. Errors: ErrAgain (full), ErrPrimClosed (closed), ErrNoMem.
func (q *Queue) TryPut(v any) error {
	key := q.add(v)
	err := q.do("queue_try_put", func(c uintptr, id int64) int { return cweft.Weft_queue_try_put(c, id, key) })
	if err != nil {
		delete(q.items, key)
	}
	return err
}

// TryGet takes the oldest value without waiting. Errors: ErrAgain (empty),
// ErrPrimClosed (empty and closed).
func (q *Queue) TryGet() (any, error) {
	key, err := get(&q.handle, "queue_try_get", cweft.Weft_queue_try_get)
	if err != nil {
		return nil, err
	}
	v, _ := q.take(key)
	return v, nil
}

// Len returns the number of queued values (putters still waiting not
// counted).
func (q *Queue) Len() (int, error) {
	n, err := get(&q.handle, "queue_size", cweft.Weft_queue_size)
	return int(n), err
}

// Close closes the queue, like closing a Go channel: puts fail with
// ErrPrimClosed from now on and waiting putters resume with it (keeping
// their values); gets take what is queued, then fail with ErrPrimClosed.
// With immediate, the queued values are dropped first (to onDrop, oldest
// first, before Close returns). Closing again is allowed.
func (q *Queue) Close(immediate bool) error {
	flags := 0
	if immediate {
		flags = cweft.WEFT_QUEUE_IMMEDIATE
	}
	return q.do("queue_close", func(c uintptr, id int64) int { return cweft.Weft_queue_close(c, id, flags) })
}

// Free frees the queue: waiting getters and putters resume with
// ErrPrimClosed and the queued values go to onDrop.
func (q *Queue) Free() error { return q.do("queue_free", cweft.Weft_queue_free) }

// Put suspends the task until v is in q (handed to the oldest waiting
// getter, or queued; at once if there is room and nobody waits to put) and
// resumes it with 0, or with ErrPrimClosed if q is or gets closed (v then
// stays the caller's). Errors: ErrInval (nil q), ErrNoMem. Return the
// Step: if the step finishes the task instead, v is either in q already or
// goes to onDrop once the task has finished.
func (t *Task) Put(q *Queue, v any) Step {
	if q == nil {
		return Step(ErrInval)
	}
	key := q.add(v)
	rc := cweft.Weft_await_queue_put(t.loop.c, t.id, q.id, key)
	if rc == cweft.WEFT_PENDING {
		t.putQ, t.putKey = q.queueCore, key
	} else {
		delete(q.items, key)
	}
	return Step(rc)
}

// Get suspends the task until it has taken the oldest value of q (at once
// if one is queued) and resumes it with 0; the next step reads the value
// with Task.Item. It resumes with ErrPrimClosed when q is closed and
// empty, or freed. Errors: ErrInval (nil q).
func (t *Task) Get(q *Queue) Step {
	rc := awaitOn(t, q, cweft.Weft_await_queue_get)
	if rc == pending {
		t.getQ = q.queueCore
	}
	return rc
}

// Item returns the value that the Get which resumed this step with 0
// took, and true; nil and false in any other step. Inside t's step.
func (t *Task) Item() (any, bool) { return t.item, t.hasItem }

// resumeSync settles the queue await that the step about to run resolves.
func (tc *taskCore) resumeSync(status int32) {
	tc.item, tc.hasItem = nil, false
	if q := tc.getQ; q != nil {
		tc.getQ = nil
		var key int64
		if status == 0 && !q.over && cweft.Weft_task_item(q.loop.c, tc.id, &key) == 0 {
			tc.item, tc.hasItem = q.take(key)
		}
	}
	if q := tc.putQ; q != nil {
		tc.putQ = nil
		if status != 0 { // not put: the value stays the caller's
			delete(q.items, tc.putKey)
		}
	}
}

// First suspends the task until the first of tasks finishes and resumes it
// with that task's index in tasks (the lowest if several have already
// finished, or if a task appears twice); the others keep running. Read
// results with Result. Cancelling t cancels only this await. Errors:
// ErrInval (no tasks, a nil task, t among them), ErrStale (a task not live
// on this loop), ErrNoMem.
func (t *Task) First(tasks ...*Task) Step { return t.awaitIDs(tasks, cweft.Weft_await_first) }
