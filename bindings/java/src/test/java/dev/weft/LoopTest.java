package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class LoopTest extends WeftTestBase {
  private static void assertCode(int code, Executable e) {
    WeftException x = assertThrows(WeftException.class, e);
    assertEquals(code, x.code(), x.getMessage());
  }

  @Test
  void emptyLoopReturnsAtOnce() {
    try (Loop loop = new Loop()) {
      assertFalse(loop.run());
      assertFalse(loop.runOnce());
      assertFalse(loop.runNoWait());
      assertFalse(loop.isClosed());
      assertFalse(loop.isRunning());
    }
  }

  @Test
  void closeTwiceIsANoOp() {
    Loop loop = new Loop();
    loop.close();
    assertTrue(loop.isClosed());
    loop.close();
    assertTrue(loop.isClosed());
  }

  @Test
  void everyCallAfterCloseThrowsEstale() {
    Loop loop = new Loop();
    Timer timer = loop.timer(ms(1000), () -> {});
    Task task = loop.spawn((t, s) -> t.sleep(ms(1000)));
    loop.close();
    assertCode(Weft.ESTALE, loop::run);
    assertCode(Weft.ESTALE, loop::runOnce);
    assertCode(Weft.ESTALE, loop::runNoWait);
    assertCode(Weft.ESTALE, loop::stop);
    assertCode(Weft.ESTALE, () -> loop.post(() -> {}));
    assertCode(Weft.ESTALE, loop::stats);
    assertCode(Weft.ESTALE, loop::now);
    assertCode(Weft.ESTALE, () -> loop.timer(ms(1), () -> {}));
    assertCode(Weft.ESTALE, () -> loop.timer(ms(1), ms(1), t -> {}));
    assertCode(Weft.ESTALE, () -> loop.watch(0, Weft.READABLE, (w, e) -> {}));
    assertCode(Weft.ESTALE, () -> loop.spawn((t, s) -> 0));
    assertCode(Weft.ESTALE, () -> loop.spawnDetached((t, s) -> 0));
    assertCode(Weft.ESTALE, () -> loop.sleep(ms(1)));
    assertCode(Weft.ESTALE, () -> loop.toThread(() -> 1));
    assertCode(Weft.ESTALE, () -> loop.readable(0));
    assertCode(Weft.ESTALE, () -> loop.setLogger((l, m) -> {}));
    assertCode(Weft.ESTALE, () -> loop.setThreadPoolSize(2));
    assertCode(Weft.ESTALE, () -> loop.setSlowCallbackNanos(1));
    assertCode(Weft.ESTALE, loop::backendFd);
    assertCode(Weft.ESTALE, loop::nextTimeoutNanos);
    // Handles of a closed loop.
    assertFalse(timer.isActive());
    assertFalse(timer.stop());
    assertCode(Weft.ESTALE, task::cancel);
    assertCode(Weft.ESTALE, task::state);
    assertEquals(Weft.ECANCELED, task.result()); // kept: its step returned the sleep's ECANCELED
    assertCode(Weft.ESTALE, () -> task.timeout(ms(1)));
    assertCode(Weft.ESTALE, () -> task.sleep(ms(1)));
    task.close(); // no-op after the loop closed
    assertTrue(task.isDone()); // it was cancelled by close
  }

  @Test
  void stopBeforeRunMakesTheNextRunReturnEarly() {
    try (Loop loop = new Loop()) {
      Timer t = loop.timer(ms(60_000), () -> fail("must not fire"));
      loop.stop();
      assertTrue(loop.run());
      assertTrue(t.stop());
      assertFalse(loop.run());
    }
  }

  @Test
  void stopFromACallback() {
    try (Loop loop = new Loop()) {
      int[] ticks = {0};
      Timer t = loop.timer(Duration.ZERO, ms(1), tm -> {
        if (++ticks[0] == 3) loop.stop();
      });
      assertTrue(loop.run());
      assertEquals(3, ticks[0]);
      assertTrue(t.isActive());
      t.stop();
    }
  }

  @Test
  void runAndCloseInsideACallbackAreEbusy() {
    try (Loop loop = new Loop()) {
      List<Integer> codes = new ArrayList<>();
      loop.post(() -> {
        codes.add(assertThrows(WeftException.class, loop::run).code());
        codes.add(assertThrows(WeftException.class, loop::close).code());
        codes.add(assertThrows(WeftException.class, () -> loop.setThreadPoolSize(2)).code());
        assertTrue(loop.isRunning());
      });
      loop.run();
      assertEquals(List.of(Weft.EBUSY, Weft.EBUSY, Weft.EBUSY), codes);
      assertFalse(loop.isClosed());
    }
  }

  @Test
  void otherThreadsWhileTheLoopRuns() throws Exception {
    try (Loop loop = new Loop()) {
      CountDownLatch running = new CountDownLatch(1);
      CountDownLatch checked = new CountDownLatch(1);
      AtomicReference<Throwable> problem = new AtomicReference<>();
      Thread other = new Thread(() -> {
        try {
          running.await();
          assertEquals(Weft.EBUSY, assertThrows(WeftException.class, loop::run).code());
          assertEquals(Weft.EBUSY, assertThrows(WeftException.class, loop::close).code());
          assertEquals(Weft.EPERM, assertThrows(WeftException.class, () -> loop.timer(ms(1), () -> {})).code());
          assertEquals(Weft.EPERM, assertThrows(WeftException.class, () -> loop.spawn((t, s) -> 0)).code());
          assertEquals(Weft.EPERM, assertThrows(WeftException.class, loop::backendFd).code());
          assertTrue(loop.now() > 0);
          assertTrue(loop.stats().iterations() >= 0);
          loop.post(checked::countDown);
        } catch (Throwable t) {
          problem.set(t);
          checked.countDown();
        }
      });
      other.start();
      loop.post(running::countDown);
      runUntil(loop, () -> checked.getCount() == 0);
      other.join();
      assertNull(problem.get());
    }
  }

  @Test
  void stopFromAnotherThread() throws Exception {
    try (Loop loop = new Loop()) {
      Timer keep = loop.timer(ms(60_000), () -> {});
      Thread stopper = new Thread(loop::stop);
      loop.post(stopper::start);
      assertTrue(loop.run()); // returns because of the other thread's stop
      stopper.join();
      keep.stop();
    }
  }

  @Test
  void statsCountWhatIsAlive() {
    try (Loop loop = new Loop()) {
      LoopStats s0 = loop.stats();
      assertEquals(0, s0.tasksAlive());
      Timer t = loop.timer(ms(60_000), () -> {});
      Task task = loop.spawn((tk, st) -> tk.stepNumber() == 0 ? tk.sleep(ms(60_000)) : st);
      loop.post(() -> {});
      loop.post(() -> {});
      LoopStats s1 = loop.stats();
      assertEquals(1, s1.timersActive());
      assertEquals(1, s1.tasksAlive());
      assertEquals(1, s1.tasksReady());
      loop.runNoWait();
      LoopStats s2 = loop.stats();
      assertEquals(2, s2.posts());
      assertEquals(0, s2.tasksReady());
      assertTrue(s2.iterations() >= 1);
      assertEquals(0, s2.fdWatchesActive());
      t.stop();
      task.cancel();
      loop.run();
      assertEquals(0, loop.stats().tasksAlive());
      assertEquals(0, loop.stats().timersActive());
      task.close();
    }
  }

  @Test
  void nowIsMonotonicAndCachedPerIteration() {
    try (Loop loop = new Loop()) {
      long a = loop.now();
      assertTrue(a > 0);
      long[] inside = new long[2];
      loop.post(() -> {
        inside[0] = loop.now();
        inside[1] = loop.now();
      });
      loop.run();
      assertTrue(inside[0] >= a);
      assertEquals(inside[0], inside[1]);
    }
  }

  @Test
  void options() {
    try (Loop loop = new Loop()) {
      assertCode(Weft.EINVAL, () -> loop.setThreadPoolSize(0));
      assertCode(Weft.EINVAL, () -> loop.setThreadPoolSize(1025));
      loop.setThreadPoolSize(2);
      assertCode(Weft.EINVAL, () -> loop.setSlowCallbackNanos(-1));
      loop.setSlowCallbackNanos(0);
      CompletableFuture<Integer> f = loop.toThread(() -> 7); // starts the pool
      assertCode(Weft.EBUSY, () -> loop.setThreadPoolSize(3));
      loop.run();
      assertEquals(7, f.join());
    }
  }

  @Test
  void slowCallbacksAreCountedAndLogged() {
    try (Loop loop = new Loop()) {
      List<String> warnings = new ArrayList<>();
      loop.setLogger((level, msg) -> {
        if (level == Weft.LOG_WARN) warnings.add(msg);
      });
      loop.setSlowCallbackNanos(1); // every callback takes longer than 1 ns
      loop.post(() -> {
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 1000) Thread.onSpinWait();
      });
      loop.run();
      assertTrue(loop.stats().slowCallbacks() >= 1);
      assertFalse(warnings.isEmpty());
      loop.setLogger(null);
    }
  }

  @Test
  void loggerReplacedAndExceptionsFromIt() {
    try (Loop loop = new Loop()) {
      List<String> a = new ArrayList<>();
      loop.setLogger((l, m) -> a.add(m));
      loop.setLogger((l, m) -> {
        throw new IllegalStateException("logger");
      });
      loop.spawn((t, s) -> Weft.PENDING).close(); // PENDING without an await: logged as an error
      IllegalStateException e = assertThrows(IllegalStateException.class, loop::run);
      assertEquals("logger", e.getMessage());
      assertTrue(a.isEmpty());
    }
  }

  @Test
  void backendFdAndNextTimeout() {
    try (Loop loop = new Loop()) {
      assertTrue(loop.backendFd() >= 0);
      assertEquals(-1, loop.nextTimeoutNanos());
      Timer t = loop.timer(Duration.ofSeconds(10), () -> {});
      long n = loop.nextTimeoutNanos();
      assertTrue(n > 0 && n <= 10_000_000_000L, "next timeout " + n);
      loop.post(() -> {});
      assertEquals(0, loop.nextTimeoutNanos());
      loop.runNoWait();
      t.stop();
    }
  }

  @Test
  void embeddingWithRunNoWait() {
    try (Loop loop = new Loop()) {
      boolean[] fired = {false};
      loop.timer(Duration.ZERO, () -> fired[0] = true);
      while (!fired[0]) loop.runNoWait();
      assertFalse(loop.runNoWait());
    }
  }

  @Test
  void runWaitsForAllWorkAndReturnsFalse() {
    try (Loop loop = new Loop()) {
      int[] n = {0};
      for (int i = 0; i < 10; i++) loop.timer(ms(i), () -> n[0]++);
      assertFalse(loop.run());
      assertEquals(10, n[0]);
    }
  }

  @Test
  void closeFromAnotherThreadAfterRun() throws Exception {
    Loop loop = new Loop();
    loop.timer(ms(1), () -> {});
    loop.run();
    Thread closer = new Thread(loop::close);
    closer.start();
    closer.join(TimeUnit.SECONDS.toMillis(60));
    assertTrue(loop.isClosed());
  }

  @Test
  void closeWhileWorkKeepsPostingDoesNotDeadlock() throws Exception {
    // weft_loop_free waits for running pool work; work that posts meanwhile
    // gets ESTALE instead of waiting for close (which would wait for it).
    Loop loop = new Loop();
    CountDownLatch posting = new CountDownLatch(1);
    CompletableFuture<Integer> work = loop.toThread(() -> {
      long posts = 0;
      while (true) {
        try {
          loop.post(() -> {});
          if (++posts == 100) posting.countDown();
        } catch (WeftException e) {
          return e.code();
        }
      }
    });
    posting.await();
    loop.close();
    assertEquals(Weft.ESTALE, work.get());
  }

  @Test
  void closeRacingCloseFromManyThreads() throws Exception {
    for (int round = 0; round < 20; round++) {
      Loop loop = new Loop();
      loop.timer(Duration.ofHours(1), () -> {});
      List<Thread> closers = new ArrayList<>();
      AtomicReference<Throwable> problem = new AtomicReference<>();
      for (int i = 0; i < 4; i++) {
        Thread t = new Thread(() -> {
          try {
            loop.close();
            assertTrue(loop.isClosed());
          } catch (Throwable e) {
            problem.set(e);
          }
        });
        closers.add(t);
        t.start();
      }
      for (Thread t : closers) t.join();
      assertNull(problem.get());
      assertTrue(loop.isClosed());
    }
  }

  @Test
  void whatCallbacksDoDuringClose() {
    // Pending posts run during close: they may spawn tasks (whose first step
    // is cancelled) and post; weft refuses new timers, watches and work with
    // ECANCELED, and the references made for them are deleted again.
    try (SocketPair p = SocketPair.open()) {
      Loop loop = new Loop();
      List<Object> made = new ArrayList<>();
      loop.post(() -> {
        made.add(assertThrows(WeftException.class, () -> loop.timer(Duration.ofHours(1), () -> {})).code());
        made.add(assertThrows(WeftException.class, () -> loop.watch(p.fd0(), Weft.READABLE, (w, e) -> {})).code());
        made.add(assertThrows(WeftException.class, () -> loop.toThread(() -> 1)).code());
        made.add(loop.spawn((t, s) -> s == Weft.ECANCELED && t.sleep(ms(1)) == Weft.ECANCELED ? 9 : -1));
        loop.post(() -> made.add("nested post"));
      });
      loop.close();
      assertEquals(List.of(Weft.ECANCELED, Weft.ECANCELED, Weft.ECANCELED), made.subList(0, 3));
      assertEquals(9, ((Task) made.get(3)).future().join());
      assertEquals("nested post", made.get(4));
    }
  }
}
