package weft

import (
	"runtime/cgo"
	"time"

	"example.invalid/weft/internal/cweft"
)

// Step is what a task's step function returns: the value of the await it
// armed (which suspends the task until the await completes; if arming
// failed it is the error code, and returning it finishes the task with it),
// or Done(result) to finish the task.
type Step int

const pending = Step(cweft.WEFT_PENDING)

// Done finishes the task with result, which its awaiters receive and Result
// returns. By convention a negative result is a weft error code (a failure);
// result must fit in 32 bits, and 0x7fffffff (weft's PENDING) is not a
// result: Done(0x7fffffff) finishes the task with ErrInval.
func Done(result int) Step {
	if result == cweft.WEFT_PENDING {
		return Step(ErrInval)
	}
	return Step(result)
}

// StepFunc is a task's step: called with status 0 when the task starts,
// then with the result of each await it armed. See the package overview.
type StepFunc func(t *Task, status int) Step

// TaskState is where a task is in its life.
type TaskState int

// Task states, as in weft.h.
const (
	TaskReady   TaskState = TaskState(cweft.WEFT_TASK_READY)   // queued to run its next step
	TaskWaiting TaskState = TaskState(cweft.WEFT_TASK_WAITING) // suspended on an await
	TaskDone    TaskState = TaskState(cweft.WEFT_TASK_DONE)    // finished; Result has its result
	TaskRunning TaskState = TaskState(cweft.WEFT_TASK_RUNNING) // its step is executing now
)

// String returns "ready", "waiting", "done" or "running".
func (s TaskState) String() string {
	switch s {
	case TaskReady:
		return "ready"
	case TaskWaiting:
		return "waiting"
	case TaskDone:
		return "done"
	case TaskRunning:
		return "running"
	}
	return "state?"
}

// Task is a weft task: a step function the loop resumes each time the await
// it armed completes. Its methods are for the loop thread (see the package
// overview); the await methods (Sleep, AwaitFD, ToThread, Await, Gather,
// Group, Yield) only from inside the task's own running step.
type Task struct {
	node
	loop    *Loop
	id      int64
	fn      StepFunc
	workH   cgo.Handle // the pending ToThread's work, until the task resumes
	armed   bool       // an await was armed in the running step
	steps   int
	done    bool
	result  int
	err     *PanicError
	ovrMode uint8 // how ovr replaces the next status (see Await, Group)
	ovr     int
}

const (
	ovrNone = iota
	ovrIfZero
	ovrAlways
)

// Spawn creates a task whose steps are fn and queues its first step (status
// 0); it never runs inside Spawn. The task lives until a step returns
// anything but a pending await (see Step); its Go object keeps the result
// after that. Loop thread (also from callbacks and steps, and from callbacks
// that Close runs: the task's first step then gets ErrCanceled).
// Errors: ErrInval (nil fn), ErrNoMem, ErrPerm, ErrClosed.
func (l *Loop) Spawn(fn StepFunc) (*Task, error) {
	if fn == nil {
		return nil, opErr("task_spawn", ErrInval)
	}
	if l.c == 0 {
		return nil, ErrClosed
	}
	t := &Task{loop: l, fn: fn}
	t.owner = t
	h := newHandle(t)
	id := cweft.Weft_go_task_spawn(l.c, uintptr(h))
	if id < 0 {
		deleteHandle(h)
		return nil, opErr("task_spawn", id)
	}
	t.id, t.h = id, h
	l.live.push(&t.node)
	return t, nil
}

func hookStep(h uintptr, self int64, status int32) (ret int32) {
	t := cgo.Handle(h).Value().(*Task)
	l := t.loop
	st := int(status)
	if t.workH != 0 { // the ToThread work has completed (or never ran)
		deleteHandle(t.workH)
		t.workH = 0
		l.checkPanic()
	}
	switch t.ovrMode {
	case ovrIfZero:
		if st == 0 {
			st = t.ovr
		}
	case ovrAlways:
		st = t.ovr
	}
	t.ovrMode = ovrNone
	t.armed = false
	t.steps++
	defer func() {
		if v := recover(); v != nil {
			p := recovered("task step", v)
			l.recordPanic(p)
			l.checkPanic()
			t.err = p
			t.finish(int(ErrHost))
			ret = int32(ErrHost)
		}
	}()
	s := t.fn(t, st)
	if s == pending {
		if t.armed {
			return int32(pending)
		}
		s = Step(ErrInval) // "pending" with nothing armed: weft's rule
	}
	t.finish(int(s))
	return int32(s)
}

