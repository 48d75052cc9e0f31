package dev.weft;

/**
 * The test-only native library (src/test/native/jweft_test.c, built by CMake
 * as libweftjnitest.so, never in the jar). Its path comes from the system
 * property {@code weft.test.native}, which the Maven and CMake test commands set.
 */
final class TestNative {
  static {
    Weft.version(); // libweftjni.so (and libweft.so.0) first
    System.load(System.getProperty("weft.test.native"));
  }

  private TestNative() {}

  /** n trampoline-shaped C->Java calls of fn.run(); total ns. */
  static native long benchCrossing(Runnable fn, int n);

  /** n bare CallVoidMethod upcalls of fn.run() (the JVM's floor); total ns. */
  static native long benchUpcallFloor(Runnable fn, int n);

  /** n times: spawn a C task on loop, run it to its end, release it; 0 or the first error. */
  static native int churnTasks(long loop, int n);

  /** ns per crossing, as {@link #benchCrossing}. */
  static double crossingNanos(int n) {
    Runnable noop = () -> {};
    return (double) benchCrossing(noop, n) / n;
  }
}
