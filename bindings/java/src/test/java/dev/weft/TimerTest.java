package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TimerTest extends WeftTestBase {
  @Test
  void oneShotFiresOnceThenEnds() {
    try (Loop loop = new Loop()) {
      int[] n = {0};
      long t0 = System.nanoTime();
      long[] firedAt = {0};
      Timer t = loop.timer(ms(5), () -> {
        n[0]++;
        firedAt[0] = System.nanoTime();
      });
      assertTrue(t.isActive());
      assertFalse(t.isRepeating());
      assertSame(loop, t.loop());
      assertNotEquals(0, t.id());
      assertFalse(loop.run());
      assertEquals(1, n[0]);
      assertTrue(firedAt[0] - t0 >= 5_000_000, "never early");
      assertFalse(t.isActive());
      assertFalse(t.stop());
    }
  }

  @Test
  void repeatingRunsUntilStoppedFromItsCallback() {
    try (Loop loop = new Loop()) {
      int[] n = {0};
      Timer t = loop.timer(Duration.ZERO, ms(1), tm -> {
        if (++n[0] == 5) assertTrue(tm.stop());
      });
      assertTrue(t.isRepeating());
      assertFalse(loop.run());
      assertEquals(5, n[0]);
      assertFalse(t.isActive());
    }
  }

  @Test
  void stoppedBeforeItFiresNeverRuns() {
    try (Loop loop = new Loop()) {
      Timer t = loop.timer(ms(1), () -> fail("stopped timer ran"));
      assertTrue(t.stop());
      assertFalse(t.stop());
      assertFalse(loop.run());
    }
  }

  @Test
  void oneShotStoppingItselfInItsCallback() {
    try (Loop loop = new Loop()) {
      boolean[] stopResult = {false};
      Timer[] self = new Timer[1];
      self[0] = loop.timer(Duration.ZERO, () -> stopResult[0] = self[0].stop());
      loop.run();
      // weft's answer: a one-shot's id stays live until its callback returns
      assertTrue(stopResult[0]);
      assertFalse(self[0].isActive());
      assertFalse(self[0].stop());
    }
  }

  @Test
  void equalDeadlinesFireInStartOrder() {
    try (Loop loop = new Loop()) {
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        int k = i;
        loop.timer(Duration.ZERO, () -> order.add(k));
      }
      loop.run();
      for (int i = 0; i < 20; i++) assertEquals(i, order.get(i));
    }
  }

  @Test
  void badArguments() {
    try (Loop loop = new Loop()) {
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> loop.timerNanos(-1, 0, t -> {})).code());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> loop.timerNanos(0, -1, t -> {})).code());
      assertThrows(NullPointerException.class, () -> loop.timer(ms(1), (Runnable) null));
      assertThrows(NullPointerException.class, () -> loop.timerNanos(1, 1, null));
      assertEquals(0, loop.stats().timersActive());
    }
  }

  @Test
  void timersLiveAtCloseAreStoppedWithoutBeingCalled() {
    Loop loop = new Loop();
    List<Timer> ts = new ArrayList<>();
    for (int i = 0; i < 100; i++) ts.add(loop.timer(Duration.ofHours(1), () -> fail("called at close")));
    for (int i = 0; i < 100; i++) ts.add(loop.timer(Duration.ofHours(1), Duration.ofHours(1), t -> fail("called")));
    loop.close();
    for (Timer t : ts) assertFalse(t.isActive());
  }

  @Test
  void callbacksMaySpawnAndStartTimers() {
    try (Loop loop = new Loop()) {
      List<String> seen = new ArrayList<>();
      loop.timer(Duration.ZERO, () -> {
        seen.add("timer");
        loop.timer(ms(1), () -> seen.add("nested timer"));
        loop.spawn((t, s) -> {
          seen.add("task");
          return 0;
        }).close();
      });
      loop.run();
      assertEquals(List.of("timer", "task", "nested timer"), seen);
    }
  }
}
