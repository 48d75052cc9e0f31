package dev.weft;

import java.time.Duration;
import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntSupplier;
import java.util.stream.Stream;

/**
 * A weft task: a resumable state machine whose {@link Step} runs on the loop
 * thread, suspending where it waits (asyncio's task, written as a lambda).
 * Created by {@link Loop#spawn(Step)}.
 *
 * <p><b>Awaits</b> ({@link #sleep}, {@link #awaitFd}, {@link #awaitThread},
 * {@link #await(Task)}, {@link #awaitAll}, {@link #awaitFirst}, {@link
 * #await(CompletableFuture)}, {@link #yieldNow}, and those of {@link Event},
 * {@link Semaphore}, {@link Lock}, {@link Queue} and the sockets) follow the
 * package doc: exactly one may be armed per step. The other methods are
 * loop-thread calls but {@link #isDone()}, {@link #exception()}, {@link
 * #future()} and a finished task's {@link #result()}, which are any-thread.
 *
 * <p>A step that throws finishes the task with {@link Weft#EHOST} (see
 * {@link #result()}, {@link #exception()}, {@link #future()}); the loop goes on.
 *
 * <p><b>Ownership</b> as in the package doc: the id this object keeps alive
 * makes {@link #await(Task)}, {@link #cancel()} and the rest reach this task
 * and no other, however long ago it finished. The running task holds this
 * object only until it finishes, and never its loop.
 */
public final class Task extends Owned {
  final Core core;

  /** Spawns a task of core; a detached one is released at once, so its id works until it finishes. */
  Task(Loop.State st, Core core) {
    super(st, (p, out) -> {
      int rc = WeftNative.weft_task_spawn(p, core, out);
      if (rc == 0 && core.detached) WeftNative.weft_task_release(p, out[0]);
      return rc;
    }, core.detached ? null : WeftNative::weft_task_release, "task spawn");
    this.core = core;
    core.facade = this; // before its first step can run
  }

  /**
   * What the step trampoline calls and the JNI global reference holds until
   * weft frees the task: the step, its bookkeeping and its outcome. It holds
   * the Task only until the task finishes, so that a finished task's Task can
   * be collected.
   */
  static final class Core {
    private Step step;
    private Task facade;
    final boolean detached;

    // Step bookkeeping, loop thread only.
    private int steps;
    private boolean armed;
    private Owned awaited;     // what the pending await waits on: kept reachable until it resolves
    private Resolver resolver; // what to do when the pending await resolves
    private Throwable workFailure;
    long lastSent;
    private java.nio.ByteBuffer scratch; // SocketIo's direct memory, reused by each await
    Object item;               // the queue item the step resumes with (Queue.received)

    // Outcome, read from any thread.
    private volatile boolean done;
    private volatile int result;
    private volatile Throwable failure;
    private volatile CompletableFuture<Integer> future;

    Core(Step step, boolean detached) {
      this.step = step;
      this.detached = detached;
    }

    /** One step (the trampoline's call). */
    int step(long self, int status) {
      armed = false;
      Resolver res = resolver;
      resolver = null;
      awaited = null;
      workFailure = null;
      lastSent = 0;
      item = null;
      if (res != null) res.resolve(self, status);
      int r;
      try {
        r = step.step(facade, status);
      } catch (Throwable t) {
        failure = t;
        finish(Weft.EHOST);
        if (detached) throw Task.<RuntimeException>sneaky(t); // run() rethrows it
        return Weft.EHOST;
      }
      steps++;
      if (r == Weft.PENDING && armed) return r;
      finish(r == Weft.PENDING ? Weft.EINVAL : r); // weft finishes it with EINVAL and logs why
      return r;
    }

    /** A direct buffer of n bytes or more for a SocketIo: the task's own, unless a pending await uses it. */
    java.nio.ByteBuffer scratch(int n) {
      if (resolver instanceof SocketIo) return java.nio.ByteBuffer.allocateDirect(n);
      java.nio.ByteBuffer b = scratch;
      if (b == null || b.capacity() < n) b = java.nio.ByteBuffer.allocateDirect(Math.max(n, 256));
      scratch = b.capacity() <= 65536 ? b : null; // large ones are not kept
      return b;
    }

