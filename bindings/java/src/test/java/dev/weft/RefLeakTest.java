package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * No JNI global reference leaks, counted on the native side, over 100,000+
 * handles of every kind and every way a handle can end: fired, stopped,
 * finished, cancelled, released, detached, or still live when the loop closes.
 */
class RefLeakTest extends WeftTestBase {
  private static final int N = 10_000;

  @Test
  void overAHundredThousandHandles() throws Exception {
    final long base = Weft.liveCallbackRefs();
    long handles = 0;
    int[] fds = Fds.socketPair(true);
    try (Loop loop = new Loop()) {
      int[] fired = {0};
      // 1. one-shot timers that fire; 2. timers stopped before firing
      for (int i = 0; i < N; i++) loop.timer(Duration.ZERO, () -> fired[0]++);
      List<Timer> stopped = new ArrayList<>();
      for (int i = 0; i < N; i++) stopped.add(loop.timer(Duration.ofHours(1), () -> fail("stopped")));
      handles += 2L * N;
      assertEquals(base + 2L * N, Weft.liveCallbackRefs());
      for (Timer t : stopped) assertTrue(t.stop());
      loop.run();
      assertEquals(N, fired[0]);
      assertEquals(base, Weft.liveCallbackRefs());

      // 3. repeating timers stopped from their own callback
      for (int i = 0; i < N; i++) loop.timer(Duration.ZERO, ms(1), Timer::stop);
      handles += N;
      loop.run();
      assertEquals(base, Weft.liveCallbackRefs());

      // 4. fd watches stopped from their callback (several share one fd)
      for (int i = 0; i < N; i++) loop.watch(fds[1], Weft.WRITABLE, (w, e) -> w.stop());
      handles += N;
      loop.run();
      assertEquals(base, Weft.liveCallbackRefs());

      // 5. tasks: finished and released, detached, cancelled, with thread awaits
      List<Task> tasks = new ArrayList<>();
      for (int i = 0; i < N; i++) tasks.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? t.yieldNow() : 1));
      for (int i = 0; i < N; i++) loop.spawnDetached((t, s) -> t.stepNumber() == 0 ? t.sleep(ms(1)) : 2);
      List<Task> cancelled = new ArrayList<>();
      for (int i = 0; i < N; i++) cancelled.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(Duration.ofHours(1)) : s));
      for (int i = 0; i < 2_000; i++) loop.spawnDetached((t, s) -> t.stepNumber() == 0 ? t.awaitThread(() -> 3) : s);
      handles += 3L * N + 2_000;
      loop.runNoWait();
      for (Task t : cancelled) t.cancel();
      loop.run();
      for (Task t : tasks) {
        assertEquals(1, t.result());
        t.close();
      }
      for (Task t : cancelled) {
        assertEquals(Weft.ECANCELED, t.result());
        t.close();
      }
      assertEquals(base, Weft.liveCallbackRefs());

      // 6. posts, to_thread work, futures
      int[] posted = {0};
      for (int i = 0; i < N; i++) loop.post(() -> posted[0]++);
      List<CompletableFuture<Integer>> works = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) works.add(loop.toThread(() -> 1));
      List<CompletableFuture<Void>> sleeps = new ArrayList<>();
      for (int i = 0; i < N; i++) sleeps.add(loop.sleep(Duration.ZERO));
      handles += N + 2_000 + N;
      loop.run();
      assertEquals(N, posted[0]);
      for (CompletableFuture<Integer> f : works) assertEquals(1, f.get());
      for (CompletableFuture<Void> f : sleeps) assertTrue(f.isDone());
      assertEquals(base, Weft.liveCallbackRefs());

      // 7. loggers replaced
      for (int i = 0; i < 1_000; i++) loop.setLogger((l, m) -> {});
      loop.setLogger(null);
      handles += 1_000;
      assertEquals(base, Weft.liveCallbackRefs());

      // 8. live at close: repeating timers, one-shot timers, watches, unfinished tasks, posts, sleeps
      for (int i = 0; i < N; i++) loop.timer(Duration.ofHours(1), Duration.ofHours(1), t -> fail("called at close"));
      for (int i = 0; i < N; i++) loop.timer(Duration.ofHours(1), () -> fail("called at close"));
      for (int i = 0; i < N; i++) loop.watch(fds[0], Weft.READABLE, (w, e) -> fail("called at close"));
      for (int i = 0; i < N; i++) loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(Duration.ofHours(1)) : s);
      for (int i = 0; i < N; i++) loop.post(() -> {});
      loop.setLogger((l, m) -> {});
      handles += 5L * N + 1;
      assertEquals(base + 5L * N + 1, Weft.liveCallbackRefs());
    }
    assertEquals(base, Weft.liveCallbackRefs());
    Fds.close(fds[0]);
    Fds.close(fds[1]);
    assertTrue(handles >= 100_000, "handles: " + handles);
  }
}
