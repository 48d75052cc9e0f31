package dev.weft;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Every test must leave the binding's JNI global references as it found them. */
abstract class WeftTestBase {
  private long refsBefore;

  @BeforeEach
  void countRefsBefore() {
    refsBefore = Weft.liveCallbackRefs();
  }

  @AfterEach
  void checkRefsAfter() {
    assertEquals(refsBefore, Weft.liveCallbackRefs(), "JNI global references leaked by this test");
  }

  static Duration ms(long n) {
    return Duration.ofMillis(n);
  }

  /** Runs `loop` until `done` holds, posting from nowhere: a repeating 1 ms timer keeps it alive. */
  static void runUntil(Loop loop, java.util.function.BooleanSupplier done) {
    Timer keepAlive = loop.timer(Duration.ZERO, ms(1), t -> {
      if (done.getAsBoolean()) t.stop();
    });
    loop.run();
    assertEquals(false, keepAlive.isActive());
  }
}
