package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The ownership model: weft's release hook deletes each callback reference
 * exactly once, in every way a handle ends; a host object keeps its id
 * alive while reachable; dropped loops and tasks are collected.
 */
class OwnershipTest extends WeftTestBase {
  private static final Duration HOUR = Duration.ofHours(1);

  /** Collects garbage until done holds (or fails after a minute); returns how many rounds it took. */
  static int gcUntil(BooleanSupplier done, Runnable between) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    for (int round = 0; ; round++) {
      if (done.getAsBoolean()) return round;
      assertTrue(System.nanoTime() < deadline, "not collected within a minute");
      System.gc();
      between.run();
      try {
        Thread.sleep(5); // polling: the cleaner thread needs a turn
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Open fds of the kinds a loop opens (its epoll fd and eventfd); the JVM's own files do not count. */
  static long loopFds() {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.filter(f -> {
        try {
          String target = Files.readSymbolicLink(f).toString();
          return target.equals("anon_inode:[eventpoll]") || target.equals("anon_inode:[eventfd]");
        } catch (IOException gone) {
          return false; // the listing's own fd
        }
      }).count();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void hookReleasesOnceInEveryEnding() {
    final long base = Weft.liveCallbackRefs();
    try (Loop loop = new Loop(); SocketPair p = SocketPair.open()) {
      // fired one-shot, stopped timer, repeating timer stopped by itself, stopped watch, post, to_thread
      Timer fired = loop.timer(Duration.ZERO, () -> {});
      Timer stopped = loop.timer(HOUR, () -> fail("stopped"));
      Timer repeating = loop.timer(Duration.ZERO, ms(1), Timer::stop);
      FdWatch watch = loop.watch(p.fd1(), Weft.WRITABLE, (w, e) -> w.stop());
      loop.post(() -> {});
      var work = loop.toThread(() -> 1);
      assertEquals(base + 6, Weft.liveCallbackRefs());
      assertTrue(stopped.stop());
      assertEquals(base + 5, Weft.liveCallbackRefs()); // at the stop, not later
      assertFalse(stopped.isActive());
      loop.run();
      assertEquals(1, work.join());
      for (Handle h : List.<Handle>of(fired, repeating, watch)) assertFalse(h.isActive());
      assertEquals(base, Weft.liveCallbackRefs());

      // a task: its reference lives until weft frees it (finished and released)
      Task t = loop.spawn((task, s) -> 3);
      loop.run();
      assertEquals(base + 1, Weft.liveCallbackRefs());
      t.close();
      assertEquals(base, Weft.liveCallbackRefs());
      t.close(); // once
      assertEquals(base, Weft.liveCallbackRefs());
      assertEquals(3, t.result());
    }
    assertEquals(base, Weft.liveCallbackRefs());
  }

  @Test
  void orphanedWorkIsReleasedWhenItReallyEnds() throws Exception {
    final long base = Weft.liveCallbackRefs();
    try (Loop loop = new Loop()) {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch go = new CountDownLatch(1);
      AtomicInteger ended = new AtomicInteger();
      // The step arms a thread await and finishes anyway: the work runs on, orphaned.
      Task t = loop.spawn((task, s) -> {
        task.awaitThread(() -> {
          started.countDown();
          try {
            go.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return ended.incrementAndGet();
        });
        await(started); // a pool thread has taken the work: finishing now orphans it
        return 7;
      });
      loop.runNoWait();
      assertTrue(t.isDone());
      assertEquals(7, t.result()); // the core finished it at once: no deferred finish
      assertEquals(base + 2, Weft.liveCallbackRefs()); // the task (unreleased) and the running work
      t.close();
      assertEquals(base + 1, Weft.liveCallbackRefs()); // the work still holds its reference
      go.countDown();
      runUntil(loop, () -> Weft.liveCallbackRefs() == base + 1); // + runUntil's own timer
      assertEquals(1, ended.get());
    }
    assertEquals(base, Weft.liveCallbackRefs());
  }

  @Test
  void loopFreeReleasesEverythingOnce() throws Exception {
    final long base = Weft.liveCallbackRefs();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    List<Handle> handles = new ArrayList<>();
    java.util.concurrent.CompletableFuture<Void> sleep;
    Task finished;
    AtomicInteger cancelled = new AtomicInteger();
    try (SocketPair p = SocketPair.open()) {
      try (Loop loop = new Loop()) {
        handles.add(loop.timer(HOUR, HOUR, t -> fail("called at close")));
        handles.add(loop.timer(HOUR, () -> fail("called at close")));
        handles.add(loop.watch(p.fd0(), Weft.READABLE, (w, e) -> fail("called at close")));
        sleep = loop.sleep(HOUR);
        finished = loop.spawn((t, s) -> 5); // finished, never released
        loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(HOUR) : cancelled.addAndGet(s == Weft.ECANCELED ? 1 : 0));
        loop.spawnDetached((t, s) -> t.stepNumber() == 0 ? t.sleep(HOUR) : cancelled.addAndGet(s == Weft.ECANCELED ? 1 : 0));
        // orphaned running work: close waits for it, then releases it
        loop.spawnDetached((t, s) -> {
          t.awaitThread(() -> {
            started.countDown();
            await(go);
            return 0;
          });
          await(started);
          return 0;
        });
        loop.runNoWait();
        new Thread(() -> { // close waits for the orphaned work: let it end meanwhile
          while (!loop.isRunning()) Thread.onSpinWait();
          go.countDown();
        }).start();
        loop.post(() -> {});
        // 3 timers (one the sleep's), the watch, 3 tasks (one finished), the orphaned work, the post
        assertEquals(base + 9, Weft.liveCallbackRefs());
      }
    }
    assertEquals(base, Weft.liveCallbackRefs());
    for (Handle h : handles) assertFalse(h.isActive());
    assertTrue(sleep.isCancelled());
    assertEquals(5, finished.result());
    assertEquals(2, cancelled.get());
  }

  @Test
  void droppedTaskReleasesItsId() {
    final long base = Weft.liveCallbackRefs();
    try (Loop loop = new Loop()) {
      WeakReference<Task> ref = new WeakReference<>(loop.spawn((t, s) -> 1));
      loop.run();
      assertEquals(base + 1, Weft.liveCallbackRefs()); // finished, id held by the dropped Task
      gcUntil(() -> ref.get() == null && Weft.liveCallbackRefs() == base, loop::runNoWait);
      // A task dropped while it runs stays alive until it finishes, then goes too.
      AtomicInteger steps = new AtomicInteger();
      WeakReference<Task> running = new WeakReference<>(
          loop.spawn((t, s) -> steps.incrementAndGet() < 3 ? t.yieldNow() : 2));
      gcUntil(() -> running.get() == null && Weft.liveCallbackRefs() == base, loop::runNoWait);
      assertEquals(3, steps.get());
    }
    assertEquals(base, Weft.liveCallbackRefs());
  }

  @Test
  void droppedLoopsAreClosedByTheCollector() {
    final long base = Weft.liveCallbackRefs();
    System.gc();
    final long before = loopFds();
    List<WeakReference<Loop>> refs = dropLoops(1_000);
    assertEquals(1_000, refs.size());
    gcUntil(() -> refs.stream().allMatch(r -> r.get() == null) && loopFds() <= before, () -> {});
    assertEquals(base, Weft.liveCallbackRefs());
  }

  /** Makes n loops and drops them (in a frame of its own: no stack slot keeps one). */
  private static List<WeakReference<Loop>> dropLoops(int n) {
    List<Loop> loops = new ArrayList<>();
    for (int i = 0; i < n; i++) loops.add(new Loop());
    assertTrue(loopFds() >= 2L * n, "each loop holds an epoll fd and an eventfd");
    List<WeakReference<Loop>> refs = new ArrayList<>();
    for (Loop l : loops) refs.add(new WeakReference<>(l));
    return refs;
  }

  @Test
  void loopWithLiveTasksIsNotKeptAliveByThem() {
    final long base = Weft.liveCallbackRefs();
    System.gc();
    final long before = loopFds();
    AtomicInteger ends = new AtomicInteger();
    SocketPair p = SocketPair.open();
    WeakReference<Loop> ref;
    Task held;
    {
      Loop loop = new Loop();
      ref = new WeakReference<>(loop);
      // Nothing here refers to `loop`: the tasks, timer and watch are reachable
      // from weft's references only, which do not reach the Loop.
      Step count = (t, s) -> {
        if (t.stepNumber() == 0) return t.readable(p.fd0());
        ends.addAndGet(s == Weft.ECANCELED ? 1 : 100);
        return s;
      };
      held = loop.spawn(count);
      loop.spawnDetached(count);
      loop.timer(HOUR, HOUR, t -> fail("called"));
      loop.watch(p.fd0(), Weft.READABLE, (w, e) -> fail("called"));
      loop.runNoWait();
      assertTrue(Weft.liveCallbackRefs() >= base + 4);
      loop = null;
    }
    gcUntil(() -> ref.get() == null && ends.get() == 2 && Weft.liveCallbackRefs() == base, () -> {});
    assertTrue(held.isDone());
    assertEquals(Weft.ECANCELED, held.result()); // its step saw ECANCELED as the collector closed the loop
    assertNull(held.loop());
    assertCode(Weft.ESTALE, held::cancel);
    p.close();
    assertTrue(loopFds() <= before);
  }

  static void assertCode(int code, Runnable r) {
    assertEquals(code, assertThrows(WeftException.class, r::run).code());
  }

  @Test
  void cancelOfAHeldLongFinishedTaskReachesNothingElse() {
    try (Loop loop = new Loop()) {
      Task a = loop.spawn((t, s) -> 1);
      loop.run();
      // Four million tasks later (the id's generation space), A still names A.
      assertEquals(0, TestNative.churnTasks(loop.st.ptr(), 1 << 22));
      Task b = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(1)) : s);
      a.cancel(); // a finished task: nothing happens
      loop.run();
      assertEquals(0, b.result());
      assertEquals(1, a.result());
      a.close();
      b.close();
    }
  }

  @Test
  void cancelOfAReleasedLongFinishedTaskReachesNothingElse() {
    // The core's ids never repeat (issue 11): a released task's id stays stale
    // after its slot served 2^22 - 1 more tasks (where the generation used to wrap).
    try (Loop loop = new Loop()) {
      Task a = loop.spawn((t, s) -> 1);
      loop.run();
      a.close(); // its slot is free: the next tasks reuse it
      assertEquals(0, TestNative.churnTasks(loop.st.ptr(), (1 << 22) - 1));
      Task b = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(1)) : s);
      assertCode(Weft.ESTALE, a::cancel);
      loop.run();
      assertEquals(0, b.result());
      b.close();
    }
  }

  @Test
  void awaitAllTakesACollection() {
    try (Loop loop = new Loop()) {
      List<Task> kids = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        int v = i;
        kids.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(1)) : v));
      }
      Task all = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.awaitAll(kids) : s);
      Task group = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.awaitAll(Weft.CANCEL_ON_ERROR, kids) : s);
      loop.run();
      assertEquals(0, all.result());
      assertEquals(0, group.result());
      assertTrue(kids.stream().allMatch(Task::isDone));
      for (Task t : kids) t.close();
      all.close();
      group.close();
    }
  }

  @Test
  void benchmarkEntryPointsAreNotShipped() throws Exception {
    assertTrue(Arrays.stream(WeftNativeJNI.class.getDeclaredMethods()).noneMatch(m -> m.getName().startsWith("bench")));
    assertTrue(Arrays.stream(Weft.class.getDeclaredMethods()).noneMatch(m -> m.getName().contains("rossing")));
    var url = NativeLoader.class.getResource("native/" + NativeLoader.platform() + "/" + NativeLoader.JNI_LIB);
    assertNotNull(url);
    String lib = new String(Files.readAllBytes(Path.of(url.toURI())), java.nio.charset.StandardCharsets.ISO_8859_1);
    assertFalse(lib.contains("Java_dev_weft_WeftNativeJNI_bench"), "the shipped JNI library has no benchmark entry point");
  }
}
