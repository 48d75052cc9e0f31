package dev.weft;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the binding's weft objects share: a loop, a weft id (a socket's: its
 * fd) and its end (free, release, close, stop), ended as the package doc's
 * Lifetime rule says (a {@link Handle} is held by weft while it lives, so
 * the collector has nothing to end).
 */
abstract class Owned implements AutoCloseable {
  /** Closes dropped loops and ends dropped objects. */
  static final Cleaner CLEANER = Cleaner.create();

  /**
   * A weft call with the loop pointer and an id: an await or control call of
   * a task, or an end (free, release, close). An end is called with loop 0
   * once the loop is closed (weft says EINVAL): a socket closes its fd then,
   * which weft leaves open.
   */
  @FunctionalInterface
  interface Call {
    int call(long loop, long id);
  }

  /** A weft function that creates an object, writing its id to out[0]. */
  @FunctionalInterface
  interface Create {
    int create(long loop, long[] out);
  }

  final Loop.State st;
  final Call end;
  /** The weft id; set once, by the constructor or {@link #start}. */
  long id;
  private Ending ending;
  private Cleaner.Cleanable cleanable;

  /** For {@link #start} later (a handle passes itself to weft as its callback). */
  Owned(Loop.State st, Call end) {
    this.st = st;
    this.end = end;
  }

  /** An owned id; end null: nothing to end (a detached task). */
  Owned(Loop.State st, long id, Call end) {
    this(st, end);
    own(id, true);
  }

  /** Creates the object with {@code create} (throwing for an error), then owns it. */
  Owned(Loop.State st, Create create, Call end, String what) {
    this(st, end);
    start(create, what, true);
  }

  /** Creates it; collect: the collector ends it once unreachable. */
  final void start(Create create, String what, boolean collect) {
    long[] out = new long[1];
    st.check(p -> create.create(p, out), what);
    own(out[0], collect);
  }

  private void own(long id, boolean collect) {
    this.id = id;
    ending = new Ending(st, id, end);
    if (end == null) ending.set(true);
    else if (collect) cleanable = CLEANER.register(this, ending);
  }

  /** The end, shared by close() and the cleaner: it must not refer to the Owned. */
  private static final class Ending extends AtomicBoolean implements Runnable {
    final Loop.State st;
    final long id;
    final Call end;

    Ending(Loop.State st, long id, Call end) {
      this.st = st;
      this.id = id;
      this.end = end;
    }

    /** The collector's action: end it on the loop thread. */
    @Override
    public void run() {
      if (compareAndSet(false, true)) st.endLater(p -> end.call(p, id));
    }
  }

  /**
   * Ends the object in weft, once: frees it (an event, a semaphore, a lock, a
   * queue: see its class doc for its waiting tasks); releases it (a task: a
   * finished one is freed and its id goes stale, an unfinished one runs on,
   * detached, and is freed when it finishes); closes it (a socket: operations
   * still waiting resolve with {@link Weft#ECLOSED}, a partial send reporting
   * its count, then the fd is closed); or stops it (a timer, a watch). Later
   * calls, and calls after the loop closed, do nothing more (a socket whose
   * loop is closed is closed with close(2)). {@link Weft#EPERM} ends nothing.
   */
  @Override
  public void close() {
    if (!ending.compareAndSet(false, true)) return;
    int rc;
    try {
      rc = st.onLoop(p -> end.call(p, id));
    } catch (WeftException closed) { // ESTALE: the loop is closed, or closing on another thread
      st.endLater(p -> end.call(p, id));
      rc = 0;
    }
    if (rc == Weft.EPERM) {
      ending.set(false);
      throw new WeftException(rc, "close");
    }
    if (cleanable != null) cleanable.clean(); // deregisters; its action finds the object ended
  }

  /** The Loop, for the future helpers; ESTALE once it is closed (or collected). */
  Loop loopOrThrow() {
    Loop l = st.loop();
    if (l == null || st.isClosed()) throw new WeftException(Weft.ESTALE, "loop is closed");
    return l;
  }

  /** Runs f once (done guards it; EPERM leaves it undone), quietly once it is gone or the loop closed. */
  final void once(AtomicBoolean done, java.util.function.LongToIntFunction f, String what) {
    if (!done.compareAndSet(false, true) || st.isClosed()) return;
    int rc = st.onLoop(f);
    if (rc == Weft.EPERM) done.set(false);
    if (rc != Weft.ESTALE) WeftException.check(rc, what);
  }

  /** A try- call c(loop, id) on the loop thread: false for EAGAIN; throws for other errors. */
  final boolean tryCall(Call c, String what) {
    int rc = st.onLoop(p -> c.call(p, id));
    return rc != Weft.EAGAIN && WeftException.check(rc, what) >= 0;
  }

  /** Whether {@link #close()} (or the collector) has ended it. */
  final boolean isEnded() {
    return ending.get();
  }

  /**
   * The weft id (a socket's: its fd); stale once it has ended.
   *
   * @return the id
   */
  public long id() {
    return id;
  }

  /**
   * The loop it belongs to, or null if that loop was collected (it does not
   * keep its loop reachable).
   *
   * @return the loop
   */
  public Loop loop() {
    return st.loop();
  }
}