// finish records the result and ends the task's handle. It runs inside the
// last step: releasing detaches the task, which weft frees when the step
// returns.
func (t *Task) finish(result int) {
	l := t.loop
	t.done, t.result, t.fn = true, result, nil
	if t.workH != 0 {
		// The step armed ToThread and then finished: weft disarms the await
		// but work a pool thread already took still runs, and reads the
		// handle. It is deleted at Close, after weft waited for the pool.
		l.orphans = append(l.orphans, t.workH)
		t.workH = 0
	}
	if l.c != 0 {
		cweft.Weft_task_release(l.c, t.id)
	}
	l.live.end(&t.node)
}

func (t *Task) endAtClose() {
	if !t.done {
		t.done, t.result, t.fn = true, int(ErrCanceled), nil
	}
}

// Then makes fn the step function for the task's following steps and
// returns t, so that a step reads in order:
//
//	return t.Then(gotData).AwaitFD(fd, weft.Readable)
//
// Loop thread.
func (t *Task) Then(fn StepFunc) *Task {
	if fn != nil {
		t.fn = fn
	}
	return t
}

func (t *Task) arm(rc int) Step {
	if rc == cweft.WEFT_PENDING {
		t.armed = true
	}
	return Step(rc)
}

// Sleep suspends the task for d (>= 0), measured from now; it resumes with
// status 0. Errors (returned as the Step, finishing the task if returned):
// ErrInval (d < 0, or not inside t's running step), ErrBusy (an await is
// already armed in this step), ErrCanceled (the loop is closing).
func (t *Task) Sleep(d time.Duration) Step {
	return t.arm(cweft.Weft_await_sleep(t.loop.c, t.id, int64(d)))
}

// Yield requeues the task behind the tasks already ready (asyncio.sleep(0));
// it resumes with status 0 in the next iteration, after one poll.
// Errors as for Sleep.
func (t *Task) Yield() Step {
	return t.arm(cweft.Weft_await_yield(t.loop.c, t.id))
}

// AwaitFD suspends the task until fd is ready for events (Readable and/or
// Writable); it resumes with the ready Events (> 0), which may include
// Hangup and ErrorEvent. The caller keeps owning fd. Errors as for Sleep,
// plus ErrInval (bad events), ErrBadF (fd not open or not pollable),
// ErrNoMem, ErrNoSpc.
func (t *Task) AwaitFD(fd int, events Events) Step {
	return t.arm(cweft.Weft_await_fd(t.loop.c, t.id, fd, int(events)))
}

// taskWork is the pool-thread side of Task.ToThread.
type taskWork struct {
	loop *Loop
	fn   func() int
}

// ToThread runs fn on the loop's thread pool (a C thread calling into Go)
// and resumes the task with its return value. If the task is cancelled or
// times out before a pool thread takes the work, fn never runs; if fn
// already runs, it completes first and the task then resumes with
// ErrCanceled or ErrTimedOut. fn must not call loop-thread methods; Post
// and Stop are allowed. A panic in fn is recovered: the task resumes with
// ErrHost and Run returns the *PanicError. Errors as for Sleep, plus
// ErrInval (nil fn), ErrNoMem, ErrAgain.
func (t *Task) ToThread(fn func() int) Step {
	if fn == nil {
		return Step(ErrInval)
	}
	h := newHandle(&taskWork{loop: t.loop, fn: fn})
	rc := cweft.Weft_go_await_thread(t.loop.c, t.id, uintptr(h))
	if rc != cweft.WEFT_PENDING {
		deleteHandle(h)
		return Step(rc)
	}
	t.workH = h
	t.armed = true
	return pending
}

// Await suspends the task until other has finished and resumes it with
// other's result (at once, in the next iteration, if other is already
// finished). Cancelling t does not cancel other. Errors as for Sleep, plus
// ErrInval (other is t, or nil), ErrStale (other belongs to another loop).
func (t *Task) Await(other *Task) Step {
	if other == nil {
		return Step(ErrInval)
	}
	if other.loop != t.loop {
		return Step(ErrStale)
	}
	if other.done {
		// weft has released it; deliver the kept result through a yield.
		rc := t.arm(cweft.Weft_await_yield(t.loop.c, t.id))
		if rc == pending {
			t.ovrMode, t.ovr = ovrIfZero, other.result
		}
		return rc
	}
	return t.arm(cweft.Weft_await_task(t.loop.c, t.id, other.id))
}

// Gather suspends the task until every one of tasks has finished (asyncio's
// gather) and resumes it with 0; read each task's Result afterwards.
// Duplicates are allowed; no tasks resumes at once. Cancelling t cancels
// only this await, not the tasks. Errors as for Sleep, plus ErrInval (t
// among tasks, or a nil task), ErrStale (a task of another loop), ErrNoMem.
func (t *Task) Gather(tasks ...*Task) Step { return t.awaitAll(0, tasks) }

