package dev.weft;

/** What a {@link Timer} calls on the loop thread each time it fires. */
@FunctionalInterface
public interface TimerCallback {
  /**
   * The timer fired. May call any method of the loop, including
   * {@link Timer#stop()} on this timer. An exception thrown here stops the
   * loop after the current iteration and is rethrown by {@link Loop#run()}.
   *
   * @param timer the timer that fired
   */
  void onTimer(Timer timer);
}
