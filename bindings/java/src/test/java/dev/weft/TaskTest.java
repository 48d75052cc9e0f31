package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class TaskTest extends WeftTestBase {
  @Test
  void stepsSeeTheirAwaitsResults() {
    try (Loop loop = new Loop()) {
      List<Integer> statuses = new ArrayList<>();
      Task t = loop.spawn((task, status) -> {
        statuses.add(status);
        switch (task.stepNumber()) {
          case 0: return task.sleep(ms(1));
          case 1: return task.yieldNow();
          default: return 42;
        }
      });
      assertEquals(TaskState.READY, t.state());
      assertFalse(t.isDone());
      assertEquals(Weft.EBUSY, assertThrows(WeftException.class, t::result).code());
      assertFalse(loop.run());
      assertEquals(List.of(0, 0, 0), statuses);
      assertEquals(TaskState.DONE, t.state());
      assertTrue(t.isDone());
      assertEquals(42, t.result());
      assertSame(loop, t.loop());
      assertNull(t.exception());
      t.close();
      assertEquals(Weft.ESTALE, assertThrows(WeftException.class, t::state).code());
      t.close(); // twice: nothing
    }
  }

  @Test
  void theFirstStepNeverRunsInsideSpawn() {
    try (Loop loop = new Loop()) {
      boolean[] ran = {false};
      Task t = loop.spawn((task, s) -> {
        ran[0] = true;
        return 0;
      });
      assertFalse(ran[0]);
      loop.run();
      assertTrue(ran[0]);
      t.close();
    }
  }

  @Test
  void stateWhileRunningAndWaiting() {
    try (Loop loop = new Loop()) {
      TaskState[] inside = new TaskState[1];
      Task[] self = new Task[1];
      self[0] = loop.spawn((task, s) -> {
        if (task.stepNumber() == 0) {
          inside[0] = self[0].state();
          return task.sleep(ms(1));
        }
        return 0;
      });
      loop.runNoWait();
      assertEquals(TaskState.RUNNING, inside[0]);
      assertEquals(TaskState.WAITING, self[0].state());
      loop.run();
      self[0].close();
    }
  }

  @Test
  void cancelWhileSleeping() {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) return task.sleep(Duration.ofHours(1));
        return status == Weft.ECANCELED ? 7 : -1;
      });
      loop.runNoWait();
      t.cancel();
      loop.run();
      assertEquals(7, t.result());
      t.cancel(); // finished: nothing
      t.close();
    }
  }

  @Test
  void cancelBeforeTheFirstStep() {
    try (Loop loop = new Loop()) {
      int[] first = {1};
      Task t = loop.spawn((task, status) -> {
        first[0] = status;
        return status;
      });
      t.cancel();
      loop.run();
      assertEquals(Weft.ECANCELED, first[0]);
      assertEquals(Weft.ECANCELED, t.result());
      t.close();
    }
  }

  @Test
  void cleanupAwaitsAfterCancellation() {
    try (Loop loop = new Loop()) {
      List<Integer> statuses = new ArrayList<>();
      Task t = loop.spawn((task, status) -> {
        statuses.add(status);
        switch (task.stepNumber()) {
          case 0: return task.sleep(Duration.ofHours(1));
          case 1: return task.sleep(ms(1)); // cleanup after the cancellation
          default: return 5;
        }
      });
      loop.runNoWait();
      t.cancel();
      loop.run();
      assertEquals(List.of(0, Weft.ECANCELED, 0), statuses);
      assertEquals(5, t.result());
      t.close();
    }
  }

  @Test
  void timeoutResolvesTheAwaitWithEtimedout() {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.sleep(Duration.ofHours(1)) : status);
      t.timeout(ms(2));
      loop.run();
      assertEquals(Weft.ETIMEDOUT, t.result());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> t.timeoutNanos(-1)).code());
      t.timeout(ms(1)); // finished: nothing
      t.close();
    }
  }

  @Test
  void timeoutZeroClears() {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.sleep(ms(5)) : status);
      t.timeout(ms(1));
      t.timeout(Duration.ZERO);
      loop.run();
      assertEquals(0, t.result());
      t.close();
    }
  }

  @Test
  void awaitFdOnASocketPair() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      byte[] got = new byte[4];
      Task reader = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) return task.readable(p.fd0());
        assertEquals(Weft.READABLE, status & Weft.READABLE);
        return Fds.read(p.fd0(), got);
      });
      Task writer = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) return task.writable(p.fd1());
        return Fds.write(p.fd1(), new byte[] {4, 2});
      });
      loop.run();
      assertEquals(2, writer.result());
      assertEquals(2, reader.result());
      assertEquals(4, got[0]);
      assertEquals(2, got[1]);
      reader.close();
      writer.close();
    }
  }

  @Test
  void awaitErrorsAreReturnedNotThrown() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      List<Integer> codes = new ArrayList<>();
      Task[] other = new Task[1];
      Task t = loop.spawn((task, status) -> {
        if (task.stepNumber() > 0) return 0;
        codes.add(task.awaitFd(p.fd0(), 0));
        codes.add(task.awaitFd(p.fd0(), Weft.HANGUP));
        codes.add(task.awaitFd(-1, Weft.READABLE));
        codes.add(task.sleepNanos(-1));
        codes.add(task.await(task));
        codes.add(task.awaitAll(task));
        codes.add(task.awaitAll(2, other[0]));
        codes.add(task.yieldNow()); // armed
        codes.add(task.sleep(ms(1))); // a second await in one step
        return Weft.PENDING;
      });
      other[0] = loop.spawn((task, s) -> 0);
      loop.run();
      assertEquals(List.of(Weft.EINVAL, Weft.EINVAL, Weft.EBADF, Weft.EINVAL, Weft.EINVAL, Weft.EINVAL, Weft.EINVAL,
          Weft.PENDING, Weft.EBUSY), codes);
      t.close();
      other[0].close();
    }
  }

  @Test
  void awaitOutsideTheStepIsEinval() {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(1)) : 0);
      assertEquals(Weft.EINVAL, t.sleep(ms(1)));
      assertEquals(Weft.EINVAL, t.yieldNow());
      loop.run();
      assertEquals(Weft.EINVAL, t.sleep(ms(1))); // finished but not released: still a live id
      t.close();
      assertEquals(Weft.ESTALE, t.yieldNow());
    }
  }

  @Test
  void pendingWithoutAnAwaitFinishesWithEinval() {
    try (Loop loop = new Loop()) {
      List<String> errors = new ArrayList<>();
      loop.setLogger((level, m) -> {
        if (level == Weft.LOG_ERROR) errors.add(m);
      });
      Task t = loop.spawn((task, s) -> Weft.PENDING);
      loop.run();
      assertEquals(Weft.EINVAL, t.result());
      assertTrue(t.isDone());
      assertEquals(1, errors.size());
      t.close();
    }
  }

  @Test
  void awaitThreadRunsOnAPoolThread() {
    try (Loop loop = new Loop()) {
      Thread loopThread = Thread.currentThread();
      Thread[] worker = new Thread[1];
      Task t = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) return task.awaitThread(() -> {
          worker[0] = Thread.currentThread();
          return 99;
        });
        return status + 1;
      });
      loop.run();
      assertEquals(100, t.result());
      assertNotSame(loopThread, worker[0]);
      assertEquals("weft-pool", worker[0].getName());
      assertTrue(worker[0].isDaemon());
      t.close();
    }
  }

  @Test
  void awaitThreadWorkThatThrows() {
    try (Loop loop = new Loop()) {
      Throwable[] seen = new Throwable[1];
      Task t = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) return task.awaitThread(() -> {
          throw new ArithmeticException("in work");
        });
        seen[0] = task.workException();
        return status;
      });
      loop.run();
      assertEquals(Weft.EHOST, t.result());
      assertInstanceOf(ArithmeticException.class, seen[0]);
      t.close();
    }
  }

  @Test
  void cancelDuringAwaitThreadWaitsForRunningWork() throws Exception {
    try (Loop loop = new Loop()) {
      loop.setThreadPoolSize(1);
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      boolean[] secondRan = {false};
      Task running = loop.spawn((task, status) -> task.stepNumber() == 0
          ? task.awaitThread(() -> {
              started.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                return -1;
              }
              return 1;
            })
          : status);
      Task queued = loop.spawn((task, status) -> task.stepNumber() == 0
          ? task.awaitThread(() -> {
              secondRan[0] = true;
              return 2;
            })
          : status);
      loop.post(() -> new Thread(() -> {
        try {
          started.await();
        } catch (InterruptedException e) {
          return;
        }
        loop.post(() -> {
          running.cancel();
          queued.cancel();
          release.countDown();
        });
      }).start());
      loop.run();
      assertEquals(Weft.ECANCELED, running.result());
      assertEquals(Weft.ECANCELED, queued.result());
      assertFalse(secondRan[0], "queued work never starts once cancelled");
      running.close();
      queued.close();
    }
  }

  @Test
  void finishingWithAnArmedThreadAwaitWaitsForTheWork() throws Exception {
    // The step arms a thread await and returns a value anyway: the binding
    // cancels the await and finishes with that value once the work settled,
    // so the work's JNI reference is never deleted under a running worker.
    try (Loop loop = new Loop()) {
      loop.setThreadPoolSize(1);
      CountDownLatch started = new CountDownLatch(1);
      boolean[] workDone = {false};
      Task t = loop.spawn((task, status) -> {
        task.awaitThread(() -> {
          started.countDown();
          long t0 = System.nanoTime();
          while (System.nanoTime() - t0 < 2_000_000) Thread.onSpinWait();
          workDone[0] = true;
          return 1;
        });
        try {
          started.await();
        } catch (InterruptedException e) {
          return -1;
        }
        return 77;
      });
      loop.run();
      assertEquals(77, t.result());
      assertTrue(workDone[0]);
      t.close();
    }
  }

  @Test
  void awaitAnotherTask() {
    try (Loop loop = new Loop()) {
      Task child = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(1)) : 11);
      Task parent = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.await(child) : status * 2);
      loop.run();
      assertEquals(22, parent.result());
      child.close();
      parent.close();
    }
  }

  @Test
  void gatherAndTaskGroup() {
    try (Loop loop = new Loop()) {
      Task a = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(1)) : 1);
      Task b = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(2)) : 2);
      Task gather = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.awaitAll(a, b, a) : status);
      Task none = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.awaitAll() : status + 3);
      loop.run();
      assertEquals(0, gather.result());
      assertEquals(3, none.result());
      assertEquals(1, a.result());
      assertEquals(2, b.result());

      Task fails = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(1)) : -5);
      Task slow = loop.spawn((task, status) -> task.stepNumber() == 0 ? task.sleep(Duration.ofHours(1)) : status);
      Task group = loop.spawn((task, status) ->
          task.stepNumber() == 0 ? task.awaitAll(Weft.CANCEL_ON_ERROR, fails, slow) : status);
      loop.run();
      assertEquals(-5, group.result());
      assertEquals(Weft.ECANCELED, slow.result());
      for (Task t : new Task[] {a, b, gather, none, fails, slow, group}) t.close();
    }
  }

  @Test
  void awaitReleasedTaskIsEstale() {
    try (Loop loop = new Loop()) {
      Task done = loop.spawn((task, s) -> 1);
      loop.run();
      done.close();
      int[] code = {0};
      Task t = loop.spawn((task, s) -> {
        code[0] = task.await(done);
        return 0;
      });
      loop.run();
      assertEquals(Weft.ESTALE, code[0]);
      t.close();
    }
  }

  @Test
  void yieldInterleavesTasks() {
    try (Loop loop = new Loop()) {
      List<String> trace = new ArrayList<>();
      for (String name : new String[] {"a", "b"}) {
        loop.spawn((task, s) -> {
          trace.add(name + task.stepNumber());
          return task.stepNumber() < 2 ? task.yieldNow() : 0;
        }).close();
      }
      loop.run();
      assertEquals(List.of("a0", "b0", "a1", "b1", "a2", "b2"), trace);
    }
  }

  @Test
  void aStepThatThrowsFinishesItsTaskOnly() throws Exception {
    try (Loop loop = new Loop()) {
      IllegalStateException boom = new IllegalStateException("boom");
      Task bad = loop.spawn((task, s) -> {
        if (task.stepNumber() == 0) return task.sleep(ms(1));
        throw boom;
      });
      Task good = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(3)) : 3);
      assertFalse(loop.run()); // does not throw: the exception belongs to the task
      assertSame(boom, bad.exception());
      WeftException e = assertThrows(WeftException.class, bad::result);
      assertEquals(Weft.EHOST, e.code());
      assertSame(boom, e.getCause());
      ExecutionException ee = assertThrows(ExecutionException.class, () -> bad.future().get());
      assertSame(boom, ee.getCause());
      assertEquals(3, good.result());
      bad.close();
      good.close();
    }
  }

  @Test
  void aDetachedTaskThatThrowsSurfacesFromRun() {
    try (Loop loop = new Loop()) {
      loop.spawnDetached((task, s) -> {
        throw new UnsupportedOperationException("detached");
      });
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, loop::run);
      assertEquals("detached", e.getMessage());
      assertEquals(0, loop.stats().tasksAlive());
    }
  }

  @Test
  void detachedTasksAreFreedWhenTheyFinish() {
    try (Loop loop = new Loop()) {
      int[] n = {0};
      for (int i = 0; i < 100; i++) {
        loop.spawnDetached((task, s) -> {
          if (task.stepNumber() == 0) return task.sleep(ms(1));
          n[0]++;
          return 0;
        });
      }
      loop.run();
      assertEquals(100, n[0]);
      assertEquals(0, loop.stats().tasksAlive());
    }
  }

  @Test
  void releasingAnUnfinishedTaskDetachesIt() {
    try (Loop loop = new Loop()) {
      boolean[] finished = {false};
      Task t = loop.spawn((task, s) -> {
        if (task.stepNumber() == 0) return task.sleep(ms(1));
        finished[0] = true;
        return 0;
      });
      t.close();
      loop.run();
      assertTrue(finished[0]);
      assertTrue(t.isDone());
    }
  }

  @Test
  void futureCompletesOnTheLoopThread() throws Exception {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(ms(1)) : 8);
      Thread[] completer = new Thread[1];
      var f = t.future().thenApply(v -> {
        completer[0] = Thread.currentThread();
        return v * 2;
      });
      assertSame(t.future(), t.future());
      loop.run();
      assertEquals(16, f.get());
      assertSame(Thread.currentThread(), completer[0]);
      t.close();
      assertEquals(8, t.future().get()); // also after release
    }
  }

  @Test
  void closeCancelsUnfinishedTasks() {
    Loop loop = new Loop();
    List<Integer> statuses = new ArrayList<>();
    List<Integer> awaitsDuringClose = new ArrayList<>();
    Task t = loop.spawn((task, status) -> {
      statuses.add(status);
      if (task.stepNumber() == 0) return task.sleep(Duration.ofHours(1));
      awaitsDuringClose.add(task.sleep(ms(1))); // returns ECANCELED at once while closing
      return 12;
    });
    Task neverStarted = loop.spawn((task, status) -> status);
    loop.runNoWait();
    loop.close();
    assertEquals(List.of(0, Weft.ECANCELED), statuses);
    assertEquals(List.of(Weft.ECANCELED), awaitsDuringClose);
    assertTrue(t.isDone());
    assertTrue(neverStarted.isDone());
    assertEquals(12, t.future().join());
  }

  @Test
  void spawnInsideAStep() {
    try (Loop loop = new Loop()) {
      Task parent = loop.spawn((task, status) -> {
        if (task.stepNumber() == 0) {
          Task child = loop.spawn((c, s) -> 4);
          return task.await(child);
        }
        return status;
      });
      loop.run();
      assertEquals(4, parent.result());
      parent.close();
    }
  }

  @Test
  void tenThousandSleepingTasks() {
    try (Loop loop = new Loop()) {
      int n = 10_000;
      int[] done = {0};
      for (int i = 0; i < n; i++) {
        loop.spawnDetached((task, s) -> {
          if (task.stepNumber() == 0) return task.sleep(ms(10));
          done[0]++;
          return 0;
        });
      }
      assertEquals(n, loop.stats().tasksAlive());
      loop.run();
      assertEquals(n, done[0]);
    }
  }

  @Test
  void controlFromAnotherThreadWhileRunningIsEperm() throws Exception {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, s) -> task.stepNumber() == 0 ? task.sleep(Duration.ofHours(1)) : s);
      int[] codes = new int[3];
      loop.post(() -> {
        Thread other = new Thread(() -> {
          try {
            codes[0] = assertThrows(WeftException.class, t::cancel).code();
            codes[1] = assertThrows(WeftException.class, t::state).code();
            codes[2] = t.sleep(ms(1));
          } finally {
            loop.post(t::cancel);
          }
        });
        other.start();
      });
      loop.run();
      assertArrayEquals(new int[] {Weft.EPERM, Weft.EPERM, Weft.EPERM}, codes);
      assertEquals(Weft.ECANCELED, t.result());
      t.close();
    }
  }
}
