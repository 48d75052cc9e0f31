package dev.weft;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.LongToIntFunction;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * A weft event loop: one thread runs it ({@link #run()}), and many cheap
 * {@link Task}s, {@link Timer}s, {@link FdWatch}es and posted callbacks take
 * turns on it. Close it when done (try-with-resources).
 *
 * <pre>{@code
 * try (Loop loop = new Loop()) {
 *   loop.sleep(Duration.ofMillis(10)).thenRun(() -> System.out.println("slept"));
 *   Task t = loop.spawn((task, status) ->
 *       task.stepNumber() == 0 ? task.sleep(Duration.ofMillis(5)) : 42);
 *   loop.run();                 // until nothing is alive
 *   System.out.println(t.result());
 * }
 * }</pre>
 *
 * <p><b>Threads</b> as in the package doc; {@link #post}, {@link #stop},
 * {@link #stats} and {@link #now} may be called from any thread at any time.
 * The binding guards the native loop so that no interleaving of calls,
 * including {@link #close()} racing other threads, can use freed memory: a
 * call on a closed loop throws {@link WeftException} with {@link Weft#ESTALE}.
 *
 * <p><b>Exceptions.</b> An exception thrown by a callback (timer, fd watch,
 * post, logger, a detached task's step) never unwinds through C: it is caught,
 * the rest of the iteration runs, the loop stops as if {@link #stop()} was
 * called, and {@link #run()} (or {@link #close()}, for callbacks run while
 * closing) rethrows it unchanged, with any later ones as suppressed
 * exceptions. Nothing else is disturbed: call {@link #run()} again to go on.
 * A task's exception goes to the task instead ({@link Task#result()}).
 *
 * <p><b>Ownership.</b> Each callback object is held by a JNI global reference
 * from the call that hands it to weft until weft's release hook says weft is
 * done with it ({@link Weft#liveCallbackRefs()} counts them, and says when).
 * Those references never reach the {@code Loop} object itself:
 * a loop that the program no longer references is closed by the garbage
 * collector (as by {@link #close()}, on the collector's cleaner thread),
 * live tasks, timers and watches included. Hold the loop for as long as you
 * use it or its handles; handles do not keep it reachable.
 */
public final class Loop implements AutoCloseable {
  final State st;
  private final Cleaner.Cleanable cleanable;

  /**
   * Creates a loop (an epoll fd and an eventfd; the thread pool starts on
   * first use). Any thread.
   *
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EMFILE}
   */
  public Loop() {
    long[] out = new long[1];
    WeftException.check(WeftNative.weft_loop_new(out), "loop new");
    st = new State(out[0], this);
    cleanable = Owned.CLEANER.register(this, st);
  }

  /**
   * The native loop and its guard: what handles and callback objects refer
   * to, so that none of them keeps the {@code Loop} reachable. Its run() is
   * the cleaning action that closes a dropped loop.
   */
  static final class State implements Runnable {
    /** The native loop; 0 once closed. */
    volatile long ptr;
    /** Readers: any-thread calls and run() start; writer: close() and loop-thread calls from non-owners. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** The thread inside run() or close(), whose calls need no lock. */
    private final AtomicReference<Thread> owner = new AtomicReference<>();
    volatile boolean closing;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private long loggerToken;
    private final WeakReference<Loop> facade;
    /** The ends of dropped objects ({@link Owned}), run on the loop thread. */
    private final ConcurrentLinkedQueue<LongToIntFunction> ends = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean endPosted = new AtomicBoolean();

    State(long ptr, Loop loop) {
      this.ptr = ptr;
      this.facade = new WeakReference<>(loop);
    }

    Loop loop() {
      return facade.get();
    }

    /** The native pointer, or ESTALE if closed. */
    long ptr() {
      long p = ptr;
      if (p == 0) throw new WeftException(Weft.ESTALE, "loop is closed");
      return p;
    }

    boolean isClosed() {
      return ptr == 0;
    }

    /**
     * Calls f with the native pointer as a loop-thread call: no lock on the
     * owner thread, else the write lock (it serialises foreign threads, as
     * weft requires).
     */
    int onLoop(LongToIntFunction f) {
      return call(lock.writeLock(), f);
    }

    /** As onLoop, for an any-thread call: the read lock. */
    int anyThread(LongToIntFunction f) {
      return call(lock.readLock(), f);
    }

    private int call(Lock l, LongToIntFunction f) {
      if (owner.get() == Thread.currentThread()) return f.applyAsInt(ptr());
      locked(l);
      try {
        return f.applyAsInt(ptr());
      } finally {
        l.unlock();
      }
    }

    /**
     * Takes l. Other threads are refused while the loop is being closed: the
     * closing thread may be waiting for one of them (a pool thread's work
     * that posts).
     */
    private void locked(Lock l) {
      l.lock();
      if (closing) {
        l.unlock();
        throw new WeftException(Weft.ESTALE, "loop is being closed");
      }
    }

    /** onLoop(f), throwing for a negative result. */
    int check(LongToIntFunction f, String what) {
      return WeftException.check(onLoop(f), what);
    }

    boolean run(int mode) {
      final Thread me = Thread.currentThread();
      final long p;
      Lock l = lock.readLock();
      locked(l);
      try {
        p = ptr();
        if (owner.get() == me) throw new WeftException(Weft.EBUSY, "run() inside this loop's own run or close");
        if (!owner.compareAndSet(null, me)) throw new WeftException(Weft.EBUSY, "loop is running on another thread");
      } finally {
        l.unlock();
      }
      int rc;
      try {
        rc = WeftNative.weft_loop_run(p, mode); // rethrows a callback's exception
      } finally {
        owner.set(null);
      }
      WeftException.check(rc, "loop run");
      return rc == 1;
    }

    void post(Runnable r) {
      WeftException.check(anyThread(p -> WeftNative.weft_loop_post(p, r)), "loop post");
    }

    /**
     * Runs end(ptr) in a post on the loop thread (any thread); once the loop
     * is closed, end(0). A close in progress runs what is left when done.
     */
    void endLater(LongToIntFunction end) {
      ends.add(end);
      if (!endPosted.compareAndSet(false, true)) return;
      try {
        post(() -> {
          endPosted.set(false);
          runEnds(ptr);
        });
      } catch (WeftException closed) {
        endPosted.set(false);
        if (isClosed()) runEnds(0);
      }
    }

    private void runEnds(long p) {
      for (LongToIntFunction f; (f = ends.poll()) != null; ) f.applyAsInt(p);
    }

    /** Loop.close(), and the cleaner's action for a loop nobody references. */
    void close() {
      final Thread me = Thread.currentThread();
      final long p;
      Lock l = lock.writeLock();
      l.lock();
      try {
        p = ptr;
        if (p == 0) return;
        Thread o = owner.get();
        if (o == me) throw new WeftException(Weft.EBUSY, "close() inside this loop's own run or close");
        if (o != null && !closing) throw new WeftException(Weft.EBUSY, "loop is running on another thread");
        if (o == null) { // from here on other threads are refused (see locked())
          owner.set(me);
          closing = true;
        }
      } finally {
        l.unlock();
      }
      if (owner.get() != me) { // another thread is closing it: wait for that
        closed.join();
        return;
      }
      try {
        WeftNative.weft_loop_free(p); // cannot fail: not running, not NULL; rethrows a callback's exception
      } finally {
        ptr = 0;
        runEnds(0);
        if (loggerToken != 0) WeftNative.jweft_ref_release(loggerToken);
        loggerToken = 0;
        closing = false; // closed now (ptr is 0): calls fail on that instead
        owner.set(null);
        closed.complete(null);
      }
    }

    @Override
    public void run() {
      try {
        close();
      } catch (Throwable t) {
        // a callback run while closing threw: nobody is left to tell
      }
    }
  }

  // ------------------------------------------------------------- state

  /**
   * Whether {@link #close()} has completed. Any thread.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return st.isClosed();
  }

  /**
   * Whether a thread is inside {@link #run()} (or {@link #close()}) now. Any
   * thread; a snapshot.
   *
   * @return true while running
   */
  public boolean isRunning() {
    return st.owner.get() != null;
  }

  // ---------------------------------------------------------------- run

  /**
   * Runs the loop on this thread until nothing is alive (tasks, timers, fd
   * watches, pool work, posts) or {@link #stop()} is called.
   *
   * @return true if something is still alive (stopped early), false if nothing is
   * @throws WeftException {@link Weft#EBUSY} if the loop is already running
   *     (also from one of its callbacks)
   * @throws RuntimeException (or any throwable) rethrown from a callback, see
   *     the class comment
   */
  public boolean run() {
    return run(WeftNativeConstants.WEFT_RUN_DEFAULT);
  }

  /**
   * Runs one iteration, blocking in the poll (up to the next timer) if
   * nothing is ready. As {@link #run()} otherwise.
   *
   * @return true if something is still alive, false if nothing is (an empty
   *     loop returns at once)
   */
  public boolean runOnce() {
    return run(WeftNativeConstants.WEFT_RUN_ONCE);
  }

  /**
   * Runs one iteration whose poll never blocks. As {@link #run()} otherwise.
   *
   * @return true if something is still alive, false if nothing is
   */
  public boolean runNoWait() {
    return run(WeftNativeConstants.WEFT_RUN_NOWAIT);
  }

  private boolean run(int mode) {
    try {
      return st.run(mode);
    } finally {
      Reference.reachabilityFence(this); // not collected (and closed) while it runs
    }
  }

  /**
   * Asks the current {@link #run()} (or, if none, the next one) to return
   * after the iteration in progress; wakes the loop if it is blocked in the
   * poll. Any thread; {@link Weft#ESTALE} if closed.
   */
  public void stop() {
    WeftException.check(st.anyThread(WeftNative::weft_loop_stop), "loop stop");
  }

  /**
   * Closes the loop: every unfinished task is cancelled and resumed with
   * {@link Weft#ECANCELED} until it finishes; queued pool work is cancelled
   * and running work waited for; timers and watches are stopped without
   * being called (futures waiting on them are cancelled); pending posts run;
   * then everything is freed and weft releases every callback reference it
   * held. Closing again does nothing (a close racing one on another thread
   * waits for it). Any thread while the loop is not running. While it
   * closes, calls from other threads (a pool thread's work posting, say)
   * throw {@link Weft#ESTALE} instead of waiting.
   *
   * @throws WeftException {@link Weft#EBUSY} if the loop is running (also
   *     from one of its own callbacks); the loop is untouched
   * @throws RuntimeException (or any throwable) a callback run while closing threw
   */
  @Override
  public void close() {
    st.close();
    cleanable.clean(); // deregisters; its action finds the loop closed
  }

  // -------------------------------------------------------- any thread

  /**
   * Queues {@code callback} to run once on the loop thread, in a later
   * iteration (never inside this call). Posts run in the order made. Every
   * post runs exactly once: by a run, or by {@link #close()}. Any thread.
   *
   * @param callback what to run
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#ESTALE} if closed
   */
  public void post(Runnable callback) {
    st.post(Objects.requireNonNull(callback, "callback"));
  }

  /**
   * The loop's counters. Any thread; {@link Weft#ESTALE} if closed.
   *
   * @return a snapshot
   */
  public LoopStats stats() {
    long[] v = new long[10];
    WeftException.check(st.anyThread(p -> WeftNative.weft_loop_stats(p, v)), "loop stats");
    return new LoopStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
  }

  /**
   * The monotonic clock in ns as cached at the start of the current (or
   * last) iteration. Any thread; {@link Weft#ESTALE} if closed.
   *
   * @return CLOCK_MONOTONIC nanoseconds
   */
  public long now() {
    long[] v = new long[1];
    st.anyThread(p -> (int) (v[0] = WeftNative.weft_loop_now(p)));
    return v[0];
  }

  // ------------------------------------------------- options and logger

  /**
   * Sets the thread pool size (default 4), before the pool starts (on the
   * first {@link #toThread} or {@link Task#awaitThread}).
   *
   * @param threads 1..1024
   * @throws WeftException {@link Weft#EINVAL} (out of range), {@link
   *     Weft#EBUSY} (running, or the pool has started)
   */
  public void setThreadPoolSize(int threads) {
    setOption(WeftNativeConstants.WEFT_OPT_THREAD_POOL_SIZE, threads);
  }

  /**
   * Callbacks and task steps slower than this are counted ({@link
   * LoopStats#slowCallbacks()}) and logged at {@link Weft#LOG_WARN}.
   *
   * @param ns nanoseconds, &gt;= 0; 0 turns it off (the default)
   * @throws WeftException {@link Weft#EINVAL} (negative), {@link Weft#EBUSY} (running)
   */
  public void setSlowCallbackNanos(long ns) {
    setOption(WeftNativeConstants.WEFT_OPT_SLOW_CALLBACK_NS, ns);
  }

  private void setOption(int option, long value) {
    st.check(p -> WeftNative.weft_loop_set_option(p, option, value), "loop option");
  }

  /**
   * Sets (or with null, clears) the receiver of the loop's log lines; with
   * none, weft prints nothing. The handler runs on the loop thread; what it
   * throws is rethrown by {@link #run()} (it does not stop the loop).
   *
   * @param handler the handler, or null
   */
  public void setLogger(LogHandler handler) {
    st.check(p -> {
      long token = WeftNative.weft_loop_set_logger(p, handler);
      if (token < 0) return (int) token;
      if (st.loggerToken != 0) WeftNative.jweft_ref_release(st.loggerToken);
      st.loggerToken = token;
      return 0;
    }, "loop set_logger");
  }

  /**
   * The backend's fd (the epoll fd, or the io_uring ring's fd), to embed this
   * loop in another one: when it is readable (or after {@link
   * #nextTimeoutNanos()}), call {@link #runNoWait()}. Owned by the loop: do not close it.
   *
   * @return the fd
   */
  public int backendFd() {
    return st.check(WeftNative::weft_loop_backend_fd, "backend fd");
  }

  /**
   * How long an embedder may block before the loop next has work.
   *
   * @return ns: 0 if work is ready, the time to the next timer, or -1 if none
   */
  public long nextTimeoutNanos() {
    long[] v = new long[1];
    st.onLoop(p -> (int) (v[0] = WeftNative.weft_loop_next_timeout(p)));
    if (v[0] < -1) throw new WeftException((int) v[0], "next timeout");
    return v[0];
  }

  // ------------------------------------------------------------- timers

  /**
   * Starts a one-shot timer: {@code callback} runs once on the loop thread
   * after {@code delay} (never early).
   *
   * @param delay not negative
   * @param callback what to run
   * @return the timer
   * @throws WeftException {@link Weft#EINVAL} (negative delay), {@link Weft#ENOMEM}
   */
  public Timer timer(Duration delay, Runnable callback) {
    Objects.requireNonNull(callback, "callback");
    return timerNanos(delay.toNanos(), 0, t -> callback.run());
  }

  /**
   * Starts a timer that fires after {@code delay} and then every {@code
   * period} until stopped ({@link Duration#ZERO} period: once). A repeating
   * timer that falls behind skips the missed periods.
   *
   * @param delay not negative
   * @param period not negative; zero for a one-shot timer
   * @param callback what to run
   * @return the timer
   * @throws WeftException as {@link #timer(Duration, Runnable)}
   */
  public Timer timer(Duration delay, Duration period, TimerCallback callback) {
    return timerNanos(delay.toNanos(), period.toNanos(), callback);
  }

  /**
   * {@link #timer(Duration, Duration, TimerCallback)} in nanoseconds.
   *
   * @param delayNs &gt;= 0
   * @param periodNs &gt;= 0; 0 for a one-shot timer
   * @param callback what to run
   * @return the timer
   * @throws WeftException as {@link #timer(Duration, Runnable)}
   */
  public Timer timerNanos(long delayNs, long periodNs, TimerCallback callback) {
    Timer t = new Timer(st, Objects.requireNonNull(callback, "callback"), periodNs > 0);
    t.start((p, out) -> WeftNative.weft_timer_start(p, delayNs, periodNs, t, out), "timer start", false);
    return t; // held by weft while live: nothing to collect
  }

  // ---------------------------------------------------------- fd watches

  /**
   * Watches {@code fd} (a socket, pipe, eventfd...; see {@link SocketPair})
   * for {@code events}, level-triggered: {@code callback} runs in every
   * iteration in which the fd is ready. The caller keeps owning the fd and
   * must stop the watch before closing it.
   *
   * @param fd the fd
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @param callback what to run
   * @return the watch
   * @throws WeftException {@link Weft#EINVAL} (bad events), {@link Weft#EBADF} (not
   *     open, or not pollable like a regular file), {@link Weft#ENOMEM}, {@link Weft#ENOSPC}
   */
  public FdWatch watch(int fd, int events, FdCallback callback) {
    FdWatch w = new FdWatch(st, fd, events, Objects.requireNonNull(callback, "callback"));
    w.start((p, out) -> WeftNative.weft_fd_watch_start(p, fd, events, w, out), "fd watch start", false);
    return w;
  }

  // -------------------------------------------------------------- tasks

  /**
   * Creates a task whose steps are {@code step} and queues its first step
   * (never run inside this call). The returned object keeps the task's id
   * alive while it is reachable: release it with {@link Task#close()} when
   * its result is no longer needed, or drop it and the garbage collector
   * releases it (the loop's close releases everything).
   *
   * @param step the step function, usually a lambda
   * @return the task
   * @throws WeftException {@link Weft#ENOMEM}
   */
  public Task spawn(Step step) {
    return spawn(step, false);
  }

  /**
   * Creates a detached task: freed when it finishes, its result dropped. An
   * exception its step throws is rethrown by {@link #run()}.
   *
   * @param step the step function
   * @throws WeftException {@link Weft#ENOMEM}
   */
  public void spawnDetached(Step step) {
    spawn(step, true);
  }

  Task spawn(Step step, boolean detached) {
    return new Task(st, new Task.Core(Objects.requireNonNull(step, "step"), detached));
  }

  // ----------------------------------------------- CompletableFuture bridge

  /**
   * A future (see the package doc) completed with null after {@code d}, by
   * a detached task that sleeps; {@link Weft#EINVAL} for a negative {@code d}.
   *
   * @param d not negative
   * @return the future
   */
  public CompletableFuture<Void> sleep(Duration d) {
    long ns = d.toNanos();
    return future(t -> t.sleepNanos(ns), (t, r) -> null, null);
  }

  /**
   * Runs {@code work} on the loop's thread pool (it must not touch the loop
   * but for {@link #post} and {@link #stop}) and completes the future with its
   * value on the loop thread; exceptionally with what it threw, or with a
   * {@link CancellationException} if it never ran (cancelled, or the loop
   * closed first). Cancelling the future before a pool thread takes the work
   * keeps it from running.
   *
   * @param <T> the value type
   * @param work the blocking work
   * @return the future
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EAGAIN}, {@link Weft#ECANCELED} (closing)
   */
  public <T> CompletableFuture<T> toThread(Supplier<T> work) {
    WorkCall<T> call = new WorkCall<>(Objects.requireNonNull(work, "work"));
    long[] out = new long[1];
    st.check(p -> WeftNative.weft_to_thread(p, call, out), "to_thread");
    onCancel(call.future, () -> { // ESTALE once done ran
      if (st.onLoop(p -> WeftNative.weft_work_cancel(p, out[0])) == Weft.EPERM) throw new WeftException(Weft.EPERM);
    });
    return call.future;
  }

  /**
   * A future (see the package doc) of the ready events (&gt; 0) the first
   * time {@code fd} is readable, by a detached task awaiting it; {@link
   * Weft#EBADF} for a bad fd.
   *
   * @param fd a pollable fd
   * @return the future
   */
  public CompletableFuture<Integer> readable(int fd) {
    return ready(fd, Weft.READABLE);
  }

  /**
   * As {@link #readable(int)}, for writability.
   *
   * @param fd a pollable fd
   * @return the future
   */
  public CompletableFuture<Integer> writable(int fd) {
    return ready(fd, Weft.WRITABLE);
  }

  /**
   * As {@link #readable(int)}, for {@code events}.
   *
   * @param fd a pollable fd
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @return the future
   */
  public CompletableFuture<Integer> ready(int fd, int events) {
    return future(t -> t.awaitFd(fd, events), (t, r) -> r, null);
  }

  /**
   * A detached task making one await; the future gets value(task, result)
   * (ECANCELED cancels it, other errors fail it); orphan, if not null, gets a
   * value the future did not take (it was cancelled).
   */
  <T> CompletableFuture<T> future(ToIntFunction<Task> await, BiFunction<Task, Integer, T> value, Consumer<T> orphan) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Task task = spawn((t, s) -> {
      int r = t.stepNumber() == 0 && s == 0 ? await.applyAsInt(t) : s; // cancelled before it started: s < 0
      if (r == Weft.ECANCELED) f.cancel(false);
      else if (r < 0) f.completeExceptionally(new WeftException(r));
      else if (r != Weft.PENDING) {
        T v = value.apply(t, r);
        if (!f.complete(v) && orphan != null) orphan.accept(v);
      }
      return r;
    }, true);
    onCancel(f, task::cancel);
    return f;
  }

  /**
   * A future (see the package doc) of the index of the first of {@code tasks}
   * to finish, by a detached task making {@link Task#awaitFirst(Task...)}
   * (with its errors); cancelling it cancels only that wait.
   *
   * @param tasks tasks of this loop
   * @return the future
   */
  public CompletableFuture<Integer> first(Task... tasks) {
    Task[] copy = tasks.clone();
    return future(t -> t.awaitFirst(copy), (t, r) -> r, null);
  }

  /**
   * Runs action if f gets cancelled by its user: at once on the loop thread
   * or while the loop is not running; posted to the loop thread while it runs
   * on another. Once the handle has ended (ESTALE), or the loop is closed,
   * there is nothing to do.
   */
  private void onCancel(CompletableFuture<?> f, Runnable action) {
    f.whenComplete((v, e) -> {
      if (!f.isCancelled() || st.isClosed() || st.closing) return;
      try {
        action.run();
      } catch (WeftException busy) {
        if (busy.code() != Weft.EPERM) return;
        try {
          st.post(action);
        } catch (WeftException closed) {
          // closed meanwhile: the handle has ended with it
        }
      }
    });
  }

  /** Pool work: getAsInt() on a pool thread, then accept(result) on the loop thread (weft's done). */
  interface WorkDone extends java.util.function.IntSupplier, java.util.function.IntConsumer {}

  /** The work and completion of one {@link #toThread}. */
  private static final class WorkCall<T> implements WorkDone {
    final CompletableFuture<T> future = new CompletableFuture<>();
    private final Supplier<T> work;
    private volatile T value;
    private volatile Throwable failure;

    WorkCall(Supplier<T> work) {
      this.work = work;
    }

    @Override
    public int getAsInt() { // the work, on a pool thread: 0, or EHOST if it threw
      try {
        value = work.get();
        return 0;
      } catch (Throwable t) {
        failure = t;
        return Weft.EHOST;
      }
    }

    @Override
    public void accept(int result) { // done, on the loop thread
      if (failure != null) future.completeExceptionally(failure);
      else if (result != 0) // ECANCELED, or EAGAIN (not attached to the JVM): it never ran
        future.completeExceptionally(new CancellationException("work cancelled before it ran"));
      else future.complete(value);
    }
  }
}
