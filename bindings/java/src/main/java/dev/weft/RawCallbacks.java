package dev.weft;

/**
 * The Java ends of the JNI trampolines in {@code native/jweft.c}: one
 * functional interface per weft callback type, each called through a cached
 * method id on a JNI global reference. Package-private: the public API wraps
 * user lambdas in objects that implement these.
 */
final class RawCallbacks {
  private RawCallbacks() {}

  /** A timer fired; returns true if the handle ended (its reference may go). */
  @FunctionalInterface
  interface TimerFn {
    boolean onTimer(long timer);
  }

  /** An fd watch is ready. */
  @FunctionalInterface
  interface FdFn {
    void onFd(long watch, int events);
  }

  /** One task step: returns WEFT_PENDING after arming an await, else the result. */
  @FunctionalInterface
  interface StepFn {
    int step(long self, int status);
  }

  /** Work for a pool thread. */
  @FunctionalInterface
  interface WorkFn {
    int work();
  }

  /** Work for a pool thread and its completion on the loop thread. */
  interface WorkDoneFn extends WorkFn {
    void done(long work, int result);
  }

  /** A log line of the loop. */
  @FunctionalInterface
  interface LogFn {
    void log(int level, String message);
  }
}
