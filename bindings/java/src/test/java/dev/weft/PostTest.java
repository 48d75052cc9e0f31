package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PostTest extends WeftTestBase {
  @Test
  void postsRunInOrderAndNeverInsidePost() {
    try (Loop loop = new Loop()) {
      List<Integer> seen = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        int k = i;
        loop.post(() -> seen.add(k));
      }
      assertTrue(seen.isEmpty());
      loop.run();
      for (int i = 0; i < 100; i++) assertEquals(i, seen.get(i));
    }
  }

  @Test
  void postFromACallbackRunsInALaterPhase() {
    try (Loop loop = new Loop()) {
      List<String> seen = new ArrayList<>();
      loop.post(() -> {
        loop.post(() -> seen.add("inner"));
        seen.add("outer");
      });
      loop.run();
      assertEquals(List.of("outer", "inner"), seen);
    }
  }

  @Test
  void postsFromManyThreads() throws Exception {
    final int threads = 8;
    final int each = 10_000;
    try (Loop loop = new Loop()) {
      AtomicInteger ran = new AtomicInteger();
      long[] lastSeen = new long[threads];
      AtomicInteger outOfOrder = new AtomicInteger();
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> posters = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        Thread th = new Thread(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            return;
          }
          for (int i = 1; i <= each; i++) {
            long seq = i;
            loop.post(() -> {
              // per posting thread, posts run in the order made
              if (seq != lastSeen[id] + 1) outOfOrder.incrementAndGet();
              lastSeen[id] = seq;
              ran.incrementAndGet();
            });
          }
        });
        posters.add(th);
        th.start();
      }
      loop.post(go::countDown);
      runUntil(loop, () -> ran.get() == threads * each);
      for (Thread th : posters) th.join();
      assertEquals(threads * each, ran.get());
      assertEquals(0, outOfOrder.get());
      assertEquals(threads * each + 1, loop.stats().posts());
    }
  }

  @Test
  void postsPendingAtCloseRunDuringClose() {
    Loop loop = new Loop();
    int[] n = {0};
    for (int i = 0; i < 5; i++) loop.post(() -> n[0]++);
    loop.close();
    assertEquals(5, n[0]);
  }

  @Test
  void postsMadeDuringCloseRunToo() {
    Loop loop = new Loop();
    List<String> seen = new ArrayList<>();
    loop.post(() -> {
      seen.add("first");
      loop.post(() -> seen.add("second"));
    });
    loop.close();
    assertEquals(List.of("first", "second"), seen);
  }

  @Test
  void postNullIsRejected() {
    try (Loop loop = new Loop()) {
      assertThrows(NullPointerException.class, () -> loop.post(null));
    }
  }

  @Test
  void closeRacingPostsFromManyThreads() throws Exception {
    // Posts that were accepted all run (by run or by close); the others
    // throw ESTALE. Never a crash.
    for (int round = 0; round < 20; round++) {
      Loop loop = new Loop();
      AtomicLong accepted = new AtomicLong();
      AtomicLong ran = new AtomicLong();
      ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
      List<Thread> posters = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Thread th = new Thread(() -> {
          for (int i = 0; i < 2_000; i++) {
            try {
              loop.post(ran::incrementAndGet);
              accepted.incrementAndGet();
            } catch (WeftException e) {
              if (e.code() != Weft.ESTALE) unexpected.add(e);
              return;
            } catch (Throwable e) {
              unexpected.add(e);
              return;
            }
          }
        });
        posters.add(th);
        th.start();
      }
      loop.runNoWait();
      loop.close();
      for (Thread th : posters) th.join();
      assertTrue(unexpected.isEmpty(), unexpected.toString());
      assertEquals(accepted.get(), ran.get());
    }
  }
}
