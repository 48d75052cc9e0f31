package dev.weft;

/**
 * What a {@link Timer} and an {@link FdWatch} share: a weft id on a loop, a
 * callback that runs on the loop thread until the handle ends, and {@link
 * #stop()}. A handle ends when it is stopped, when a one-shot timer has
 * fired, or when its loop is closed; weft's release hook reports the end,
 * and with it the binding lets go of the callback.
 *
 * <p>A live handle is held by weft, so dropping the object does not stop it.
 * It does not keep its {@link Loop} reachable: a loop the program drops is
 * closed by the garbage collector, which ends its handles.
 */
public abstract sealed class Handle permits Timer, FdWatch {
  final Loop.State loop;
  /** The weft id; set once the start call returns (no callback runs before). */
  long id;
  private volatile boolean active = true;

  Handle(Loop.State loop) {
    this.loop = loop;
  }

  /** A weft start call that writes the new id into out[0]. */
  @FunctionalInterface
  interface Start {
    int start(long loopPtr, long[] out);
  }

  @SuppressWarnings("unchecked")
  final <H extends Handle> H start(Start s, String what) {
    long[] out = new long[1];
    loop.check(p -> s.start(p, out), what);
    id = out[0];
    return (H) this;
  }

  /** weft's release hook: weft is done with this handle (called inside weft: touches no loop). */
  final void ended() {
    active = false;
  }

  /** weft's stop function of this kind. */
  abstract int stop(long loopPtr, long id);

  /**
   * Stops the handle; its callback will not run again. Also from its own
   * callback. Loop thread (or any thread while the loop is not running).
   *
   * @return true if it was live and is stopped now; false if it had already
   *     ended (stopped, fired once, or its loop closed)
   * @throws WeftException {@link Weft#EPERM} from another thread while the
   *     loop runs, {@link Weft#ESTALE} while another thread closes the loop
   */
  public boolean stop() {
    if (loop.isClosed()) return false;
    int rc = loop.onLoop(p -> stop(p, id));
    return rc != Weft.ESTALE && WeftException.check(rc, "stop") == 0; // ESTALE: weft says it has ended
  }

  /**
   * Whether the handle is live: started, and not stopped, fired (one-shot
   * timer) or ended by its loop's close. Any thread (a snapshot).
   *
   * @return true while live
   */
  public boolean isActive() {
    return active;
  }

  /**
   * The weft id (stale once the handle ended).
   *
   * @return the id
   */
  public long id() {
    return id;
  }

  /**
   * The loop the handle belongs to, or null if that loop was collected.
   *
   * @return the loop
   */
  public Loop loop() {
    return loop.loop();
  }
}
