package dev.weft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Misuse at the binding's edge (issue 7): handles of a closed loop used
 * again (watches, tasks' awaits), from outside and from a task of another
 * loop; close() from another thread while the loop runs, and from many
 * threads at once. Errors every time, never a crash, no JNI reference left
 * (WeftTestBase counts them).
 */
class MisuseTest extends WeftTestBase {
  private static void assertCode(int code, Executable e) {
    assertEquals(code, assertThrows(WeftException.class, e).code());
  }

  /** The JNI glue's own argument checks (jweft.c), below the Java layer's. */
  @Test
  void nativeGlueRefusesBadArguments() {
    assertEquals("out array is null",
        assertThrows(NullPointerException.class, () -> WeftNative.weft_loop_new(null)).getMessage());
    assertEquals("out array too short",
        assertThrows(IllegalArgumentException.class, () -> WeftNative.weft_loop_new(new long[0])).getMessage());
    try (Loop loop = new Loop()) {
      assertEquals("out array too short", assertThrows(IllegalArgumentException.class,
          () -> WeftNative.weft_loop_stats(loop.st.ptr, new long[9])).getMessage());
      assertEquals("callback is null", assertThrows(NullPointerException.class,
          () -> WeftNative.weft_loop_post(loop.st.ptr, null)).getMessage());
    }
  }

  @Test
  void watchesAndAwaitsOfAClosedLoop() {
    try (SocketPair sp = SocketPair.open()) {
      Loop loop = new Loop();
      FdWatch w = loop.watch(sp.fd0(), Weft.READABLE, (fw, ev) -> {});
      Task sleeper = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(60_000)) : s);
      Task finished = loop.spawn((t, s) -> 7);
      assertTrue(loop.runNoWait());
      loop.close();
      assertFalse(w.isActive());
      assertFalse(w.stop());
      assertFalse(w.stop());
      assertCode(Weft.ESTALE, () -> w.modify(Weft.READABLE | Weft.WRITABLE));
      assertTrue(sleeper.isDone());
      assertTrue(finished.isDone());
      // Results are kept past close, from any thread (LoopTest checks the same).
      assertEquals(Weft.ECANCELED, sleeper.result());
      assertEquals(7, finished.result());
      // Awaits of a task of the closed loop, outside any step.
      assertCode(Weft.ESTALE, () -> sleeper.awaitFd(sp.fd0(), Weft.READABLE));
      assertCode(Weft.ESTALE, () -> sleeper.readable(sp.fd0()));
      assertCode(Weft.ESTALE, () -> sleeper.awaitThread(() -> 1));
      assertCode(Weft.ESTALE, () -> sleeper.await(finished));
      assertCode(Weft.ESTALE, () -> sleeper.awaitAll(finished));
      assertCode(Weft.ESTALE, sleeper::yieldNow);
      sleeper.close();
      finished.close();
    }
  }

  @Test
  void tasksOfAClosedLoopFromAStepOfAnotherLoop() {
    Loop old = new Loop();
    Task finished = old.spawn((t, s) -> 7);
    Task sleeper = old.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(60_000)) : s);
    assertTrue(old.runNoWait());
    old.close();
    List<Integer> codes = new ArrayList<>();
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((self, s) -> {
        if (self.stepNumber() == 0) {
          codes.add(self.await(finished)); // an id of another (closed) loop
          codes.add(self.awaitAll(sleeper, finished));
          codes.add(self.awaitAll(Weft.CANCEL_ON_ERROR, finished));
          return self.sleep(ms(1)); // and this task can still wait
        }
        return 42;
      });
      assertFalse(loop.run());
      assertEquals(42, t.result());
      t.close();
    }
    assertEquals(List.of(Weft.ESTALE, Weft.ESTALE, Weft.ESTALE), codes);
    finished.close();
    sleeper.close();
  }

  @Test
  void closeFromAnotherThreadWhileRunningIsEbusy() throws Exception {
    try (Loop loop = new Loop()) {
      CountDownLatch running = new CountDownLatch(1);
      AtomicInteger code = new AtomicInteger();
      Timer tick = loop.timer(java.time.Duration.ZERO, ms(1), tm -> running.countDown());
      Thread other = new Thread(() -> {
        try {
          running.await();
          try {
            loop.close();
          } catch (WeftException e) {
            code.set(e.code());
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          loop.stop();
        }
      });
      other.start();
      loop.run(); // until the other thread's stop
      other.join();
      assertEquals(Weft.EBUSY, code.get());
      assertFalse(loop.isClosed());
      assertTrue(tick.stop());
    }
  }

  @Test
  void closeFromManyThreadsAtOnce() throws Exception {
    Loop loop = new Loop();
    AtomicInteger ran = new AtomicInteger();
    for (int i = 0; i < 10; i++) loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(60_000)) : s).close();
    loop.timer(ms(60_000), () -> {});
    loop.post(ran::incrementAndGet);
    CountDownLatch go = new CountDownLatch(1);
    List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Thread th = new Thread(() -> {
        try {
          go.await();
          loop.close();
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      threads.add(th);
      th.start();
    }
    go.countDown();
    for (Thread th : threads) th.join();
    assertTrue(errors.isEmpty(), errors.toString());
    assertTrue(loop.isClosed());
    assertEquals(1, ran.get()); // the post ran once, by whichever close freed the loop
  }
}
