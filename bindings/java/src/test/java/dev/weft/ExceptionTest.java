package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A Java exception thrown in a callback never unwinds through C. */
class ExceptionTest extends WeftTestBase {
  @Test
  void postExceptionIsRethrownFromRunAndTheIterationGoesOn() {
    try (Loop loop = new Loop()) {
      List<String> seen = new ArrayList<>();
      RuntimeException boom = new RuntimeException("post");
      loop.post(() -> seen.add("before"));
      loop.post(() -> {
        throw boom;
      });
      loop.post(() -> seen.add("after")); // same iteration: still runs
      RuntimeException e = assertThrows(RuntimeException.class, loop::run);
      assertSame(boom, e);
      assertEquals(List.of("before", "after"), seen);
      assertFalse(loop.run()); // nothing disturbed: the loop runs on
    }
  }

  @Test
  void timerExceptionStopsTheRunThenTheLoopContinues() {
    try (Loop loop = new Loop()) {
      int[] ticks = {0};
      Timer t = loop.timer(Duration.ZERO, ms(1), tm -> {
        if (++ticks[0] == 2) throw new IllegalStateException("tick 2");
        if (ticks[0] == 4) tm.stop();
      });
      IllegalStateException e = assertThrows(IllegalStateException.class, loop::run);
      assertEquals("tick 2", e.getMessage());
      assertEquals(2, ticks[0]);
      assertTrue(t.isActive());
      assertFalse(loop.run());
      assertEquals(4, ticks[0]);
    }
  }

  @Test
  void oneShotTimerThatThrowsStillEnds() {
    try (Loop loop = new Loop()) {
      Timer t = loop.timer(Duration.ZERO, () -> {
        throw new IllegalStateException();
      });
      assertThrows(IllegalStateException.class, loop::run);
      assertFalse(t.isActive());
      assertEquals(0, loop.stats().timersActive());
    }
  }

  @Test
  void fdCallbackException() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      FdWatch w = loop.watch(p.fd0(), Weft.WRITABLE, (watch, ev) -> {
        throw new ArrayIndexOutOfBoundsException("fd");
      });
      assertThrows(ArrayIndexOutOfBoundsException.class, loop::run);
      assertTrue(w.isActive());
      w.stop();
    }
  }

  @Test
  void laterExceptionsAreSuppressedOnTheFirst() {
    try (Loop loop = new Loop()) {
      for (int i = 0; i < 3; i++) {
        int k = i;
        loop.post(() -> {
          throw new IllegalStateException("e" + k);
        });
      }
      IllegalStateException e = assertThrows(IllegalStateException.class, loop::run);
      assertEquals("e0", e.getMessage());
      assertEquals(2, e.getSuppressed().length);
      assertEquals("e1", e.getSuppressed()[0].getMessage());
    }
  }

  @Test
  void errorsAndCheckedExceptionsPassUnchanged() {
    try (Loop loop = new Loop()) {
      loop.post(() -> {
        throw new AssertionError("an error");
      });
      assertEquals("an error", assertThrows(AssertionError.class, loop::run).getMessage());
      loop.post(() -> sneaky(new java.io.IOException("checked")));
      Exception e = assertThrows(Exception.class, loop::run);
      assertInstanceOf(java.io.IOException.class, e);
    }
  }

  @Test
  void stackOverflowInACallback() {
    try (Loop loop = new Loop()) {
      loop.post(ExceptionTest::recurse);
      assertThrows(StackOverflowError.class, loop::run);
      int[] ok = {0};
      loop.post(() -> ok[0] = 1);
      loop.run();
      assertEquals(1, ok[0]);
    }
  }

  @Test
  void exceptionDuringCloseIsRethrownByClose() {
    Loop loop = new Loop();
    loop.post(() -> {
      throw new IllegalStateException("at close");
    });
    IllegalStateException e = assertThrows(IllegalStateException.class, loop::close);
    assertEquals("at close", e.getMessage());
    assertTrue(loop.isClosed());
  }

  @Test
  void workExceptionNeverEscapesThePoolThread() throws Exception {
    try (Loop loop = new Loop()) {
      var f = loop.toThread(() -> {
        throw new OutOfMemoryError("pretend");
      });
      loop.run();
      assertTrue(f.isCompletedExceptionally());
    }
  }

  @Test
  void rawTrampolineCatchesWhatEscapesTheJavaLayer() {
    // Raw callback objects straight into the SWIG layer: the native
    // trampoline's ExceptionCheck keeps the exception and run() rethrows it.
    try (Loop loop = new Loop(); SocketPair p = SocketPair.open()) {
      long[] out = new long[1];
      FdWatch raw = new FdWatch(loop.st, p.fd0(), Weft.WRITABLE, (w, ev) -> {
        throw new IllegalStateException("raw");
      });
      assertEquals(0, WeftNative.weft_fd_watch_start(loop.st.ptr(), p.fd0(), Weft.WRITABLE, raw, out));
      assertEquals("raw", assertThrows(IllegalStateException.class, loop::run).getMessage());
      assertEquals(0, WeftNative.weft_fd_watch_stop(loop.st.ptr(), out[0]));
      assertFalse(raw.isActive()); // the release hook ended it
      // No stop is left over for the next run: it runs until the timer fired.
      boolean[] fired = {false};
      loop.timer(ms(2), () -> fired[0] = true);
      assertFalse(loop.run());
      assertTrue(fired[0]);
    }
  }

  private static void recurse() {
    recurse();
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> void sneaky(Throwable t) throws T {
    throw (T) t;
  }
}
