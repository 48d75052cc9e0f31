package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongBinaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Sockets and synchronisation primitives the program drops are closed or
 * freed by the garbage collector (on the loop thread), as loops and tasks
 * are; one that a waiting task awaits stays reachable through the task.
 */
class CollectorTest extends WeftTestBase {
  /** Open socket fds of this process. */
  static long socketFds() {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.filter(f -> {
        try {
          return Files.readSymbolicLink(f).toString().startsWith("socket:");
        } catch (IOException gone) {
          return false;
        }
      }).count();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** n sockets owned by Socket objects (one end of a pair each) and n listeners, all dropped at once. */
  static void openAndDrop(Loop loop, int n) {
    List<int[]> others = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] p = Fds.socketPair(true);
      Socket.of(loop, p[0]);
      others.add(p);
      ServerSocket.listen(loop, "127.0.0.1", 0);
    }
    for (int[] p : others) Fds.close(p[1]);
  }

  @Test
  void droppedSocketsAreClosed() {
    long before = socketFds();
    try (Loop loop = new Loop()) {
      openAndDrop(loop, 100);
      assertTrue(socketFds() >= before + 200);
      OwnershipTest.gcUntil(() -> socketFds() <= before, loop::runNoWait); // closed by the loop thread
    }
  }

  @Test
  void socketsDroppedAfterTheirLoopClosedAreClosed() {
    long before = socketFds();
    Loop loop = new Loop();
    openAndDrop(loop, 100);
    loop.close(); // weft leaves owned fds open
    assertTrue(socketFds() >= before + 200);
    OwnershipTest.gcUntil(() -> socketFds() <= before, () -> {}); // close(2) on the cleaner's thread
  }

  @Test
  void droppedPrimitivesAreFreed() {
    try (Loop loop = new Loop()) {
      long p = loop.st.ptr();
      long[] v = new long[1];
      AtomicInteger dropped = new AtomicInteger();
      List<long[]> ids = new ArrayList<>(); // {kind, id}
      for (int i = 0; i < 50; i++) {
        ids.add(new long[] {0, new Event(loop).id()});
        ids.add(new long[] {1, new Semaphore(loop, 1).id()});
        ids.add(new long[] {2, new Lock(loop).id()});
        Queue<String> q = new Queue<>(loop, 0, s -> dropped.incrementAndGet());
        assertTrue(q.tryPut("item"));
        ids.add(new long[] {3, q.id()});
      }
      LongBinaryOperator probe = (kind, id) -> switch ((int) kind) {
        case 0 -> WeftNative.weft_event_is_set(p, id);
        case 1 -> WeftNative.weft_semaphore_value(p, id, v);
        case 2 -> WeftNative.weft_lock_owner(p, id, v);
        default -> WeftNative.weft_queue_size(p, id, v);
      };
      for (long[] k : ids) assertTrue(probe.applyAsLong(k[0], k[1]) >= 0);
      OwnershipTest.gcUntil(() -> ids.stream().allMatch(k -> probe.applyAsLong(k[0], k[1]) == Weft.ESTALE),
          loop::runNoWait);
      assertEquals(50, dropped.get()); // each queue's item went to its onDrop, once
    }
  }

  @Test
  void whatATaskAwaitsStaysReachable() {
    int[] pair = Fds.socketPair(true);
    try (Loop loop = new Loop()) {
      int fd = pair[0]; // the Socket's: closed by it
      // Neither the event nor the socket is referenced but by the await on it.
      Task onEvent = loop.spawn((t, s) -> t.stepNumber() == 0 ? new Event(loop).await(t) : s);
      Task onSocket = loop.spawn((t, s) -> t.stepNumber() == 0 ? Socket.of(loop, fd).recv(t, new byte[4]) : s);
      loop.runNoWait();
      long probe = new Event(loop).id(); // dropped: collected in the same rounds
      OwnershipTest.gcUntil(() -> WeftNative.weft_event_is_set(loop.st.ptr(), probe) == Weft.ESTALE, loop::runNoWait);
      assertEquals(TaskState.WAITING, onEvent.state());
      assertEquals(TaskState.WAITING, onSocket.state());
      assertEquals(1, Fds.write(pair[1], new byte[] {5}));
      onEvent.cancel();
      loop.run();
      assertEquals(Weft.ECANCELED, onEvent.result());
      assertEquals(1, onSocket.result()); // then the Socket is dropped and closes fd
      OwnershipTest.gcUntil(() -> Fds.write(pair[1], new byte[] {5}) < 0, loop::runNoWait); // EPIPE: the peer is closed
      onEvent.close();
      onSocket.close();
    }
    Fds.close(pair[1]);
  }

  @Test
  void closeAndTheCollectorEndOnce() {
    try (Loop loop = new Loop()) {
      AtomicInteger dropped = new AtomicInteger();
      Queue<String> q = new Queue<>(loop, 0, s -> dropped.incrementAndGet());
      q.tryPut("a");
      q.close();
      q.close();
      assertEquals(1, dropped.get());
      Socket s = Socket.of(loop, Fds.socketPair(true)[0]);
      s.close();
      assertTrue(s.isClosed());
      s.close(); // once: the fd number may belong to someone else by now
    }
  }
}
