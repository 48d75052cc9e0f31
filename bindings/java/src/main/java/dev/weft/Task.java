package dev.weft;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Lock;
import java.util.function.IntSupplier;

/**
 * A weft task: a resumable state machine whose {@link Step} runs on the loop
 * thread, suspending where it waits (asyncio's task, written as a lambda).
 * Created by {@link Loop#spawn(Step)}.
 *
 * <p><b>Awaits</b> ({@link #sleep}, {@link #awaitFd}, {@link #awaitThread},
 * {@link #await(Task)}, {@link #awaitAll}, {@link #yieldNow}) are called
 * inside this task's running step. Each returns {@link Weft#PENDING} once
 * armed, which the step returns; the next step receives the await's result as
 * its status. On failure an await returns a negative code and arms nothing,
 * so {@code return task.sleep(d);} finishes the task with that code. Exactly
 * one await may be armed per step ({@link Weft#EBUSY} for a second).
 *
 * <p><b>Control</b> ({@link #cancel()}, {@link #timeout}, {@link #state()},
 * {@link #result()}, {@link #close()}) is called on the loop thread, or from
 * any thread while the loop is not running; from another thread while it runs
 * they throw {@link Weft#EPERM}. {@link #isDone()}, {@link #exception()} and
 * {@link #future()} work from any thread.
 *
 * <p>An exception thrown by the step finishes the task with {@link
 * Weft#EHOST}: {@link #result()} rethrows it (as the cause of a {@link
 * WeftException}), {@link #future()} completes exceptionally with it, and the
 * loop goes on. A finished task keeps its result in this object: {@link
 * #result()} returns it from any thread, also after {@link #close()} or the
 * loop's close (as the Go and Lua bindings do).
 */
public final class Task implements AutoCloseable {
  private final Loop loop;
  private final Step step;
  private final boolean detached;
  private long id;
  private boolean released;

  // Step bookkeeping, loop thread only.
  private int steps;
  private boolean armed;
  private boolean armedThread;
  private boolean hasDeferred;
  private int deferred;
  private ThreadCall lastCall;
  private Throwable workFailure;

  // Outcome, read from any thread.
  private volatile boolean done;
  private volatile int result;
  private volatile Throwable failure;
  private volatile CompletableFuture<Integer> future;

  /** What the JNI trampoline calls. */
  final RawCallbacks.StepFn fn = this::runStep;

  Task(Loop loop, Step step, boolean detached) {
    this.loop = loop;
    this.step = step;
    this.detached = detached;
  }

  void started(long id) {
    this.id = id;
  }

  private int runStep(long self, int status) {
    id = self;
    ThreadCall call = lastCall;
    lastCall = null;
    workFailure = call != null ? call.failure : null;
    int r;
    if (hasDeferred) {
      r = deferred;
    } else {
      armed = false;
      armedThread = false;
      try {
        r = step.step(this, status);
      } catch (Throwable t) {
        failure = t;
        r = Weft.EHOST;
        if (detached) loop.failed(t);
      }
      steps++;
      if (r == Weft.PENDING) {
        if (armed) return r;
        // weft finishes it with EINVAL and logs why; mirror that here.
        finished(Weft.EINVAL);
        return r;
      }
      if (armedThread) {
        // Finishing now would orphan pool work that may be running; cancel
        // the await instead (queued work never starts, running work
        // completes) and finish with r when the task resumes.
        if (WeftNative.weft_task_cancel(loop.ptr(), self) == 0) {
          deferred = r;
          hasDeferred = true;
          return Weft.PENDING;
        }
      }
    }
    finished(r);
    return r;
  }

  private void finished(int r) {
    result = r;
    done = true;
    CompletableFuture<Integer> f = future;
    if (f != null) complete(f);
  }

  private void complete(CompletableFuture<Integer> f) {
    Throwable t = failure;
    if (t != null) f.completeExceptionally(t);
    else f.complete(result);
  }

  private int armed(int r) {
    if (r == Weft.PENDING) armed = true;
    return r;
  }

  // ---------------------------------------------------------------- awaits

  /**
   * Await: resumes the task after {@code d}, measured from now. Result: 0.
   *
   * @param d how long; not negative
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for
   *     a negative duration or outside this task's step, {@link Weft#EBUSY}
   *     for a second await in one step, {@link Weft#ECANCELED} while the loop
   *     closes)
   */
  public int sleep(Duration d) {
    return sleepNanos(d.toNanos());
  }

