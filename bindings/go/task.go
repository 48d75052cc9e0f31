package weft

import (
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
	"weak"

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

// StepFunc is a task's step: called with status 0 when the task starts
// (ErrCanceled or ErrTimedOut instead when the task was cancelled, or its
// timeout passed, before its first step ran: that status is the delivery, and
// a step that ignores it is not interrupted again), then with the result of
// each await it armed. See the package overview.
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
	if s >= TaskReady && s <= TaskRunning {
		return [...]string{"ready", "waiting", "done", "running"}[s-1]
	}
	return "state?"
}

// Task is a weft task: a step function the loop resumes each time the await
// it armed completes. Its await methods (those returning a Step) are for
// inside the task's own running step.
//
// A Task keeps its weft id, and so its result, for as long as it is
// reachable; the id is released when the garbage collector finds the Task
// unreachable (an unfinished task then runs on, detached). A Task keeps its
// Loop reachable.
type Task struct {
	*taskCore
	loop *Loop
}

// taskCore is what the task's cgo.Handle holds: it reaches the Task only
// weakly, so that an unreferenced Task can be collected.
type taskCore struct {
	handle // loop and weft id
	self   weak.Pointer[Task]
	fn     StepFunc
	steps  int
	err    *PanicError

	// Socket awaits (sockets.go): the caller's buffer and sent are pinned
	// while a Recv or Send is pending, and unpinned when it resolves.
	pin      runtime.Pinner
	pinned   bool
	sent     *int64 // written by weft when a Send resolves (its own allocation: no Go pointers in it)
	sending  bool   // the pending await is a Send
	lastSent int    // what Sent returns

	// Queue awaits (sync.go): the queue a pending Get or Put waits on, the
	// item a Put gave, and the value the Get that resumed this step took.
	getQ    *queueCore
	putQ    *queueCore
	putKey  int64
	item    any
	hasItem bool
	onDone  func() // run once when a step finishes the task (WithPermit, WithLock)
}

// Spawn creates a task whose steps are fn and queues its first step (status
// 0); it never runs inside Spawn. The task lives until a step returns
// anything but a pending await (see Step); weft keeps its result while the
// Task is reachable (see Loop.Close for a Spawn inside Close). Errors:
// ErrInval (nil fn), ErrNoMem.
func (l *Loop) Spawn(fn StepFunc) (*Task, error) {
	tc := &taskCore{fn: fn}
	_, err := register(l, "task_spawn", fn != nil, tc, &tc.handle, cweft.Weft_go_task_spawn)
	if err != nil {
		return nil, err
	}
	t := &Task{tc, l}
	tc.self = weak.Make(t)
	lc, id := l.loopCore, tc.id // a collected Task's id is released on the loop thread
	runtime.AddCleanup(t, func(id int64) { lc.later(func() { cweft.Weft_task_release(lc.c, id) }) }, id)
	return t, nil
}

func hookStep(h uintptr, _ int64, status int32) (ret int32) {
	tc := cgo.Handle(h).Value().(*taskCore)
	t := tc.self.Value()
	if t == nil { // the Task was collected; its id is released or about to be
		l := tc.loop.self.Value()
		if l == nil { // the Loop too: this is its Close, by the collector
			l = &Loop{tc.loop}
		}
		t = &Task{tc, l}
		tc.self = weak.Make(t)
	}
	if tc.pinned { // a Recv or Send resolved: its buffer is the caller's again
		tc.unpinIO()
	}
	tc.resumeSync(status)
	l := tc.loop
	l.checkPanic() // pool work this task awaited may have panicked
	tc.steps++
	defer func() {
		if v := recover(); v != nil {
			tc.err = recovered("task step", v)
			l.recordPanic(tc.err)
			l.checkPanic()
			ret = int32(ErrHost)
		}
		if ret != int32(pending) {
			if f := tc.onDone; f != nil {
				tc.onDone = nil
				f()
			}
			tc.fn = nil // finished: the closure may go while the Task lives on
		}
	}()
	return int32(tc.fn(t, int(status)))
}

// Then makes fn the step function for the task's following steps and
// returns t, so that a step reads in order:
//
//	return t.Then(gotData).AwaitFD(fd, weft.Readable)
func (t *Task) Then(fn StepFunc) *Task {
	if fn != nil {
		t.fn = fn
	}
	return t
}

// Sleep suspends the task for d (>= 0), measured from now; it resumes with
// status 0. Errors (see the package doc for every await's): ErrInval (d < 0).
func (t *Task) Sleep(d time.Duration) Step {
	return Step(cweft.Weft_await_sleep(t.loop.c, t.id, int64(d)))
}

// Yield requeues the task behind the tasks already ready (asyncio.sleep(0));
// it resumes with status 0 in the next iteration, after one poll.
func (t *Task) Yield() Step {
	return Step(cweft.Weft_await_yield(t.loop.c, t.id))
}

// AwaitFD suspends the task until fd is ready for events (Readable and/or
// Writable); it resumes with the ready Events (> 0), which may include
// Hangup and ErrorEvent. The caller keeps owning fd. Errors: ErrInval (bad
// events), ErrBadF (fd not open or not pollable), ErrNoMem, ErrNoSpc.
func (t *Task) AwaitFD(fd int, events Events) Step {
	return Step(cweft.Weft_await_fd(t.loop.c, t.id, fd, int(events)))
}

