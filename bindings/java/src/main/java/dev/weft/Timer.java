package dev.weft;

import java.util.concurrent.locks.Lock;

/**
 * A one-shot or repeating timer ({@link Loop#timer}); its callback runs on the
 * loop thread. A one-shot timer ends after its callback; a repeating one runs
 * until {@link #stop()} or until its loop is closed.
 */
public final class Timer extends Handle {
  private final Loop loop;
  private final TimerCallback callback;
  private final boolean repeating;

  /** What the JNI trampoline calls. */
  final RawCallbacks.TimerFn fn = this::fire;

  Timer(Loop loop, TimerCallback callback, boolean repeating) {
    this.loop = loop;
    this.callback = callback;
    this.repeating = repeating;
  }

  private boolean fire(long timer) {
    final boolean oneShot = !repeating;
    // A one-shot timer ends now: the trampoline deletes the reference when
    // this returns true, so the loop forgets it first.
    if (oneShot) loop.untrack(this);
    try {
      callback.onTimer(this);
    } catch (Throwable t) {
      loop.failed(t);
    }
    return oneShot;
  }

  /**
   * Stops the timer; its callback will not run again. Also from its own
   * callback. Loop thread (or any thread while the loop is not running).
   *
   * @return true if it was live and is stopped now; false if it had already
   *     ended (fired once, stopped, or its loop closed)
   * @throws WeftException {@link Weft#EPERM} from another thread while the loop runs
   */
  public boolean stop() {
    Lock l = loop.enterLoopThread();
    try {
      if (!isActive()) return false;
      WeftException.check(WeftNative.weft_timer_stop(loop.ptr(), id), "timer stop");
      loop.untrackAndRelease(this);
      return true;
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Whether the timer is live: started, and not yet fired (one-shot), stopped
   * or closed with its loop. Any thread (a snapshot).
   *
   * @return true while live
   */
  public boolean isActive() {
    return loop.isTracked(this);
  }

  /**
   * Whether the timer repeats.
   *
   * @return true for a repeating timer
   */
  public boolean isRepeating() {
    return repeating;
  }

  /**
   * The weft id (stale once the timer ended).
   *
   * @return the id
   */
  public long id() {
    return id;
  }

  /**
   * The loop the timer belongs to.
   *
   * @return the loop
   */
  public Loop loop() {
    return loop;
  }
}