// Group is Gather with asyncio TaskGroup semantics: on the first negative
// result among tasks (including one that had already finished), or when t
// is cancelled or times out, the other tasks are cancelled, and t resumes
// once all have finished, with that first error (or ErrCanceled /
// ErrTimedOut); with 0 if none failed. Errors as for Gather.
func (t *Task) Group(tasks ...*Task) Step {
	return t.awaitAll(cweft.WEFT_CANCEL_ON_ERROR, tasks)
}

func (t *Task) awaitAll(flags int, tasks []*Task) Step {
	l := t.loop
	ids := l.scratch[:0]
	firstErr := 0
	for _, o := range tasks {
		if o == nil {
			return Step(ErrInval)
		}
		if o.loop != l {
			return Step(ErrStale)
		}
		if o.done { // released in weft; its result is kept here
			if o.result < 0 && firstErr == 0 {
				firstErr = o.result
			}
			continue
		}
		ids = append(ids, o.id)
	}
	l.scratch = ids
	var p *int64
	if len(ids) > 0 {
		p = &ids[0]
	}
	rc := t.arm(cweft.Weft_await_all(l.c, t.id, p, int64(len(ids)), flags))
	if rc == pending && flags != 0 && firstErr != 0 {
		// A task had already failed: the group fails with its error, and
		// the others are cancelled as weft would have done.
		t.ovrMode, t.ovr = ovrAlways, firstErr
		for _, id := range ids {
			cweft.Weft_task_cancel(l.c, id)
		}
	}
	return rc
}

// Cancel requests cooperative cancellation, like asyncio's Task.cancel: a
// waiting task is resumed with ErrCanceled; a running or ready task gets
// ErrCanceled from its next await; a task that has not started gets its
// first step with ErrCanceled. The task may clean up with further awaits
// and chooses its result. Cancelling a finished task does nothing.
// Loop thread. Errors: ErrPerm, ErrClosed.
func (t *Task) Cancel() error {
	l := t.loop
	if l.c == 0 {
		return ErrClosed
	}
	rc := cweft.Weft_task_cancel(l.c, t.id)
	if rc < 0 && !(rc == cweft.WEFT_ESTALE && t.done) {
		return opErr("task_cancel", rc)
	}
	return nil
}

// SetTimeout gives the task a deadline d from now, like asyncio.timeout;
// 0 clears it. When it passes, the pending await (or the next one)
// resolves with ErrTimedOut, once. On a finished task it does nothing.
// Loop thread. Errors: ErrInval (d < 0), ErrNoMem, ErrPerm, ErrClosed.
func (t *Task) SetTimeout(d time.Duration) error {
	l := t.loop
	if l.c == 0 {
		return ErrClosed
	}
	rc := cweft.Weft_task_timeout(l.c, t.id, int64(d))
	if rc < 0 && !(rc == cweft.WEFT_ESTALE && t.done && d >= 0) {
		return opErr("task_timeout", rc)
	}
	return nil
}

// State returns where the task is: TaskReady, TaskRunning, TaskWaiting or
// TaskDone. Loop thread. Errors: ErrPerm, ErrClosed (for an unfinished
// task of a closed loop).
func (t *Task) State() (TaskState, error) {
	l := t.loop
	if l.c == 0 {
		if t.done {
			return TaskDone, nil
		}
		return 0, ErrClosed
	}
	rc := cweft.Weft_task_state(l.c, t.id)
	if rc < 0 {
		if rc == cweft.WEFT_ESTALE && t.done {
			return TaskDone, nil
		}
		return 0, opErr("task_state", rc)
	}
	return TaskState(rc), nil
}

// Steps returns how many steps of the task have started: 1 inside its
// first step, 2 inside the second, and so on. A step function can switch on
// it instead of keeping its own state (status alone cannot tell the first
// step from one resumed by a Sleep, which also passes 0). Loop thread.
func (t *Task) Steps() int { return t.steps }

// Finished reports whether the task has finished. Loop thread.
func (t *Task) Finished() bool { return t.done }

// Result returns the finished task's result. err is nil for a result >= 0,
// the Errno for a negative one, a *PanicError if a step panicked (result is
// then ErrHost), and ErrBusy (in an *OpError) while the task has not
// finished. Loop thread.
func (t *Task) Result() (result int, err error) {
	if !t.done {
		return 0, opErr("task_result", ErrBusy)
	}
	if t.err != nil {
		return t.result, t.err
	}
	return t.result, Err(t.result)
}

// ID returns weft's id of the task (unique on its loop while it lives).
func (t *Task) ID() int64 { return t.id }

// Loop returns the loop the task belongs to.
func (t *Task) Loop() *Loop { return t.loop }