  /**
   * Await: resumes the task after {@code ns} nanoseconds. Result: 0.
   *
   * @param ns nanoseconds, &gt;= 0
   * @return {@link Weft#PENDING}, or a negative code as {@link #sleep}
   */
  public int sleepNanos(long ns) {
    Lock l = loop.enterLoopThread();
    try {
      return armed(WeftNative.weft_await_sleep(loop.ptr(), id, ns));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Await: resumes the task when {@code fd} is ready. Result: the ready
   * events (&gt; 0): the requested ready bits plus {@link Weft#HANGUP} /
   * {@link Weft#ERROR} if reported.
   *
   * @param fd a pollable fd (socket, pipe...)
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for
   *     bad events, {@link Weft#EBADF} for an fd that is not open or not
   *     pollable, and those of {@link #sleep})
   */
  public int awaitFd(int fd, int events) {
    Lock l = loop.enterLoopThread();
    try {
      return armed(WeftNative.weft_await_fd(loop.ptr(), id, fd, events));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Await: {@code awaitFd(fd, Weft.READABLE)}.
   *
   * @param fd a pollable fd
   * @return {@link Weft#PENDING} or a negative code, as {@link #awaitFd}
   */
  public int readable(int fd) {
    return awaitFd(fd, Weft.READABLE);
  }

  /**
   * Await: {@code awaitFd(fd, Weft.WRITABLE)}.
   *
   * @param fd a pollable fd
   * @return {@link Weft#PENDING} or a negative code, as {@link #awaitFd}
   */
  public int writable(int fd) {
    return awaitFd(fd, Weft.WRITABLE);
  }

  /**
   * Await: runs {@code work} on the loop's thread pool (not on the loop
   * thread: it must not touch the loop but for {@link Loop#post} and {@link
   * Loop#stop}) and resumes the task with its value. If the task is cancelled
   * or times out before a pool thread takes the work, it never runs; if it is
   * running, it completes first. If {@code work} throws, the task resumes with
   * {@link Weft#EHOST} and {@link #workException()} has the throwable.
   *
   * @param work the blocking work; its value must not be {@link Weft#PENDING}
   * @return {@link Weft#PENDING}, or a negative code as {@link #sleep} (or
   *     {@link Weft#EAGAIN} if no pool thread could start)
   */
  public int awaitThread(IntSupplier work) {
    Objects.requireNonNull(work, "work");
    ThreadCall call = new ThreadCall(work);
    Lock l = loop.enterLoopThread();
    try {
      int r = WeftNative.weft_await_thread(loop.ptr(), id, call);
      if (r == Weft.PENDING) {
        armed = true;
        armedThread = true;
        lastCall = call;
      }
      return r;
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Await: resumes the task when {@code other} has finished, with its result.
   * Cancelling this task does not cancel {@code other}.
   *
   * @param other another task of the same loop
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} if
   *     other is this task, {@link Weft#ESTALE} if it is released or of
   *     another loop, and those of {@link #sleep})
   */
  public int await(Task other) {
    Lock l = loop.enterLoopThread();
    try {
      return armed(WeftNative.weft_await_task(loop.ptr(), id, other.id));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Await: resumes the task when all {@code tasks} have finished (asyncio's
   * gather). Result: 0; read each one's {@link #result()}. Duplicates are
   * allowed; none resumes with 0.
   *
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code as {@link #awaitAll(int, Task...)}
   */
  public int awaitAll(Task... tasks) {
    return awaitAll(0, tasks);
  }

  /**
   * Await: resumes the task when all {@code tasks} have finished. With {@link
   * Weft#CANCEL_ON_ERROR} (asyncio's TaskGroup): on the first negative result,
   * or when this task is cancelled or times out, the others are cancelled and
   * the await resolves, after all finished, with that first error; else 0.
   *
   * @param flags 0 or {@link Weft#CANCEL_ON_ERROR}
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for
   *     unknown flags or this task among them, {@link Weft#ESTALE} if one is
   *     released or of another loop, and those of {@link #sleep})
   */
  public int awaitAll(int flags, Task... tasks) {
    long[] ids = new long[tasks.length];
    for (int i = 0; i < tasks.length; i++) ids[i] = tasks[i].id;
    Lock l = loop.enterLoopThread();
    try {
      return armed(WeftNative.weft_await_all(loop.ptr(), id, ids, flags));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Await: requeues the task behind the tasks already ready ({@code
   * asyncio.sleep(0)}); it resumes in the next iteration. Result: 0.
   *
   * @return {@link Weft#PENDING}, or a negative code as {@link #sleep}
   */
  public int yieldNow() {
    Lock l = loop.enterLoopThread();
    try {
      return armed(WeftNative.weft_await_yield(loop.ptr(), id));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * The throwable thrown by the work of the {@link #awaitThread} this step
   * resumes from, or null. Valid during that step.
   *
   * @return the throwable or null
   */
  public Throwable workException() {
    return workFailure;
  }

  /**
   * How many steps of this task have run before the current one: 0 during
   * the first step. Loop thread.
   *
   * @return the step count
   */
  public int stepNumber() {
    return steps;
  }

  // --------------------------------------------------------------- control

  /**
   * Requests cooperative cancellation: the pending await resolves with
   * {@link Weft#ECANCELED} (a running task gets it from its next await; a
   * completed await's result is delivered first). The task may clean up and
   * chooses its own result. Cancelling a finished task does nothing.
   *
   * @throws WeftException {@link Weft#ESTALE} (released, or the loop is
   *     closed), {@link Weft#EPERM}
   */
  public void cancel() {
    Lock l = loop.enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_task_cancel(loop.ptr(), id), "task cancel");
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Sets a deadline {@code d} from now (like {@code asyncio.timeout}); when it
   * passes, the pending await resolves with {@link Weft#ETIMEDOUT}. Fires
   * once; {@link Duration#ZERO} clears it. Does nothing on a finished task.
   *
   * @param d the time left; not negative
   * @throws WeftException {@link Weft#EINVAL} (negative), {@link Weft#ESTALE},
   *     {@link Weft#EPERM}
   */
  public void timeout(Duration d) {
    timeoutNanos(d.toNanos());
  }

  /**
   * {@link #timeout(Duration)} in nanoseconds.
   *
   * @param ns the time left, &gt;= 0; 0 clears the deadline
   * @throws WeftException as {@link #timeout(Duration)}
   */
  public void timeoutNanos(long ns) {
    Lock l = loop.enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_task_timeout(loop.ptr(), id, ns), "task timeout");
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * The task's state as weft reports it.
   *
   * @return the state
   * @throws WeftException {@link Weft#ESTALE} (released, or the loop is
   *     closed), {@link Weft#EPERM}
   */
  public TaskState state() {
    Lock l = loop.enterLoopThread();
    try {
      return TaskState.of(WeftNative.weft_task_state(loop.ptr(), id));
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * The finished task's result: the value its last step returned (a task
   * cancelled by the loop's close: the value its step returned then, usually
   * {@link Weft#ECANCELED}). Once the task has finished, any thread, also
   * after {@link #close()} or the loop's close; before, the loop thread.
   *
   * @return the result
   * @throws WeftException {@link Weft#EBUSY} (not finished yet), {@link
   *     Weft#ESTALE} (the loop closed before the task finished), {@link
   *     Weft#EPERM} (unfinished, from another thread while the loop runs); or
   *     {@link Weft#EHOST} with the step's throwable as its cause
   */
  public int result() {
    if (!done) {
      // Not finished as far as this thread can tell: weft says why.
      int[] out = new int[1];
      Lock l = loop.enterLoopThread();
      try {
        WeftException.check(WeftNative.weft_task_result(loop.ptr(), id, out), "task result");
      } finally {
        Loop.exit(l);
      }
    }
    Throwable t = failure;
    if (t != null && result == Weft.EHOST) throw new WeftException(Weft.EHOST, "task step threw", t);
    return result;
  }

  /**
   * Whether the task has finished. Any thread.
   *
   * @return true once its last step returned
   */
  public boolean isDone() {
    return done;
  }

  /**
   * The throwable its step threw (which finished it with {@link Weft#EHOST}),
   * or null. Any thread.
   *
   * @return the throwable or null
   */
  public Throwable exception() {
    return failure;
  }

  /**
   * A future of the task's result, completed on the loop thread when the task
   * finishes (exceptionally with the step's throwable if it threw). Completing
   * it from outside does not affect the task. Any thread.
   *
   * @return the future (the same one on every call)
   */
  public CompletableFuture<Integer> future() {
    CompletableFuture<Integer> f = future;
    if (f == null) {
      synchronized (this) {
        f = future;
        if (f == null) future = f = new CompletableFuture<>();
      }
    }
    if (done) complete(f);
    return f;
  }

  /**
   * Releases the task's id (weft_task_release): a finished task is freed and
   * its id goes stale; an unfinished one runs on, detached, and is freed when
   * it finishes. Later calls, and calls after the loop closed, do nothing.
   *
   * @throws WeftException {@link Weft#EPERM} from another thread while the loop runs
   */
  @Override
  public void close() {
    Lock l = loop.enterLoopThread();
    try {
      if (released || detached || loop.isClosed()) return;
      WeftException.check(WeftNative.weft_task_release(loop.ptr(), id), "task release");
      released = true;
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * The weft id (known from the first step for a detached task).
   *
   * @return the id
   */
  public long id() {
    return id;
  }

  /**
   * The loop the task belongs to.
   *
   * @return the loop
   */
  public Loop loop() {
    return loop;
  }

  /** The work of one {@link #awaitThread}; runs on a pool thread. */
  private static final class ThreadCall implements RawCallbacks.WorkFn {
    private final IntSupplier fn;
    volatile Throwable failure;

    ThreadCall(IntSupplier fn) {
      this.fn = fn;
    }

    @Override
    public int work() {
      try {
        return fn.getAsInt();
      } catch (Throwable t) {
        failure = t;
        return Weft.EHOST;
      }
    }
  }
}
