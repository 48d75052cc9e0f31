package dev.weft;

/** What a {@link Timer} calls on the loop thread each time it fires. */
@FunctionalInterface
public interface TimerCallback {
  /**
   * The timer fired. May call any method of the loop, including {@link
   * Timer#stop()} on this timer. What it throws goes to {@link Loop#run()} (see {@link Loop}).
   *
   * @param timer the timer that fired
   */
  void onTimer(Timer timer);
}
