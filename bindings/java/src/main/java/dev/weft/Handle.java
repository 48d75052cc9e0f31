package dev.weft;

/**
 * What a {@link Timer} and an {@link FdWatch} share: a weft id on a loop, a
 * callback that runs on the loop thread until the handle ends, and {@link
 * #stop()} ({@link #close()} stops it too). A handle ends when it is
 * stopped, when a one-shot timer has fired, or when its loop is closed;
 * weft's release hook reports the end, and with it the binding lets go of
 * the callback. Dropping a live handle does not stop it (package doc).
 */
public abstract sealed class Handle extends Owned permits Timer, FdWatch {
  private volatile boolean active = true;

  Handle(Loop.State loop, Call stop) {
    super(loop, stop);
  }

  /** weft's release hook: weft is done with this handle (called inside weft: touches no loop). */
  final void ended() {
    active = false;
  }

  /**
   * Stops the handle; its callback will not run again. Also from its own
   * callback.
   *
   * @return true if it was live and is stopped now; false if it had already
   *     ended (stopped, fired once, or its loop closed)
   * @throws WeftException {@link Weft#ESTALE} only while another thread closes the loop
   */
  public boolean stop() {
    if (st.isClosed()) return false;
    int rc = st.onLoop(p -> end.call(p, id));
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
}