// ToThread runs fn on the pool as Loop.ToThread does and resumes the task
// with its return value (ErrHost if it panicked). If the task is cancelled
// or times out before a pool thread takes the work, fn never runs; if fn
// already runs, it completes first and the task then resumes with
// ErrCanceled or ErrTimedOut. Errors: ErrInval (nil fn), ErrNoMem, ErrAgain.
func (t *Task) ToThread(fn func() int) Step {
	if fn == nil {
		return Step(ErrInval)
	}
	h := newHandle(&Work{handle: handle{loop: t.loop.loopCore}, fn: fn}) // done: the next step
	rc := cweft.Weft_go_await_thread(t.loop.c, t.id, uintptr(h))
	if rc != cweft.WEFT_PENDING {
		deleteHandle(h) // weft took nothing
	}
	return Step(rc)
}

// Await suspends the task until other has finished and resumes it with
// other's result (in the next iteration, if other has already finished).
// Cancelling t does not cancel other. Errors: ErrInval (other is t, or
// nil), ErrStale (other belongs to another loop).
func (t *Task) Await(other *Task) Step { return awaitOn(t, other, cweft.Weft_await_task) }

// awaitOn arms c for t on the id of h, a task or primitive; ErrInval for nil.
func awaitOn[H interface {
	comparable
	weftID() int64
}](t *Task, h H, c func(loop uintptr, self, id int64) int) Step {
	if h == *new(H) {
		return Step(ErrInval)
	}
	return Step(c(t.loop.c, t.id, h.weftID()))
}

// Gather suspends the task until every one of tasks has finished (asyncio's
// gather) and resumes it with 0; read each task's Result afterwards.
// Duplicates are allowed; no tasks resumes at once. Cancelling t cancels
// only this await, not the tasks. Errors: ErrInval (t among tasks, or a nil
// task), ErrStale (a task of another loop), ErrNoMem.
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
	return t.awaitIDs(tasks, func(c uintptr, self int64, ids *int64, n int64) int {
		return cweft.Weft_await_all(c, self, ids, n, flags)
	})
}

// awaitIDs arms c on the ids of tasks, listed in the loop's scratch slice;
// ErrInval for a nil task.
func (t *Task) awaitIDs(tasks []*Task,
	c func(loop uintptr, self int64, ids *int64, n int64) int) Step {
	ids := t.loop.scratch[:0]
	for _, o := range tasks {
		if o == nil {
			return Step(ErrInval)
		}
		ids = append(ids, o.id)
	}
	t.loop.scratch = ids
	return Step(c(t.loop.c, t.id, unsafe.SliceData(ids), int64(len(ids))))
}

// Cancel requests cooperative cancellation, like asyncio's Task.cancel: a
// waiting task is resumed with ErrCanceled; a running or ready task gets
// ErrCanceled from its next await; a task that has not started gets its
// first step with ErrCanceled. The task may clean up with further awaits
// and chooses its result. Cancelling a finished task does nothing.
func (t *Task) Cancel() error { return t.do("task_cancel", cweft.Weft_task_cancel) }

// SetTimeout gives the task a deadline d from now, like asyncio.timeout;
// 0 clears it. When it passes, the pending await (or the next one)
// resolves with ErrTimedOut, once. On a finished task it does nothing.
// Errors: ErrInval (d < 0), ErrNoMem.
func (t *Task) SetTimeout(d time.Duration) error {
	return t.do("task_timeout", func(c uintptr, id int64) int { return cweft.Weft_task_timeout(c, id, int64(d)) })
}

// State returns where the task is: TaskReady, TaskRunning, TaskWaiting or
// TaskDone (also, with no error, once the loop is closed, which finishes
// every task).
func (t *Task) State() (TaskState, error) {
	st := TaskDone
	err := t.do("task_state", func(c uintptr, id int64) int {
		rc := cweft.Weft_task_state(c, id)
		st = TaskState(rc)
		return rc
	})
	if err == ErrClosed {
		return TaskDone, nil
	}
	return st, err
}

// Steps returns how many steps of the task have started: 1 inside its
// first step, 2 inside the second, and so on. A step function can switch on
// it instead of keeping its own state (status alone cannot tell the first
// step from one resumed by a Sleep, which also passes 0).
func (t *Task) Steps() int { return t.steps }

// Finished reports whether the task has finished.
func (t *Task) Finished() bool {
	st, _ := t.State()
	return st == TaskDone
}

// Result returns the finished task's result, as weft keeps it. err is nil
// for a result >= 0, the Errno for a negative one, a *PanicError if a step
// panicked (result is then ErrHost), ErrBusy while the task has not
// finished, and ErrClosed once the loop is closed (read results before
// Close).
func (t *Task) Result() (result int, err error) {
	r, err := get(&t.handle, "task_result", cweft.Weft_task_result)
	if err != nil {
		return 0, err
	}
	if t.err != nil {
		return int(r), t.err
	}
	return int(r), Err(int(r))
}

// ID returns weft's id of the task (unique on its loop while it lives).
func (t *Task) ID() int64 { return t.id }

// Loop returns the loop the task belongs to.
func (t *Task) Loop() *Loop { return t.loop }
