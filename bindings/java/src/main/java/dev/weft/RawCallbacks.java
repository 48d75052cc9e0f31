package dev.weft;

/**
 * The Java ends of the pool-work trampolines in {@code native/jweft.c}, called
 * through cached method ids on JNI global references. (Timers, watches, task
 * steps, posts and the logger are called on their own classes.)
 */
final class RawCallbacks {
  private RawCallbacks() {}

  /** Work for a pool thread. */
  @FunctionalInterface
  interface WorkFn {
    int work();
  }

  /** Work for a pool thread and its completion on the loop thread. */
  interface WorkDoneFn extends WorkFn {
    void done(int result);
  }
}
