package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Pool threads are attached to the JVM once and detached when they exit. */
class PoolThreadTest extends WeftTestBase {
  private static long livePoolThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("weft-pool") && t.isAlive())
        .count();
  }

  @Test
  void attachedOnceDetachedAtExit() throws Exception {
    long before = livePoolThreads();
    Set<Thread> seen = new HashSet<>();
    try (Loop loop = new Loop()) {
      loop.setThreadPoolSize(2);
      List<CompletableFuture<Thread>> fs = new ArrayList<>();
      for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 100; i++) fs.add(loop.toThread(Thread::currentThread));
        loop.run();
      }
      for (CompletableFuture<Thread> f : fs) seen.add(f.get());
      // 500 pieces of work, at most 2 Java Thread objects: one attach per pool thread
      assertTrue(seen.size() >= 1 && seen.size() <= 2, "threads: " + seen.size());
      for (Thread t : seen) {
        assertTrue(t.isDaemon());
        assertTrue(t.isAlive());
      }
      assertEquals(before + seen.size(), livePoolThreads());
    }
    // weft joins its pool threads at close; each detached itself on exit
    for (Thread t : seen) assertFalse(t.isAlive());
    assertEquals(before, livePoolThreads());
  }

  @Test
  void manyLoopsWithPools() throws Exception {
    long before = livePoolThreads();
    for (int i = 0; i < 20; i++) {
      try (Loop loop = new Loop()) {
        loop.setThreadPoolSize(4);
        CompletableFuture<Integer> f = loop.toThread(() -> 1);
        loop.run();
        assertEquals(1, f.get());
      }
    }
    assertEquals(before, livePoolThreads());
  }
}
