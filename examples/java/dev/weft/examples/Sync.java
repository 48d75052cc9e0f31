package dev.weft.examples;

import dev.weft.Loop;
import dev.weft.Queue;
import dev.weft.Semaphore;
import dev.weft.Task;
import dev.weft.Weft;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Seed 004's two production patterns with weft's synchronisation primitives,
 * from Java (examples/sync/sync.c is the C one; the output lines are the
 * same):
 *
 * <ol>
 *   <li>a producer hands work to a background writer through a bounded
 *       {@link Queue} of 20 (asyncio.Queue(maxsize=20)); the writer does its
 *       blocking write on the thread pool ({@link Task#awaitThread}); shutting
 *       the queue down is the end-of-stream mark, like closing a Go channel;
 *   <li>10,000 tasks "fetch" from one upstream, at most 50 at a time, through
 *       a {@link Semaphore} of 50 (asyncio.Semaphore(50)); the peak number of
 *       fetches in flight is printed and checked.
 * </ol>
 *
 * <pre>
 *   java -cp weft.jar:test-classes dev.weft.examples.Sync
 * </pre>
 *
 * Exits 0 when every check passes (among them: the peak is exactly 50), 1
 * otherwise.
 */
public final class Sync {
  private static final int ITEMS = 100;
  private static final int QUEUE_CAPACITY = 20;
  private static final int FETCHES = 10_000;
  private static final int MAX_IN_FLIGHT = 50;

  private Sync() {}

  /**
   * Runs both patterns and prints one line for each.
   *
   * @param args none
   * @throws IOException if the temporary file cannot be made
   */
  public static void main(String[] args) throws IOException {
    boolean ok;
    try (Loop loop = new Loop()) {
      boolean pipelineOk = pipeline(loop);
      boolean fetchOk = boundedFetch(loop);
      ok = pipelineOk && fetchOk;
    }
    if (!ok) {
      System.out.println("FAILED");
      System.exit(1);
    }
    System.out.println("all checks passed");
  }

  // ------------------------------------------------ 1. producer and writer

  private static boolean pipeline(Loop loop) throws IOException {
    Path path = Files.createTempFile("weft-sync", ".txt");
    long[] written = {0};
    long[] sumWritten = {0};
    long[] peakSize = {0};
    try (Writer out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
        Queue<Integer> queue = new Queue<>(loop, QUEUE_CAPACITY)) {
      int[] pending = {0}; // the item the writer's pool job writes
      Task writer = loop.spawn((t, s) -> {
        int k = t.stepNumber();
        if (k > 0 && k % 2 == 1) {          // resumed by a get
          if (s == Weft.ECLOSED) return 0;  // shut down and drained: done
          if (s < 0) return s;
          pending[0] = queue.received(t);
          return t.awaitThread(() -> {      // the blocking write, on a pool thread
            try {
              out.write("item " + pending[0] + "\n");
              return 0;
            } catch (IOException e) {
              return -1;
            }
          });
        }
        if (k > 0) {                        // resumed by the write
          if (s != 0) return s;
          written[0]++;
          sumWritten[0] += pending[0];
        }
        return queue.get(t);
      });
      Task producer = loop.spawn((t, s) -> {
        if (s < 0) return s;
        peakSize[0] = Math.max(peakSize[0], queue.size());
        int k = t.stepNumber();
        if (k == ITEMS) {
          queue.shutdown(false); // end of stream: the writer drains, then sees ECLOSED
          return 0;
        }
        return queue.put(t, k + 1); // waits while the queue holds QUEUE_CAPACITY items
      });
      loop.run();
      int wr = writer.result();
      int pr = producer.result();
      writer.close();
      producer.close();
      System.out.printf("writer: %d items written (sum %d), queue peak %d of %d%n", written[0], sumWritten[0],
          peakSize[0], QUEUE_CAPACITY);
      return wr == 0 && pr == 0 && written[0] == ITEMS && sumWritten[0] == (long) ITEMS * (ITEMS + 1) / 2
          && peakSize[0] <= QUEUE_CAPACITY && peakSize[0] > 0;
    } finally {
      Files.deleteIfExists(path);
    }
  }

  // ------------------------------------------------------ 2. bounded fetch

  private static boolean boundedFetch(Loop loop) {
    int[] inFlight = {0};
    int[] peak = {0};
    int[] done = {0};
    try (Semaphore sem = new Semaphore(loop, MAX_IN_FLIGHT, true)) {
      for (int i = 0; i < FETCHES; i++) {
        loop.spawnDetached((t, s) -> {
          switch (t.stepNumber()) {
            case 0:                           // async with sem:
              return sem.acquire(t);
            case 1:
              if (s < 0) return s;
              if (++inFlight[0] > peak[0]) peak[0] = inFlight[0];
              return t.sleep(Duration.ofMillis(1)); // the upstream takes 1 ms
            default:
              inFlight[0]--;
              done[0]++;
              sem.release();
              return s;
          }
        });
      }
      loop.run();
      long left = sem.value();
      System.out.printf("fetch: %d of %d done, peak in flight %d (limit %d), permits back %d%n", done[0], FETCHES,
          peak[0], MAX_IN_FLIGHT, left);
      return done[0] == FETCHES && peak[0] == MAX_IN_FLIGHT && left == MAX_IN_FLIGHT;
    }
  }
}
