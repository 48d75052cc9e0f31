package dev.weft;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

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
 * <p><b>Threads.</b> A loop belongs to the thread running it. {@link #post},
 * {@link #stop}, {@link #stats} and {@link #now} may be called from any thread
 * at any time. Every other method is for the loop thread: from callbacks and
 * task steps while it runs, or from any one thread while it does not run;
 * from another thread while it runs they throw {@link WeftException} with
 * {@link Weft#EPERM} ({@link Weft#EBUSY} for run, close and the options).
 * Callbacks run on the loop thread, never inside the call that registered
 * them. The binding guards the native loop so that no interleaving of calls,
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
 * <p><b>Native references.</b> Each callback object is held by a JNI global
 * reference for exactly as long as its handle lives; timers and watches
 * still live at {@link #close()} (which stops them without calling them) are
 * released by close. {@link Weft#liveCallbackRefs()} counts them.
 */
public final class Loop implements AutoCloseable {
  /** The native loop; 0 once closed. */
  private volatile long ptr;
  /** Readers: any-thread calls and run() start; writer: close() and loop-thread calls from non-owners. */
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  /** The thread inside run() or close(), whose calls need no lock. */
  private final AtomicReference<Thread> owner = new AtomicReference<>();
  private volatile boolean closing;
  /** Notified when close() completes. */
  private final Object closed = new Object();
  private boolean closeDone; // guarded by closed

  /** Live timers and watches (see Handle). */
  private final Object handleLock = new Object();
  private Handle handles;

  private long loggerToken;
  /** The first callback exception since run() last returned (loop thread). */
  private Throwable pending;

  /**
   * Creates a loop (an epoll fd and an eventfd; the thread pool starts on
   * first use). Any thread.
   *
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EMFILE}
   */
  public Loop() {
    long[] out = new long[1];
    WeftException.check(WeftNative.weft_loop_new(out), "loop new");
    ptr = out[0];
  }

  // ----------------------------------------------------------- guarding

  /** The native pointer, or ESTALE if closed. */
  long ptr() {
    long p = ptr;
    if (p == 0) throw new WeftException(Weft.ESTALE, "loop is closed");
    return p;
  }

  /**
   * Whether {@link #close()} has completed. Any thread.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return ptr == 0;
  }

  /**
   * Whether a thread is inside {@link #run()} (or {@link #close()}) now. Any
   * thread; a snapshot.
   *
   * @return true while running
   */
  public boolean isRunning() {
    return owner.get() != null;
  }

  /**
   * For a loop-thread call: no lock on the owner thread, else the write lock.
   * Other threads are refused while the loop is being closed (weft forbids
   * them then, and the closing thread may be waiting for one of them: a pool
   * thread's work that posts).
   */
  Lock enterLoopThread() {
    if (owner.get() == Thread.currentThread()) return null;
    return locked(lock.writeLock());
  }

  /** For an any-thread call: no lock on the owner thread, else the read lock. */
  private Lock enterAnyThread() {
    if (owner.get() == Thread.currentThread()) return null;
    return locked(lock.readLock());
  }

  private Lock locked(Lock l) {
    l.lock();
    if (closing) {
      l.unlock();
      throw new WeftException(Weft.ESTALE, "loop is being closed");
    }
    return l;
  }

  static void exit(Lock l) {
    if (l != null) l.unlock();
  }

  // ------------------------------------------------------------ handles

  private void track(Handle h) {
    synchronized (handleLock) {
      h.prev = null;
      h.next = handles;
      if (handles != null) handles.prev = h;
      handles = h;
      h.live = true;
    }
  }

  /** Unlinks h; the caller now owns h's reference. False if h was not live. */
  boolean untrack(Handle h) {
    synchronized (handleLock) {
      if (!h.live) return false;
      if (h.prev != null) h.prev.next = h.next;
      else handles = h.next;
      if (h.next != null) h.next.prev = h.prev;
      h.prev = h.next = null;
      h.live = false;
      return true;
    }
  }

  void untrackAndRelease(Handle h) {
    if (untrack(h)) {
      long token = h.token;
      h.token = 0;
      WeftNativeJNI.release(token);
    }
  }

  boolean isTracked(Handle h) {
    synchronized (handleLock) {
      return h.live;
    }
  }

  /** After weft_loop_free: the handles still live were stopped without a call. */
  private void releaseAll() {
    for (;;) {
      Handle h;
      synchronized (handleLock) {
        h = handles;
      }
      if (h == null) return;
      untrackAndRelease(h);
      if (h.onLoopClose != null) h.onLoopClose.run();
    }
  }

  // ---------------------------------------------------------- exceptions

  /** A callback threw (loop thread, inside run or close): keep it and stop after this iteration. */
  void failed(Throwable t) {
    record(t);
    long p = ptr;
    if (p != 0 && !closing) WeftNative.weft_loop_stop(p);
  }

  /** Keeps t for run()/close() to rethrow (the first one; later ones as its suppressed). */
  private void record(Throwable t) {
    if (pending == null) pending = t;
    else if (pending != t) pending.addSuppressed(t);
  }

  private void rethrowPending() {
    Throwable t = pending;
    if (t != null) {
      pending = null;
      Loop.<RuntimeException>sneakyThrow(t);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> void sneakyThrow(Throwable t) throws T {
    throw (T) t;
  }

  // ---------------------------------------------------------------- run

  /**
   * Runs the loop on this thread until nothing is alive (tasks, timers, fd
   * watches, pool work, posts) or {@link #stop()} is called.
   *
   * @return true if something is still alive (stopped early), false if nothing is
   * @throws WeftException {@link Weft#EBUSY} if the loop is already running
   *     (also from one of its callbacks), {@link Weft#ESTALE} if closed
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
    final Thread me = Thread.currentThread();
    final long p;
    Lock l = lock.readLock();
    l.lock();
    try {
      p = ptr();
      if (closing) throw new WeftException(Weft.ESTALE, "loop is being closed");
      if (owner.get() == me) throw new WeftException(Weft.EBUSY, "run() inside this loop's own run or close");
      if (!owner.compareAndSet(null, me)) throw new WeftException(Weft.EBUSY, "loop is running on another thread");
    } finally {
      l.unlock();
    }
    int rc = 0;
    try {
      rc = WeftNative.weft_loop_run(p, mode);
    } catch (Throwable t) { // rethrown by the native wrapper: a callback's
      record(t);
    } finally {
      owner.set(null);
    }
    rethrowPending();
    WeftException.check(rc, "loop run");
    return rc == 1;
  }

  /**
   * Asks the current {@link #run()} (or, if none, the next one) to return
   * after the iteration in progress; wakes the loop if it is blocked. Any
   * thread.
   *
   * @throws WeftException {@link Weft#ESTALE} if closed
   */
  public void stop() {
    Lock l = enterAnyThread();
    try {
      WeftException.check(WeftNative.weft_loop_stop(ptr()), "loop stop");
    } finally {
      exit(l);
    }
  }

  /**
   * Closes the loop: every unfinished task is cancelled and resumed with
   * {@link Weft#ECANCELED} until it finishes; queued pool work is cancelled
   * and running work waited for; timers and watches are stopped without
   * being called; pending posts run; then everything is freed, and the JNI
   * references of what was live are deleted. Closing again does nothing (a
   * close racing one on another thread waits for it). Any thread while the
   * loop is not running. While it closes, calls from other threads (a pool
   * thread's work posting, say) throw {@link Weft#ESTALE} instead of waiting.
   *
   * @throws WeftException {@link Weft#EBUSY} if the loop is running (also
   *     from one of its own callbacks); the loop is untouched
   * @throws RuntimeException (or any throwable) a callback run while closing threw
   */
  @Override
  public void close() {
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
      if (o == null) {
        // From here on other threads are refused (see locked()), so that
        // weft_loop_free runs without the lock: pool work it waits for may post.
        owner.set(me);
        closing = true;
      }
    } finally {
      l.unlock();
    }
    if (owner.get() != me) { // another thread is closing it: wait for that
      synchronized (closed) {
        while (!closeDone) {
          try {
            closed.wait();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
      return;
    }
    try {
      int rc = 0;
      try {
        rc = WeftNative.weft_loop_free(p);
      } catch (Throwable t) {
        record(t);
      }
      if (rc != 0) { // cannot happen: not running, not NULL
        closing = false;
        throw new WeftException(rc, "loop free");
      }
      ptr = 0;
      releaseAll();
      if (loggerToken != 0) {
        WeftNativeJNI.release(loggerToken);
        loggerToken = 0;
      }
    } finally {
      synchronized (closed) {
        closing = false; // closed now (ptr is 0): calls fail on that instead
        owner.set(null);
        closeDone = true;
        closed.notifyAll();
      }
    }
    rethrowPending();
  }

  // -------------------------------------------------------- any thread

  /**
   * Queues {@code callback} to run once on the loop thread, in a later
   * iteration (never inside this call). Posts run in the order made. Every
   * post runs exactly once: by a run, or by {@link #close()}. Any thread.
   *
   * @param callback what to run
   * @throws WeftException {@link Weft#ESTALE} if closed, {@link Weft#ENOMEM}
   */
  public void post(Runnable callback) {
    Objects.requireNonNull(callback, "callback");
    Lock l = enterAnyThread();
    try {
      WeftException.check(WeftNative.weft_loop_post(ptr(), callback), "loop post");
    } finally {
      exit(l);
    }
  }

  /**
   * The loop's counters. Any thread.
   *
   * @return a snapshot
   * @throws WeftException {@link Weft#ESTALE} if closed
   */
  public LoopStats stats() {
    long[] v = new long[10];
    Lock l = enterAnyThread();
    try {
      WeftException.check(WeftNative.weft_loop_stats(ptr(), v), "loop stats");
    } finally {
      exit(l);
    }
    return LoopStats.of(v);
  }

  /**
   * The monotonic clock in ns as cached at the start of the current (or
   * last) iteration. Any thread.
   *
   * @return CLOCK_MONOTONIC nanoseconds
   * @throws WeftException {@link Weft#ESTALE} if closed
   */
  public long now() {
    Lock l = enterAnyThread();
    try {
      return WeftNative.weft_loop_now(ptr());
    } finally {
      exit(l);
    }
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
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_loop_set_option(ptr(), option, value), "loop option");
    } finally {
      exit(l);
    }
  }

  /**
   * Sets (or with null, clears) the receiver of the loop's log lines; with
   * none, weft prints nothing. The handler runs on the loop thread; what it
   * throws is rethrown by {@link #run()} (it does not stop the loop).
   *
   * @param handler the handler, or null
   * @throws WeftException {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public void setLogger(LogHandler handler) {
    RawCallbacks.LogFn fn = null;
    if (handler != null) {
      fn = (level, message) -> {
        try {
          handler.log(level, message);
        } catch (Throwable t) {
          record(t);
        }
      };
    }
    Lock l = enterLoopThread();
    try {
      long token = WeftNative.weft_loop_set_logger(ptr(), fn);
      if (token < 0) throw new WeftException((int) token, "loop set_logger");
      if (loggerToken != 0) WeftNativeJNI.release(loggerToken);
      loggerToken = token;
    } finally {
      exit(l);
    }
  }

  /**
   * The epoll fd, to embed this loop in another one: when it is readable (or
   * after {@link #nextTimeoutNanos()}), call {@link #runNoWait()}. Owned by
   * the loop: do not close it.
   *
   * @return the fd
   * @throws WeftException {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public int backendFd() {
    Lock l = enterLoopThread();
    try {
      return WeftException.check(WeftNative.weft_loop_backend_fd(ptr()), "backend fd");
    } finally {
      exit(l);
    }
  }

  /**
   * How long an embedder may block before the loop next has work.
   *
   * @return ns: 0 if work is ready, the time to the next timer, or -1 if none
   * @throws WeftException {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public long nextTimeoutNanos() {
    Lock l = enterLoopThread();
    try {
      long r = WeftNative.weft_loop_next_timeout(ptr());
      if (r < -1) throw new WeftException((int) r, "next timeout");
      return r;
    } finally {
      exit(l);
    }
  }

  // ------------------------------------------------------------- timers

  /**
   * Starts a one-shot timer: {@code callback} runs once on the loop thread
   * after {@code delay} (never early).
   *
   * @param delay not negative
   * @param callback what to run
   * @return the timer
   * @throws WeftException {@link Weft#EINVAL} (negative delay), {@link
   *     Weft#ENOMEM}, {@link Weft#EPERM}, {@link Weft#ESTALE}
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
    Objects.requireNonNull(callback, "callback");
    Timer t = new Timer(this, callback, periodNs > 0);
    long[] out = new long[2];
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_timer_start(ptr(), delayNs, periodNs, t.fn, out), "timer start");
      t.id = out[0];
      t.token = out[1];
      track(t);
    } finally {
      exit(l);
    }
    return t;
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
   * @throws WeftException {@link Weft#EINVAL} (bad events), {@link
   *     Weft#EBADF} (not open, or not pollable like a regular file), {@link
   *     Weft#ENOMEM}, {@link Weft#ENOSPC}, {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public FdWatch watch(int fd, int events, FdCallback callback) {
    Objects.requireNonNull(callback, "callback");
    FdWatch w = new FdWatch(this, fd, events, callback);
    long[] out = new long[2];
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_fd_watch_start(ptr(), fd, events, w.fn, out), "fd watch start");
      w.id = out[0];
      w.token = out[1];
      track(w);
    } finally {
      exit(l);
    }
    return w;
  }

  // -------------------------------------------------------------- tasks

  /**
   * Creates a task whose steps are {@code step} and queues its first step
   * (never run inside this call). Release it with {@link Task#close()} when
   * its result is no longer needed (or leave that to {@link #close()}).
   *
   * @param step the step function, usually a lambda
   * @return the task
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public Task spawn(Step step) {
    Objects.requireNonNull(step, "step");
    Task t = new Task(this, step, false);
    long[] out = new long[1];
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_task_spawn(ptr(), t.fn, out), "task spawn");
      t.started(out[0]);
    } finally {
      exit(l);
    }
    return t;
  }

  /**
   * Creates a detached task: freed when it finishes, its result dropped. An
   * exception its step throws is rethrown by {@link #run()}.
   *
   * @param step the step function
   * @throws WeftException as {@link #spawn(Step)}
   */
  public void spawnDetached(Step step) {
    Objects.requireNonNull(step, "step");
    Task t = new Task(this, step, true);
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_task_spawn(ptr(), t.fn, null), "task spawn");
    } finally {
      exit(l);
    }
  }

  // ----------------------------------------------- CompletableFuture bridge

  /**
   * A future completed (with null) on the loop thread after {@code d}, by a
   * one-shot timer. Cancelling the future stops the timer; closing the loop
   * first cancels the future.
   *
   * @param d not negative
   * @return the future
   * @throws WeftException as {@link #timer(Duration, Runnable)}
   */
  public CompletableFuture<Void> sleep(Duration d) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    Timer t = timerNanos(d.toNanos(), 0, timer -> f.complete(null));
    t.onLoopClose = () -> f.cancel(false);
    onCancel(f, t::stop);
    return f;
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
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EAGAIN}, {@link
   *     Weft#ECANCELED} (closing), {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public <T> CompletableFuture<T> toThread(Supplier<T> work) {
    Objects.requireNonNull(work, "work");
    WorkCall<T> call = new WorkCall<>(work);
    long[] out = new long[2];
    Lock l = enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_to_thread(ptr(), call, out), "to_thread");
      call.id = out[0];
    } finally {
      exit(l);
    }
    onCancel(call.future, () -> {
      Lock lk = enterLoopThread();
      try {
        if (isClosed() || call.finished) return;
        int rc = WeftNative.weft_work_cancel(ptr(), call.id);
        if (rc == Weft.EPERM) throw new WeftException(rc, "work cancel");
      } finally {
        exit(lk);
      }
    });
    return call.future;
  }

  /**
   * A future completed on the loop thread with the ready events (&gt; 0) the
   * first time {@code fd} is readable, by a one-shot fd watch. Cancelling the
   * future stops the watch; closing the loop first cancels the future.
   *
   * @param fd a pollable fd
   * @return the future
   * @throws WeftException as {@link #watch}
   */
  public CompletableFuture<Integer> readable(int fd) {
    return ready(fd, Weft.READABLE);
  }

  /**
   * As {@link #readable(int)}, for writability.
   *
   * @param fd a pollable fd
   * @return the future
   * @throws WeftException as {@link #watch}
   */
  public CompletableFuture<Integer> writable(int fd) {
    return ready(fd, Weft.WRITABLE);
  }

  /**
   * A future completed on the loop thread with the ready events (&gt; 0) the
   * first time {@code fd} is ready for {@code events}.
   *
   * @param fd a pollable fd
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @return the future
   * @throws WeftException as {@link #watch}
   */
  public CompletableFuture<Integer> ready(int fd, int events) {
    CompletableFuture<Integer> f = new CompletableFuture<>();
    FdWatch w = watch(fd, events, (watch, ev) -> {
      watch.stop();
      f.complete(ev);
    });
    w.onLoopClose = () -> f.cancel(false);
    onCancel(f, w::stop);
    return f;
  }

  /**
   * Runs action if f gets cancelled: at once on the loop thread or while the
   * loop is not running; posted to the loop thread while it runs on another.
   */
  private void onCancel(CompletableFuture<?> f, Runnable action) {
    f.whenComplete((v, e) -> {
      if (!f.isCancelled() || isClosed()) return;
      try {
        action.run();
      } catch (WeftException busy) {
        if (busy.code() != Weft.EPERM) return; // closed meanwhile: ended with the loop
        try {
          post(action);
        } catch (WeftException closed) {
          // closed meanwhile: the handle has ended with it
        }
      }
    });
  }

  /** The work and completion of one {@link #toThread}. */
  private static final class WorkCall<T> implements RawCallbacks.WorkDoneFn {
    final CompletableFuture<T> future = new CompletableFuture<>();
    private final Supplier<T> work;
    long id;
    boolean finished;
    private volatile boolean ran;
    private volatile T value;
    private volatile Throwable failure;

    WorkCall(Supplier<T> work) {
      this.work = work;
    }

    @Override
    public int work() {
      ran = true;
      try {
        value = work.get();
        return 0;
      } catch (Throwable t) {
        failure = t;
        return Weft.EHOST;
      }
    }

    @Override
    public void done(long workId, int result) {
      finished = true;
      if (!ran) {
        future.completeExceptionally(new CancellationException("work cancelled before it ran"));
      } else if (failure != null) {
        future.completeExceptionally(failure);
      } else {
        future.complete(value);
      }
    }
  }
}
