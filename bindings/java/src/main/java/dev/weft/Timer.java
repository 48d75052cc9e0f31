package dev.weft;

/**
 * A one-shot or repeating timer ({@link Loop#timer}); its callback runs on the
 * loop thread. A one-shot timer ends after its callback; a repeating one runs
 * until {@link #stop()} or until its loop is closed.
 */
public final class Timer extends Handle {
  private final TimerCallback callback;
  private final boolean repeating;

  Timer(Loop.State loop, TimerCallback callback, boolean repeating) {
    super(loop, WeftNative::weft_timer_stop);
    this.callback = callback;
    this.repeating = repeating;
  }

  /** The trampoline's call; an exception goes to the trampoline (and run()). */
  void fire() {
    callback.onTimer(this);
  }

  /**
   * Whether the timer repeats.
   *
   * @return true for a repeating timer
   */
  public boolean isRepeating() {
    return repeating;
  }
}
