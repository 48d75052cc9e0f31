package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;

/** Issue 16: Event, Semaphore, Lock, Queue, wait-first and awaiting a CompletableFuture. */
class SyncTest extends WeftTestBase {
  /**
   * A task that arms {@code await}, records the status it resumes with, then
   * sleeps 0 ns and records that status too (where a cancellation that came
   * after the grant shows up).
   */
  static Task waiter(Loop loop, ToIntFunction<Task> await, List<Integer> got) {
    return loop.spawn((t, s) -> switch (t.stepNumber()) {
      case 0 -> await.applyAsInt(t);
      case 1 -> {
        got.add(s);
        yield t.sleepNanos(0);
      }
      default -> {
        got.add(s);
        yield 0;
      }
    });
  }

  // ------------------------------------------------------------- Event

  @Test
  void eventSetWakesEveryWaiterInOrder() {
    try (Loop loop = new Loop(); Event ev = new Event(loop)) {
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        int n = i;
        loop.spawn((t, s) -> {
          if (t.stepNumber() == 0) return ev.await(t);
          order.add(n * 10 + s); // s == 0
          return 0;
        });
      }
      loop.runNoWait(); // all three wait
      assertFalse(ev.isSet());
      assertTrue(order.isEmpty());
      ev.set();
      ev.set(); // no effect
      assertTrue(ev.isSet());
      loop.run();
      assertEquals(List.of(0, 10, 20), order);
      ev.clear();
      assertFalse(ev.isSet());
    }
  }

  @Test
  void eventAlreadySetResumesAtOnceAndCloseResumesWaitersWithEclosed() {
    try (Loop loop = new Loop()) {
      Event set = new Event(loop);
      set.set();
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
      waiter(loop, set::await, a);
      Event never = new Event(loop);
      waiter(loop, never::await, b);
      loop.runNoWait();
      never.close();
      never.close(); // twice: nothing
      loop.run();
      assertEquals(List.of(0, 0), a);
      assertEquals(List.of(Weft.ECLOSED, 0), b);
      WeftException e = assertThrows(WeftException.class, never::set);
      assertEquals(Weft.ESTALE, e.code());
      set.close();
    }
  }

  @Test
  void eventWaitCancelledAndTimedOutBeforeTheSet() {
    try (Loop loop = new Loop(); Event ev = new Event(loop)) {
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
      Task ta = waiter(loop, ev::await, a);
      Task tb = waiter(loop, ev::await, b);
      loop.runNoWait();
      tb.timeout(ms(1)); // while it waits
      ta.cancel();
      loop.run();
      assertEquals(List.of(Weft.ECANCELED, 0), a);
      assertEquals(List.of(Weft.ETIMEDOUT, 0), b);
    }
  }

  @Test
  void eventCancelAfterTheSetIsDeliveredByTheNextAwait() {
    try (Loop loop = new Loop(); Event ev = new Event(loop)) {
      List<Integer> a = new ArrayList<>();
      Task ta = waiter(loop, ev::await, a);
      loop.runNoWait();
      ev.set(); // granted
      ta.cancel(); // after the grant
      loop.run();
      assertEquals(List.of(0, Weft.ECANCELED), a);
    }
  }

  @Test
  void eventWaitAsync() throws Exception {
    try (Loop loop = new Loop(); Event ev = new Event(loop)) {
      CompletableFuture<Void> f = ev.waitAsync();
      loop.runNoWait();
      assertFalse(f.isDone());
      ev.set();
      loop.run();
      assertNull(f.get());
      Event other = new Event(loop);
      CompletableFuture<Void> g = other.waitAsync();
      loop.runNoWait();
      other.close();
      loop.run();
      ExecutionException x = assertThrows(ExecutionException.class, g::get);
      assertEquals(Weft.ECLOSED, ((WeftException) x.getCause()).code());
    }
  }

  // --------------------------------------------------------- Semaphore

  @Test
  void semaphoreFifoHandOffAndTryAcquire() {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 1)) {
      assertEquals(1, sem.value());
      assertTrue(sem.tryAcquire());
      assertFalse(sem.tryAcquire());
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        int n = i;
        loop.spawn((t, s) -> {
          if (t.stepNumber() == 0) return sem.acquire(t);
          assertEquals(0, s);
          order.add(n);
          try (Semaphore.Permit p = sem.permit()) { // hands it to the next waiter
            return 0;
          }
        });
      }
      loop.runNoWait(); // four waiters
      assertEquals(0, sem.value());
      sem.release(); // to the first waiter, not to the count
      assertEquals(0, sem.value());
      assertFalse(sem.tryAcquire(), "a newcomer must not jump the queue");
      loop.run();
      assertEquals(List.of(0, 1, 2, 3), order);
      assertEquals(1, sem.value());
      try (Semaphore.Permit p = sem.tryPermit()) {
        assertNotNull(p);
        assertNull(sem.tryPermit());
        p.close(); // released once: the try block's close does nothing
      }
      assertEquals(1, sem.value());
    }
  }

  @Test
  void boundedSemaphoreRefusesAnExtraRelease() {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 2, true)) {
      WeftException e = assertThrows(WeftException.class, sem::release);
      assertEquals(Weft.EINVAL, e.code());
      assertEquals(2, sem.value());
      Semaphore plain = new Semaphore(loop, 0);
      plain.release();
      assertEquals(1, plain.value());
      plain.close();
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> new Semaphore(loop, -1)).code());
    }
  }

  @Test
  void semaphoreCancelAndTimeoutBeforeTheGrantTakeNothing() {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 0)) {
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>(), c = new ArrayList<>();
      Task ta = waiter(loop, sem::acquire, a);
      Task tb = waiter(loop, sem::acquire, b);
      loop.runNoWait();
      tb.timeout(ms(1)); // while it waits
      ta.cancel();
      loop.run();
      assertEquals(List.of(Weft.ECANCELED, 0), a);
      assertEquals(List.of(Weft.ETIMEDOUT, 0), b);
      sem.release(); // nobody waits: to the count
      assertEquals(1, sem.value());
      waiter(loop, sem::acquire, c);
      loop.run();
      assertEquals(List.of(0, 0), c);
      assertEquals(0, sem.value());
    }
  }

  @Test
  void semaphoreCancelAfterTheGrantKeepsThePermit() {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 0)) {
      List<Integer> a = new ArrayList<>();
      Task ta = waiter(loop, sem::acquire, a);
      loop.runNoWait();
      sem.release(); // granted to ta
      ta.cancel();
      ta.timeout(Duration.ZERO);
      loop.run();
      assertEquals(List.of(0, Weft.ECANCELED), a); // it holds the permit
      assertEquals(0, sem.value());
    }
  }

  @Test
  void semaphoreCloseResumesWaitersWithEclosed() {
    try (Loop loop = new Loop()) {
      Semaphore sem = new Semaphore(loop, 0);
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
      waiter(loop, sem::acquire, a);
      waiter(loop, sem::acquire, b);
      loop.runNoWait();
      sem.close();
      loop.run();
      assertEquals(List.of(Weft.ECLOSED, 0), a);
      assertEquals(List.of(Weft.ECLOSED, 0), b);
      assertEquals(Weft.ESTALE, assertThrows(WeftException.class, sem::value).code());
    }
  }

  @Test
  void semaphoreAcquireAsyncAndACancelledFutureGivesThePermitBack() throws Exception {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 0)) {
      CompletableFuture<Semaphore.Permit> f = sem.acquireAsync();
      CompletableFuture<Semaphore.Permit> g = sem.acquireAsync();
      loop.runNoWait();
      sem.release(); // to f's task
      sem.release(); // to g's task
      assertTrue(g.cancel(false)); // after its grant: the permit goes back
      loop.run();
      Semaphore.Permit p = f.get();
      assertEquals(1, sem.value());
      p.close();
      assertEquals(2, sem.value());
      CompletableFuture<Semaphore.Permit> h = sem.acquireAsync(); // a permit is free
      loop.run();
      h.get().close();
      assertEquals(2, sem.value());
    }
  }

  // -------------------------------------------------------------- Lock

  @Test
  void lockGuardsFifoAndErrors() {
    try (Loop loop = new Loop(); Lock lock = new Lock(loop)) {
      List<Integer> order = new ArrayList<>();
      List<Task> tasks = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        int n = i;
        tasks.add(loop.spawn((t, s) -> switch (t.stepNumber()) {
          case 0 -> lock.lock(t);
          case 1 -> {
            assertEquals(0, s);
            assertEquals(t.id(), lock.ownerId());
            order.add(n);
            assertEquals(Weft.EINVAL, lock.lock(t)); // not reentrant
            yield t.yieldNow(); // hold it across an await
          }
          default -> {
            try (Lock.Guard g = lock.held(t)) {
              yield 0;
            }
          }
        }));
      }
      Task outsider = loop.spawn((t, s) -> 0);
      loop.runNoWait(); // the first holds it, two wait
      assertTrue(lock.isLocked());
      assertNull(lock.tryLock(outsider));
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> lock.unlock(outsider)).code());
      loop.run();
      assertEquals(List.of(0, 1, 2), order);
      assertFalse(lock.isLocked());
      assertEquals(0, lock.ownerId());
      try (Lock.Guard g = lock.tryLock(outsider)) { // a finished task may hold it too
        assertNotNull(g);
        assertEquals(outsider.id(), lock.ownerId());
        assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> lock.tryLock(outsider)).code());
      }
      assertFalse(lock.isLocked());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> lock.unlock(outsider)).code());
      for (Task t : tasks) assertEquals(0, t.result());
    }
  }

  @Test
  void lockCancelBeforeAndAfterTheGrant() {
    try (Loop loop = new Loop(); Lock lock = new Lock(loop)) {
      Task holder = loop.spawn((t, s) -> 0);
      assertNotNull(lock.tryLock(holder));
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>(), c = new ArrayList<>();
      Task ta = waiter(loop, lock::lock, a);
      Task tb = waiter(loop, lock::lock, b);
      Task tc = waiter(loop, lock::lock, c);
      loop.runNoWait();
      tb.timeout(ms(1)); // while it waits
      ta.cancel(); // before its grant
      loop.runNoWait();
      while (b.isEmpty()) loop.runOnce(); // tb times out
      lock.unlock(holder); // to tc (ta and tb left the queue)
      assertEquals(tc.id(), lock.ownerId());
      tc.cancel(); // after its grant
      loop.run();
      assertEquals(List.of(Weft.ECANCELED, 0), a);
      assertEquals(List.of(Weft.ETIMEDOUT, 0), b);
      assertEquals(List.of(0, Weft.ECANCELED), c);
      assertEquals(tc.id(), lock.ownerId()); // it finished holding it
      lock.unlock(tc);
    }
  }

  @Test
  void lockCloseResumesWaitersAndLockAsync() throws Exception {
    try (Loop loop = new Loop()) {
      Lock lock = new Lock(loop);
      Task holder = loop.spawn((t, s) -> 0);
      lock.tryLock(holder);
      List<Integer> a = new ArrayList<>();
      waiter(loop, lock::lock, a);
      loop.runNoWait();
      lock.close();
      loop.run();
      assertEquals(List.of(Weft.ECLOSED, 0), a);

      try (Lock l2 = new Lock(loop)) {
        CompletableFuture<Lock.Guard> f = l2.lockAsync();
        CompletableFuture<Lock.Guard> g = l2.lockAsync();
        while (!f.isDone()) loop.runNoWait(); // g waits meanwhile: run() would not return
        Lock.Guard gf = f.get();
        assertTrue(l2.isLocked());
        assertFalse(g.isDone());
        gf.close(); // to g's task
        loop.run();
        g.get().close();
        assertFalse(l2.isLocked());
        CompletableFuture<Lock.Guard> h = l2.lockAsync();
        assertNotNull(l2.tryLock(holder)); // holder takes it first
        loop.runNoWait();
        assertTrue(h.cancel(false)); // before the grant: takes nothing
        loop.run();
        assertEquals(holder.id(), l2.ownerId());
        l2.unlock(holder);
        assertFalse(l2.isLocked());
      }
    }
  }

  // ------------------------------------------------------------- Queue

  @Test
  void queueCarriesJavaObjectsInOrder() {
    try (Loop loop = new Loop(); Queue<Object> q = new Queue<>(loop, 2)) {
      Object[] sent = {"a", List.of(1, 2), new int[] {3}, 4L, "e"};
      List<Object> got = new ArrayList<>();
      loop.spawn((t, s) -> {
        int n = t.stepNumber();
        if (n > 0 && s != 0) return s;
        return n < sent.length ? q.put(t, sent[n]) : 0;
      });
      loop.spawn((t, s) -> {
        if (t.stepNumber() > 0) {
          if (s == Weft.ECLOSED) return 0;
          assertEquals(0, s);
          got.add(q.received(t));
          if (got.size() == sent.length) q.shutdown(false);
        }
        return q.get(t);
      });
      loop.run();
      assertEquals(sent.length, got.size());
      for (int i = 0; i < sent.length; i++) assertSame(sent[i], got.get(i));
      assertEquals(0, q.held());
    }
  }

  @Test
  void queueTryCallsSizeAndBoundedWaits() {
    try (Loop loop = new Loop(); Queue<String> q = new Queue<>(loop, 1)) {
      assertNull(q.tryGet());
      assertTrue(q.tryPut("x"));
      assertFalse(q.tryPut("y")); // full
      assertEquals(1, q.size());
      List<Integer> st = new ArrayList<>();
      waiter(loop, t -> q.put(t, "z"), st); // waits for room
      loop.runNoWait();
      assertEquals(2, q.held());
      assertEquals("x", q.tryGet()); // moves z in
      loop.run();
      assertEquals(List.of(0, 0), st);
      assertEquals("z", q.tryGet());
      assertEquals(0, q.held());
      assertThrows(NullPointerException.class, () -> q.tryPut(null));
      q.shutdown(false);
      assertEquals(Weft.ECLOSED, assertThrows(WeftException.class, () -> q.tryPut("w")).code());
      assertEquals(Weft.ECLOSED, assertThrows(WeftException.class, q::tryGet).code());
      assertEquals(0, q.held());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> new Queue<String>(loop, -1)).code());
    }
  }

  @Test
  void queueGetCancelledBeforeAndAfterTheItem() {
    try (Loop loop = new Loop(); Queue<String> q = new Queue<>(loop, 0)) {
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
      List<String> items = new ArrayList<>();
      Task ta = waiter(loop, q::get, a);
      Task tb = waiter(loop, q::get, b);
      Task tc = loop.spawn((t, s) -> {
        if (t.stepNumber() == 0) return q.get(t);
        if (t.stepNumber() == 1) items.add(q.received(t));
        else assertNull(q.received(t)); // only in the step the get resumed
        return t.sleepNanos(0) == Weft.PENDING && s == 0 ? Weft.PENDING : s;
      });
      loop.runNoWait();
      tb.timeout(ms(1)); // while it waits
      ta.cancel();
      while (b.isEmpty()) loop.runOnce();
      assertTrue(q.tryPut("one")); // to tc
      tc.cancel(); // after the grant
      loop.run();
      assertEquals(List.of(Weft.ECANCELED, 0), a);
      assertEquals(List.of(Weft.ETIMEDOUT, 0), b);
      assertEquals(List.of("one"), items);
      assertEquals(Weft.ECANCELED, tc.result());
      assertEquals(0, q.size());
      assertEquals(0, q.held());
    }
  }

  @Test
  void queuePutTimedOutLeavesTheValueWithThePutter() {
    try (Loop loop = new Loop(); Queue<String> q = new Queue<>(loop, 1)) {
      assertTrue(q.tryPut("first"));
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>();
      Task ta = waiter(loop, t -> q.put(t, "late"), a);
      Task tb = waiter(loop, t -> q.put(t, "closed"), b);
      loop.runNoWait();
      ta.timeout(ms(1)); // while it waits
      while (a.isEmpty()) loop.runOnce();
      q.shutdown(false); // the waiting putter resumes with ECLOSED
      loop.run();
      assertEquals(List.of(Weft.ETIMEDOUT, 0), a);
      assertEquals(List.of(Weft.ECLOSED, 0), b);
      assertEquals(1, q.held()); // only "first"
      assertEquals("first", q.tryGet());
      assertEquals(0, q.held());
    }
  }

  @Test
  void droppedValuesAreReleasedExactlyOnce() {
    List<Object> dropped = new ArrayList<>();
    try (Loop loop = new Loop()) {
      Queue<String> imm = new Queue<>(loop, 0, dropped::add);
      imm.tryPut("a");
      imm.tryPut("b");
      imm.shutdown(true);
      assertEquals(List.of("a", "b"), dropped);
      imm.shutdown(true); // nothing left
      imm.close();
      assertEquals(List.of("a", "b"), dropped);
      assertEquals(0, imm.held());

      Queue<String> freed = new Queue<>(loop, 0, dropped::add);
      List<Integer> g = new ArrayList<>();
      Queue<String> waited = new Queue<>(loop, 1, dropped::add);
      waiter(loop, waited::get, g);
      freed.tryPut("c");
      loop.runNoWait();
      freed.close();
      waited.close(); // the getter resumes with ECLOSED
      loop.run();
      assertEquals(List.of("a", "b", "c"), dropped);
      assertEquals(List.of(Weft.ECLOSED, 0), g);

      Queue<String> atLoopClose = new Queue<>(loop, 0, dropped::add);
      atLoopClose.tryPut("d");
      atLoopClose.tryPut("e");
    }
    assertEquals(List.of("a", "b", "c", "d", "e"), dropped);
  }

  @Test
  void aPutItsStepAbandonsIsQueuedOrDropped() {
    List<Object> dropped = new ArrayList<>();
    try (Loop loop = new Loop(); Queue<String> q = new Queue<>(loop, 2, dropped::add)) {
      assertTrue(q.tryPut("full"));
      for (String v : List.of("room", "waits")) {
        loop.spawn((t, s) -> {
          q.put(t, v); // and finish instead of waiting
          return 0;
        });
      }
      loop.run();
      assertEquals(List.of("waits"), dropped); // once the task finished
      assertEquals(2, q.held());
      assertEquals("full", q.tryGet());
      assertEquals("room", q.tryGet());
      assertEquals(0, q.held());
    }
    // What onDrop throws for such a value is run()'s to rethrow.
    try (Loop loop = new Loop();
        Queue<String> q = new Queue<>(loop, 1, v -> {
          throw new IllegalStateException(v);
        })) {
      assertTrue(q.tryPut("full"));
      loop.spawn((t, s) -> {
        q.put(t, "waits");
        return 0;
      });
      IllegalStateException e = assertThrows(IllegalStateException.class, loop::run);
      assertEquals("waits", e.getMessage());
      assertEquals("full", q.tryGet());
      assertEquals(0, q.held());
    }
  }

  @Test
  void anOnDropThatThrowsIsRethrownByTheClose() {
    try (Loop loop = new Loop()) {
      List<String> seen = new ArrayList<>();
      Queue<String> q = new Queue<>(loop, 0, v -> {
        seen.add(v);
        throw new IllegalStateException(v);
      });
      q.tryPut("a");
      q.tryPut("b");
      IllegalStateException e = assertThrows(IllegalStateException.class, q::close);
      assertEquals("a", e.getMessage());
      assertEquals(1, e.getSuppressed().length);
      assertEquals(List.of("a", "b"), seen);
    }
  }

  @Test
  void queueAsyncForms() throws Exception {
    List<Object> dropped = new ArrayList<>();
    try (Loop loop = new Loop(); Queue<String> q = new Queue<>(loop, 1, dropped::add)) {
      CompletableFuture<String> g1 = q.getAsync();
      CompletableFuture<String> g2 = q.getAsync();
      loop.runNoWait();
      CompletableFuture<Void> p1 = q.putAsync("v1");
      while (!g1.isDone()) loop.runNoWait(); // g2 waits meanwhile: run() would not return
      assertNull(p1.get());
      assertEquals("v1", g1.get());
      assertTrue(q.tryPut("v2")); // to g2's task
      assertTrue(g2.cancel(false)); // too late: the value is dropped, once
      loop.run();
      assertEquals(List.of("v2"), dropped);
      assertEquals(0, q.held());
      q.shutdown(false);
      CompletableFuture<String> g3 = q.getAsync();
      loop.run();
      ExecutionException x = assertThrows(ExecutionException.class, g3::get);
      assertEquals(Weft.ECLOSED, ((WeftException) x.getCause()).code());
    }
  }

  @Test
  void randomCancelsNeverLoseOrDuplicateAnItem() {
    java.util.Random rnd = new java.util.Random(16);
    List<Object> dropped = new ArrayList<>();
    List<Integer> got = new ArrayList<>();
    int producers = 4, each = 60;
    try (Loop loop = new Loop(); Queue<Integer> q = new Queue<>(loop, 3, dropped::add)) {
      List<Task> consumers = new ArrayList<>();
      for (int p = 0; p < producers; p++) {
        int base = p * each;
        loop.spawn((t, s) -> {
          int n = t.stepNumber();
          if (n > 0 && s != 0) return s;
          return n < each ? q.put(t, base + n) : 0;
        });
      }
      for (int c = 0; c < 6; c++) {
        consumers.add(loop.spawn((t, s) -> {
          if (t.stepNumber() > 0) {
            if (s == 0) got.add(q.received(t)); // granted, perhaps cancelled after: still ours
            else if (s == Weft.ECLOSED) return 0;
            // ECANCELED / ETIMEDOUT: took nothing; wait again
          }
          return q.get(t);
        }));
      }
      for (int i = 0; got.size() + dropped.size() < producers * each && i < 100_000; i++) {
        loop.runNoWait();
        Task victim = consumers.get(rnd.nextInt(consumers.size()));
        if (rnd.nextBoolean()) victim.cancel();
        else victim.timeoutNanos(rnd.nextInt(3) == 0 ? 1 : 0);
      }
      q.shutdown(false);
      loop.run();
    }
    assertTrue(dropped.isEmpty());
    List<Integer> sorted = new ArrayList<>(got);
    java.util.Collections.sort(sorted);
    List<Integer> want = new ArrayList<>();
    for (int i = 0; i < producers * each; i++) want.add(i);
    assertEquals(want, sorted, "every item exactly once");
  }

  @Test
  void tenThousandTasksThroughASemaphoreOfFifty() {
    try (Loop loop = new Loop(); Semaphore sem = new Semaphore(loop, 50)) {
      int[] active = new int[1], peak = new int[1], done = new int[1];
      for (int i = 0; i < 10_000; i++) {
        loop.spawnDetached((t, s) -> switch (t.stepNumber()) {
          case 0 -> sem.acquire(t);
          case 1 -> {
            assertEquals(0, s);
            peak[0] = Math.max(peak[0], ++active[0]);
            yield t.yieldNow(); // the "fetch", holding the permit
          }
          default -> {
            active[0]--;
            done[0]++;
            sem.release();
            yield 0;
          }
        });
      }
      loop.run();
      assertEquals(10_000, done[0]);
      assertEquals(50, peak[0]);
      assertEquals(50, sem.value());
    }
  }

  // -------------------------------------------------------- wait-first

  @Test
  void awaitFirstResolvesWithTheIndexOfTheFirstToFinish() throws Exception {
    try (Loop loop = new Loop()) {
      Task slow = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(Duration.ofHours(1)) : s);
      Task quick = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.yieldNow() : 7);
      List<Integer> got = new ArrayList<>();
      loop.spawn((t, s) -> switch (t.stepNumber()) {
        case 0 -> t.awaitFirst(slow, quick);
        case 1 -> {
          got.add(s);
          yield t.awaitFirst(List.of(slow, quick, quick)); // quick has finished: at once
        }
        default -> {
          got.add(s);
          assertEquals(Weft.EINVAL, t.awaitFirst());
          assertEquals(Weft.EINVAL, t.awaitFirst(t));
          slow.cancel();
          yield 0;
        }
      });
      CompletableFuture<Integer> f = loop.first(slow, quick);
      loop.run();
      assertEquals(List.of(1, 1), got);
      assertEquals(1, f.get());
      assertEquals(7, quick.result());
      assertEquals(Weft.ECANCELED, slow.result());
    }
  }

  // --------------------------------------------- CompletableFuture awaits

  @Test
  void aTaskAwaitsAFutureCompletedOnAnotherThread() {
    try (Loop loop = new Loop()) {
      CompletableFuture<String> f = new CompletableFuture<>();
      Thread[] ranOn = new Thread[1];
      String[] value = new String[1];
      Task t = loop.spawn((task, s) -> {
        if (task.stepNumber() == 0) {
          int r = task.await(f); // armed before the other thread can complete it
          new Thread(() -> f.complete("from a thread")).start();
          return r;
        }
        ranOn[0] = Thread.currentThread();
        value[0] = f.getNow(null);
        return s;
      });
      loop.run(); // the waiting task keeps it running until the post arrives
      assertEquals(0, t.result());
      assertEquals("from a thread", value[0]);
      assertSame(Thread.currentThread(), ranOn[0]);
    }
  }

  @Test
  void awaitingACompleteFutureAndCancellingTheWait() {
    try (Loop loop = new Loop()) {
      CompletableFuture<String> done = CompletableFuture.completedFuture("x");
      CompletableFuture<String> never = new CompletableFuture<>();
      List<Integer> a = new ArrayList<>(), b = new ArrayList<>(), c = new ArrayList<>();
      waiter(loop, t -> t.await(done), a);
      Task tb = waiter(loop, t -> t.await(never), b);
      Task tc = waiter(loop, t -> t.await(never), c);
      loop.runNoWait();
      tb.timeout(ms(1)); // while it waits
      tc.cancel();
      loop.run();
      assertEquals(List.of(0, 0), a);
      assertEquals(List.of(Weft.ETIMEDOUT, 0), b);
      assertEquals(List.of(Weft.ECANCELED, 0), c);
      never.complete("late"); // posts a set of an event already freed: harmless
      loop.run();
      assertEquals(0, loop.stats().tasksAlive());
    }
  }

  @Test
  void aFutureCompletedAfterTheLoopClosedIsHarmless() {
    CompletableFuture<String> f = new CompletableFuture<>();
    try (Loop loop = new Loop()) {
      loop.spawn((t, s) -> t.stepNumber() == 0 ? t.await(f) : s);
      loop.runNoWait();
    } // the waiting task is cancelled
    assertTrue(f.complete("after"));
  }
}
