package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class FutureTest extends WeftTestBase {
  @Test
  void sleepCompletesOnTheLoopThread() throws Exception {
    try (Loop loop = new Loop()) {
      Thread[] where = new Thread[1];
      long t0 = System.nanoTime();
      CompletableFuture<Void> f = loop.sleep(ms(3));
      f.thenRun(() -> where[0] = Thread.currentThread());
      assertFalse(f.isDone());
      loop.run();
      assertTrue(f.isDone());
      assertNull(f.get());
      assertTrue(System.nanoTime() - t0 >= 3_000_000);
      assertSame(Thread.currentThread(), where[0]);
    }
  }

  @Test
  void cancellingASleepCancelsItsTask() {
    try (Loop loop = new Loop()) {
      CompletableFuture<Void> f = loop.sleep(Duration.ofHours(1));
      assertEquals(1, loop.stats().tasksAlive());
      assertTrue(f.cancel(false)); // the loop is not running: weft_task_cancel at once
      assertFalse(loop.run()); // the task ends in the next iteration, not in an hour
      assertEquals(0, loop.stats().tasksAlive());
    }
  }

  @Test
  void cancellingFromAnotherThreadPostsTheStop() throws Exception {
    try (Loop loop = new Loop()) {
      CompletableFuture<Void> f = loop.sleep(Duration.ofHours(1));
      loop.post(() -> new Thread(() -> f.cancel(false)).start());
      assertFalse(loop.run()); // returns once the posted stop ran
      assertTrue(f.isCancelled());
    }
  }

  @Test
  void toThreadValueOnTheLoopThread() throws Exception {
    try (Loop loop = new Loop()) {
      Thread[] ranOn = new Thread[2];
      CompletableFuture<String> f = loop.toThread(() -> {
        ranOn[0] = Thread.currentThread();
        return "done";
      });
      f.thenRun(() -> ranOn[1] = Thread.currentThread());
      loop.run();
      assertEquals("done", f.get());
      assertNotSame(Thread.currentThread(), ranOn[0]);
      assertSame(Thread.currentThread(), ranOn[1]);
      CompletableFuture<Integer> n = loop.toThread(() -> 41 + 1);
      loop.run();
      assertEquals(42, n.get());
    }
  }

  @Test
  void toThreadExceptionCompletesExceptionally() {
    try (Loop loop = new Loop()) {
      IllegalArgumentException boom = new IllegalArgumentException("work");
      CompletableFuture<Integer> f = loop.toThread(() -> {
        throw boom;
      });
      assertFalse(loop.run()); // the exception goes to the future, not run()
      ExecutionException e = assertThrows(ExecutionException.class, f::get);
      assertSame(boom, e.getCause());
    }
  }

  @Test
  void toThreadCancelledBeforeItRuns() throws Exception {
    try (Loop loop = new Loop()) {
      loop.setThreadPoolSize(1);
      CountDownLatch release = new CountDownLatch(1);
      CompletableFuture<Integer> blocker = loop.toThread(() -> {
        try {
          release.await();
        } catch (InterruptedException e) {
          return -1;
        }
        return 1;
      });
      boolean[] ran = {false};
      CompletableFuture<Integer> queued = loop.toThread(() -> {
        ran[0] = true;
        return 2;
      });
      assertTrue(queued.cancel(false)); // the loop is not running: weft_work_cancel at once
      release.countDown();
      loop.run();
      assertEquals(1, blocker.get());
      assertTrue(queued.isCancelled());
      assertFalse(ran[0]);
    }
  }

  @Test
  void closeCancelsQueuedWorkAndWaitsForRunningWork() throws Exception {
    Loop loop = new Loop();
    loop.setThreadPoolSize(1);
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<Integer> running = loop.toThread(() -> {
      started.countDown();
      while (!loop.isRunning()) Thread.onSpinWait(); // close() has begun (a loaded machine may take long)
      long t0 = System.nanoTime();
      while (System.nanoTime() - t0 < 5_000_000) Thread.onSpinWait();
      return 1;
    });
    CompletableFuture<Integer> queued = loop.toThread(() -> 2);
    started.await();
    loop.close();
    assertEquals(1, running.get());
    assertThrows(CancellationException.class, queued::join);
    assertTrue(queued.isCancelled());
  }

  @Test
  void manyWorksFromTheLoop() throws Exception {
    try (Loop loop = new Loop()) {
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        int k = i;
        fs.add(loop.toThread(() -> k));
      }
      loop.run();
      long sum = 0;
      for (CompletableFuture<Integer> f : fs) sum += f.get();
      assertEquals(999L * 1000 / 2, sum);
      assertTrue(loop.stats().workNanos() >= 0);
    }
  }

  @Test
  void readableAndWritableFutures() throws Exception {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      CompletableFuture<Integer> w = loop.writable(p.fd1());
      CompletableFuture<Integer> r = loop.readable(p.fd0());
      w.thenRun(() -> Fds.write(p.fd1(), new byte[] {1}));
      loop.run();
      assertEquals(Weft.WRITABLE, w.get() & Weft.WRITABLE);
      assertEquals(Weft.READABLE, r.get() & Weft.READABLE);
      assertEquals(0, loop.stats().fdWatchesActive());
      CompletableFuture<Integer> both = loop.ready(p.fd0(), Weft.READABLE | Weft.WRITABLE);
      loop.run();
      assertEquals(Weft.READABLE | Weft.WRITABLE, both.get() & (Weft.READABLE | Weft.WRITABLE));
    }
  }

  @Test
  void cancellingReadableCancelsItsTask() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      CompletableFuture<Integer> r = loop.readable(p.fd0());
      assertEquals(1, loop.stats().tasksAlive());
      r.cancel(false);
      assertFalse(loop.run());
      assertEquals(0, loop.stats().tasksAlive());
    }
  }

  @Test
  void futuresOfAClosedLoop() {
    Loop loop = new Loop();
    CompletableFuture<Void> s = loop.sleep(Duration.ofHours(1));
    loop.close(); // its task is cancelled: so is the future
    assertTrue(s.isCancelled());
    s.cancel(false); // no crash, nothing posted
  }

  @Test
  void aFailedAwaitFailsTheFuture() {
    try (Loop loop = new Loop()) {
      CompletableFuture<Integer> r = loop.readable(-1);
      CompletableFuture<Void> s = loop.sleep(Duration.ofNanos(-1));
      assertFalse(loop.run());
      assertEquals(Weft.EBADF, ((WeftException) assertThrows(ExecutionException.class, r::get).getCause()).code());
      assertEquals(Weft.EINVAL, ((WeftException) assertThrows(ExecutionException.class, s::get).getCause()).code());
    }
  }
}