    private void finish(int r) {
      Resolver res = resolver; // armed, then the step finished the task: weft disarmed it
      resolver = null;
      awaited = null;
      scratch = null;
      if (res != null) res.abandon();
      result = r;
      done = true;
      step = null;
      facade = null;
      CompletableFuture<Integer> f = future;
      if (f != null) complete(f);
    }

    private void complete(CompletableFuture<Integer> f) {
      Throwable t = failure;
      if (t != null) f.completeExceptionally(t);
      else f.complete(result);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T sneaky(Throwable t) throws T {
    throw (T) t;
  }

  /**
   * Calls the await c(loop, this task's id) on the loop thread; once armed
   * (PENDING), keeps {@code on} (if any) reachable and runs r (if any) when
   * it resolves.
   */
  int arm(Owned on, Call c, Resolver r) {
    int rc = st.onLoop(p -> c.call(p, id));
    if (rc == Weft.PENDING) {
      core.armed = true;
      core.awaited = on;
      core.resolver = r;
    }
    return rc;
  }

  /**
   * What an await does when it resolves, on the loop thread before the step
   * that receives its status runs (move a socket's bytes, take a queue item
   * out of the handle table, free a future's event). Must not throw.
   */
  interface Resolver {
    void resolve(long self, int status);

    /** The step armed the await and then finished the task instead of waiting. */
    default void abandon() {}
  }

  /** A control call on the loop thread; throws for a negative result. */
  private int control(Call c, String what) {
    return st.check(p -> c.call(p, id), what);
  }

  // ---------------------------------------------------------------- awaits

  /**
   * Await: resumes the task after {@code d}, measured from now. Result: 0.
   *
   * @param d how long; not negative
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for a negative d)
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
    return arm(null, (p, self) -> WeftNative.weft_await_sleep(p, self, ns), null);
  }

  /**
   * Await: resumes the task when {@code fd} is ready. Result: the ready
   * events (&gt; 0): the requested ready bits plus {@link Weft#HANGUP} /
   * {@link Weft#ERROR} if reported.
   *
   * @param fd a pollable fd (socket, pipe...)
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for bad
   *     events, {@link Weft#EBADF} for an fd that is not open or not pollable)
   */
  public int awaitFd(int fd, int events) {
    return arm(null, (p, self) -> WeftNative.weft_await_fd(p, self, fd, events), null);
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
   * {@link Weft#EHOST} and {@link #workException()} has the throwable. A step
   * that finishes the task instead of waiting leaves the work to run to its
   * end on its own.
   *
   * @param work the blocking work; its value must not be {@link Weft#PENDING}
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EAGAIN} if no
   *     pool thread could start)
   */
  public int awaitThread(IntSupplier work) {
    ThreadCall call = new ThreadCall(Objects.requireNonNull(work, "work"));
    return arm(null, (p, self) -> WeftNative.weft_await_thread(p, self, call), (self, s) -> core.workFailure = call.failure);
  }

  /**
   * Await: resumes the task when {@code other} has finished, with its result.
   * Cancelling this task does not cancel {@code other}.
   *
   * @param other another task of the same loop
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} if
   *     other is this task, {@link Weft#ESTALE} if it is released or of another loop)
   */
  public int await(Task other) {
    long o = other.id;
    return arm(null, (p, self) -> WeftNative.weft_await_task(p, self, o), null);
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
   * Await: {@link #awaitAll(Task...)} of a collection (a list, a set...).
   *
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code as {@link #awaitAll(int, Task...)}
   */
  public int awaitAll(Collection<Task> tasks) {
    return awaitAll(0, tasks.toArray(new Task[0]));
  }

  /**
   * Await: {@link #awaitAll(int, Task...)} of a collection.
   *
   * @param flags 0 or {@link Weft#CANCEL_ON_ERROR}
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code as {@link #awaitAll(int, Task...)}
   */
  public int awaitAll(int flags, Collection<Task> tasks) {
    return awaitAll(flags, tasks.toArray(new Task[0]));
  }

  /**
   * Await: resumes the task when all {@code tasks} have finished. With {@link
   * Weft#CANCEL_ON_ERROR} (asyncio's TaskGroup): on the first negative result,
   * or when this task is cancelled or times out, the others are cancelled and
   * the await resolves, after all finished, with that first error; else 0.
   *
   * @param flags 0 or {@link Weft#CANCEL_ON_ERROR}
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for unknown flags
   *     or this task among them, {@link Weft#ESTALE} if one is released or of another loop)
   */
  public int awaitAll(int flags, Task... tasks) {
    long[] ids = Stream.of(tasks).mapToLong(Task::id).toArray();
    return arm(null, (p, self) -> WeftNative.weft_await_all(p, self, ids, flags), null);
  }

  /**
   * Await: resumes the task when the first of {@code tasks} finishes, with
   * its index in the array (the lowest, if it appears several times); at
   * once with the lowest index among those already finished. The others run
   * on and are not awaited any more: read their {@link #result()} later, or
   * await the rest again (an {@code as_completed} loop). Cancelling this task
   * cancels only this await.
   *
   * @param tasks at least one task of the same loop, not this one
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} if empty or
   *     this task is among them, {@link Weft#ESTALE} if one is released or of another
   *     loop, {@link Weft#ENOMEM})
   */
  public int awaitFirst(Task... tasks) {
    long[] ids = Stream.of(tasks).mapToLong(Task::id).toArray();
    return arm(null, (p, self) -> WeftNative.weft_await_first(p, self, ids), null);
  }

  /**
   * Await: {@link #awaitFirst(Task...)} of a list; the result indexes it.
   *
   * @param tasks tasks of the same loop
   * @return {@link Weft#PENDING}, or a negative code as {@link #awaitFirst(Task...)}
   */
  public int awaitFirst(java.util.List<Task> tasks) {
    return awaitFirst(tasks.toArray(new Task[0]));
  }

  /**
   * Await: resumes the task once {@code future} is complete (normally,
   * exceptionally or cancelled), whichever thread completes it: the
   * completion is posted back to the loop ({@link Loop#post}), so the task
   * always resumes on the loop thread. Result: 0; read the outcome with
   * {@link CompletableFuture#getNow} or {@link CompletableFuture#join} in the
   * next step. An already complete future resumes the task in the next
   * iteration. Cancelling the task (or its timeout) leaves the future alone.
   * The loop's {@link Loop#run()} keeps running while the task waits.
   *
   * @param future the future; completed by any thread
   * @return {@link Weft#PENDING} or a negative code
   */
  public int await(CompletableFuture<?> future) {
    Objects.requireNonNull(future, "future");
    if (future.isDone()) return yieldNow();
    Event done;
    try {
      done = new Event(st);
    } catch (WeftException e) {
      return e.code();
    }
    long event = done.id; // freed when the await resolves (abandoned: by the collector)
    int rc = arm(done, (p, self) -> WeftNative.weft_await_event(p, self, event), (self, s) -> done.close());
    if (rc != Weft.PENDING) done.close();
    else future.whenComplete((v, e) -> { // ESTALE once the await ended: nothing to do
      try {
        st.post(() -> WeftNative.weft_event_set(st.ptr, event));
      } catch (WeftException closed) {
        // the loop is closed or closing: its events are freed with it
      }
    });
    return rc;
  }

  /**
   * Await: requeues the task behind the tasks already ready ({@code
   * asyncio.sleep(0)}); it resumes in the next iteration. Result: 0.
   *
   * @return {@link Weft#PENDING} or a negative code
   */
  public int yieldNow() {
    return arm(null, WeftNative::weft_await_yield, null);
  }

  /**
   * The throwable thrown by the work of the {@link #awaitThread} this step
   * resumes from, or null. Valid during that step.
   *
   * @return the throwable or null
   */
  public Throwable workException() {
    return core.workFailure;
  }

  /**
   * How many bytes the {@link Socket#send} this step resumes from moved,
   * whatever its result (all of them when it resolved with 0; fewer when it
   * failed, was cancelled or timed out); 0 if the step does not resume from
   * a send. Valid during that step. A {@link java.nio.ByteBuffer}'s position
   * has already advanced by the same count.
   *
   * @return the byte count
   */
  public long lastSent() {
    return core.lastSent;
  }

  /**
   * How many steps of this task have run before the current one: 0 during
   * the first step. Loop thread.
   *
   * @return the step count
   */
  public int stepNumber() {
    return core.steps;
  }

  // --------------------------------------------------------------- control

  /**
   * Requests cooperative cancellation: the pending await resolves with
   * {@link Weft#ECANCELED} (a running task gets it from its next await; a
   * completed await's result is delivered first). The task may clean up and
   * chooses its own result. Cancelling a finished task does nothing.
   */
  public void cancel() {
    control(WeftNative::weft_task_cancel, "task cancel");
  }

  /**
   * Sets a deadline {@code d} from now (like {@code asyncio.timeout}); when it
   * passes, the pending await resolves with {@link Weft#ETIMEDOUT}. Fires
   * once; {@link Duration#ZERO} clears it. Does nothing on a finished task.
   *
   * @param d the time left; not negative
   * @throws WeftException {@link Weft#EINVAL} (negative)
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
    control((p, self) -> WeftNative.weft_task_timeout(p, self, ns), "task timeout");
  }

  /**
   * The task's state as weft reports it.
   *
   * @return the state
   */
  public TaskState state() {
    return TaskState.of(control(WeftNative::weft_task_state, "task state"));
  }

  /**
   * The finished task's result: the value its last step returned (a task
   * cancelled by the loop's close: the value its step returned then, usually
   * {@link Weft#ECANCELED}). Once the task has finished, any thread, also
   * after {@link #close()} or the loop's close (as in the Go and Lua
   * bindings); before, the loop thread.
   *
   * @return the result
   * @throws WeftException {@link Weft#EBUSY} (not finished yet), {@link
   *     Weft#ESTALE} (the loop closed before the task finished), {@link
   *     Weft#EPERM} (unfinished, from another thread while the loop runs); or
   *     {@link Weft#EHOST} with the step's throwable as its cause
   */
  public int result() {
    if (!core.done) { // not finished as far as this thread can tell: weft says why
      int[] out = new int[1];
      control((p, self) -> WeftNative.weft_task_result(p, self, out), "task result");
    }
    Throwable t = core.failure;
    if (t != null && core.result == Weft.EHOST) throw new WeftException(Weft.EHOST, "task step threw", t);
    return core.result;
  }

  /**
   * Whether the task has finished. Any thread.
   *
   * @return true once its last step returned
   */
  public boolean isDone() {
    return core.done;
  }

  /**
   * The throwable its step threw (which finished it with {@link Weft#EHOST}),
   * or null. Any thread.
   *
   * @return the throwable or null
   */
  public Throwable exception() {
    return core.failure;
  }

  /**
   * A future of the task's result, completed on the loop thread when the task
   * finishes (exceptionally with the step's throwable if it threw). Completing
   * it from outside does not affect the task. Any thread.
   *
   * @return the future (the same one on every call)
   */
  public CompletableFuture<Integer> future() {
    synchronized (core) {
      if (core.future == null) core.future = new CompletableFuture<>();
    }
    CompletableFuture<Integer> f = core.future;
    if (core.done) core.complete(f);
    return f;
  }

  /** The work of one {@link #awaitThread}; runs on a pool thread. */
  private static final class ThreadCall implements IntSupplier {
    private final IntSupplier fn;
    volatile Throwable failure;

    ThreadCall(IntSupplier fn) {
      this.fn = fn;
    }

    @Override
    public int getAsInt() {
      try {
        return fn.getAsInt();
      } catch (Throwable t) {
        failure = t;
        return Weft.EHOST;
      }
    }
  }
}
