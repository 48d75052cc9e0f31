package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** ServerSocket and Socket: every operation, its errors, cancel/timeout of each await. */
class SocketTest extends WeftTestBase {
  /** One stage of a task: gets the last await's status, returns PENDING or the result. */
  interface Stage {
    int run(Task t, int status);
  }

  /** A step that runs the stages in order, one per step. */
  static Step seq(Stage... stages) {
    int[] i = {0};
    return (t, s) -> stages[i[0]++].run(t, s);
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /** A connected pair through a listener on 127.0.0.1 (made before the loop runs the test). */
  static Socket[] pair(Loop loop) {
    try (ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      CompletableFuture<Socket> a = l.acceptAsync();
      CompletableFuture<Socket> c = Socket.connectAsync(loop, "127.0.0.1", l.localPort());
      loop.run();
      return new Socket[] {a.join(), c.join()};
    }
  }

  static void closeAll(Socket... s) {
    for (Socket x : s) x.close();
  }

  @Test
  void echoWithByteArraysInTasks() {
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      int port = l.localPort();
      assertTrue(port > 0 && port <= 65535);
      byte[] sbuf = new byte[16];
      Socket[] sc = new Socket[2];
      Task server = loop.spawn(seq(
          (t, s) -> l.accept(t),
          (t, s) -> { sc[0] = l.accepted(s); return sc[0].recv(t, sbuf); },
          (t, s) -> { assertEquals(5, s); return sc[0].send(t, sbuf, 0, s); },
          (t, s) -> { assertEquals(5, t.lastSent()); sc[0].close(); return s; }));
      byte[] cbuf = new byte[16];
      Task client = loop.spawn(seq(
          (t, s) -> Socket.connect(t, "127.0.0.1", port),
          (t, s) -> { sc[1] = Socket.of(loop, s); return sc[1].send(t, bytes("hello")); },
          (t, s) -> { assertEquals(0, s); return sc[1].recv(t, cbuf, 2, 10); },
          (t, s) -> { sc[1].close(); return s; }));
      loop.run();
      assertEquals(0, server.result());
      assertEquals(5, client.result());
      assertEquals("hello", new String(cbuf, 2, 5, StandardCharsets.US_ASCII));
      assertTrue(sc[0].isClosed() && sc[1].isClosed());
    }
  }

  @Test
  void directBuffersInPlaceAndHeapBuffers() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      ByteBuffer out = ByteBuffer.allocateDirect(32);
      out.put(bytes("xxabcdef")).flip().position(2);
      ByteBuffer in = ByteBuffer.allocateDirect(32).position(4);
      ByteBuffer heapOut = ByteBuffer.wrap(bytes("123"));
      ByteBuffer heapIn = ByteBuffer.allocate(8).position(1);
      Task t1 = loop.spawn(seq(
          (t, s) -> p[0].send(t, out),
          (t, s) -> { assertEquals(6, t.lastSent()); return p[0].send(t, heapOut); },
          (t, s) -> s));
      Task t2 = loop.spawn(seq(
          (t, s) -> p[1].recv(t, in),
          (t, s) -> {
            int got = in.position() - 4;
            assertEquals(s, got);
            return got < 6 ? p[1].recv(t, in) : p[1].recv(t, heapIn); // the rest of abcdef, or the 123
          },
          (t, s) -> in.position() - 4 < 6 ? p[1].recv(t, heapIn) : s,
          (t, s) -> s));
      loop.run();
      assertEquals(0, t1.result());
      assertEquals(8, out.position());
      assertEquals(3, heapOut.position());
      assertEquals(10, in.position());
      byte[] got = new byte[6];
      in.flip().position(4);
      in.get(got);
      assertArrayEquals(bytes("abcdef"), got);
      assertTrue(heapIn.position() > 1);
      assertEquals('1', heapIn.get(1));
      closeAll(p);
    }
  }

  @Test
  void largeSendsGoWholeWhileThePeerReads() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      int n = 8 << 20; // far more than the socket buffers hold: many partial writes inside one send
      byte[] data = new byte[n];
      for (int i = 0; i < n; i++) data[i] = (byte) (i * 31 + (i >> 12));
      ByteBuffer direct = ByteBuffer.allocateDirect(n).put(data).flip();
      byte[] got = new byte[2 * n];
      int[] have = {0};
      Task sender = loop.spawn(seq(
          (t, s) -> p[0].send(t, data),
          (t, s) -> { assertEquals(0, s); assertEquals(n, t.lastSent()); return p[0].send(t, direct); },
          (t, s) -> { assertEquals(n, t.lastSent()); return s; }));
      Task receiver = loop.spawn((t, s) -> {
        if (t.stepNumber() > 0) {
          if (s <= 0) return s;
          have[0] += s;
          if (have[0] == 2 * n) return 0;
        }
        return p[1].recv(t, got, have[0], Math.min(65536, 2 * n - have[0]));
      });
      loop.run();
      assertEquals(0, sender.result());
      assertEquals(0, receiver.result());
      assertEquals(2 * n, have[0]);
      assertFalse(direct.hasRemaining());
      assertArrayEquals(data, java.util.Arrays.copyOfRange(got, 0, n));
      assertArrayEquals(data, java.util.Arrays.copyOfRange(got, n, 2 * n));
      closeAll(p);
    }
  }

  /**
   * Found while writing this suite: after a send that had to wait, read by
   * the peer 64 KiB at a time, the sender's shutdown never wakes the peer's
   * last pending recv, although read(2) on it returns 0 at once. Reproduces on main as of this branch, in
   * the core (weft_await_recv on an owned fd), not in the binding; enable once
   * fixed. It finishes under a timeout instead of hanging.
   */
  @Test
  void endOfStreamAfterALargeSend() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      int n = 200_000; // more than the socket buffers hold: the send waits
      byte[] got = new byte[n + 1];
      int[] have = {0};
      loop.spawn(seq((t, s) -> p[0].send(t, new byte[n]), (t, s) -> { p[0].shutdownOutput(); return s; }));
      Task receiver = loop.spawn((t, s) -> {
        if (t.stepNumber() == 0) t.timeout(Duration.ofSeconds(10));
        else if (s <= 0) return s;
        else have[0] += s;
        return p[1].recv(t, got, have[0], Math.min(65536, got.length - have[0])); // at most 64 KiB a time
      });
      loop.run();
      assertEquals(n, have[0]);
      assertEquals(0, receiver.result(), "end of stream expected, got " + Weft.errName(receiver.result()));
      closeAll(p);
    }
  }

  @Test
  void aTaskOfAnotherLoopIsEinval() {
    try (Loop loop = new Loop(); Loop other = new Loop()) {
      Socket[] p = pair(loop);
      try (ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
        Task t = other.spawn((task, s) -> {
          assertEquals(Weft.EINVAL, p[0].recv(task, new byte[1]));
          assertEquals(Weft.EINVAL, p[0].send(task, new byte[1]));
          return l.accept(task);
        });
        other.run();
        assertEquals(Weft.EINVAL, t.result());
      }
      closeAll(p);
    }
  }

  @Test
  void readOnlyBufferIsRefusedForRecv() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      ByteBuffer ro = ByteBuffer.allocate(4).asReadOnlyBuffer();
      Task t = loop.spawn((task, s) -> p[0].recv(task, ro));
      loop.run();
      assertEquals(Weft.EHOST, assertThrows(WeftException.class, t::result).code());
      assertInstanceOf(java.nio.ReadOnlyBufferException.class, t.exception());
      closeAll(p);
    }
  }

  @Test
  void emptyBuffersAreEinval() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      Task a = loop.spawn((t, s) -> p[0].recv(t, new byte[0]));
      Task b = loop.spawn((t, s) -> p[0].send(t, ByteBuffer.allocateDirect(0)));
      loop.run();
      assertEquals(Weft.EINVAL, a.result());
      assertEquals(Weft.EINVAL, b.result());
      closeAll(p);
    }
  }

  @Test
  void endOfStreamAfterPeerCloseAndShutdown() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      p[1].shutdownOutput();
      Task eof1 = loop.spawn((t, s) -> t.stepNumber() == 0 ? p[0].recv(t, new byte[4]) : s);
      Task epipe = loop.spawn((t, s) -> t.stepNumber() == 0 ? p[1].send(t, bytes("x")) : s);
      loop.run();
      assertEquals(0, eof1.result());
      assertEquals(Weft.EPIPE, epipe.result());
      p[1].close();
      Task eof2 = loop.spawn((t, s) -> t.stepNumber() == 0 ? p[0].recv(t, ByteBuffer.allocateDirect(4)) : s);
      loop.run();
      assertEquals(0, eof2.result());
      p[0].close();
    }
  }

  @Test
  void cancelOfEachAwait() {
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      Socket[] p = pair(loop);
      Socket[] q = pair(loop); // nobody writes to q[0]: its recv waits (p carries both big sends)
      ByteBuffer big = ByteBuffer.allocateDirect(32 << 20);
      List<Task> waiting = new ArrayList<>();
      waiting.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? l.accept(t) : s));
      waiting.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? q[0].recv(t, new byte[8]) : s));
      waiting.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? p[0].send(t, big) : s));
      // "localhost" is resolved on the pool: the connect is still pending when cancelled
      waiting.add(loop.spawn((t, s) -> t.stepNumber() == 0 ? Socket.connect(t, "localhost", 9) : s));
      long[] partial = new long[1];
      Task sendHeap = loop.spawn((t, s) -> {
        if (t.stepNumber() == 0) return p[1].send(t, new byte[32 << 20]);
        partial[0] = t.lastSent();
        return s;
      });
      waiting.add(sendHeap);
      loop.spawn((t, s) -> { // runs after each of them armed its await
        // the sends after one poll: on io_uring a send moves bytes once submitted
        if (t.stepNumber() == 0) {
          for (Task w : waiting) if (w != waiting.get(2) && w != sendHeap) w.cancel();
          return t.yieldNow();
        }
        waiting.get(2).cancel();
        sendHeap.cancel();
        return 0;
      });
      loop.run();
      for (Task w : waiting) assertEquals(Weft.ECANCELED, w.result());
      assertTrue(big.position() > 0 && big.position() < big.capacity(), "partial send: " + big.position());
      assertTrue(partial[0] > 0 && partial[0] < (32 << 20), "partial send: " + partial[0]);
      closeAll(p);
      closeAll(q);
    }
  }

  @Test
  void timeoutOfEachAwait() {
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      Socket[] p = pair(loop);
      ByteBuffer big = ByteBuffer.allocate(32 << 20);
      Stage[] awaits = {
        (t, s) -> l.accept(t),
        (t, s) -> p[0].recv(t, ByteBuffer.allocate(8)),
        (t, s) -> p[0].send(t, big),
      };
      List<Task> tasks = new ArrayList<>();
      for (Stage a : awaits) {
        tasks.add(loop.spawn((t, s) -> {
          if (t.stepNumber() > 0) return s;
          t.timeout(ms(20));
          return a.run(t, s);
        }));
      }
      loop.run();
      for (Task t : tasks) assertEquals(Weft.ETIMEDOUT, t.result());
      assertTrue(big.position() > 0 && big.position() < big.capacity());
      closeAll(p);
    }
  }

  @Test
  void connectTimeoutAgainstAFullBacklog() {
    // A listener that never accepts, backlog 1: once its queue is full the
    // kernel drops SYNs and a connect stays pending until the deadline.
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0, 1, 0)) {
      int port = l.localPort();
      List<Socket> made = new ArrayList<>();
      Task t = loop.spawn((task, s) -> {
        if (task.stepNumber() > 0) {
          if (s < 0) return s;
          made.add(Socket.of(loop, s));
          if (made.size() > 64) return 0;
        }
        task.timeout(ms(100));
        return Socket.connect(task, "127.0.0.1", port);
      });
      loop.run();
      assertEquals(Weft.ETIMEDOUT, t.result());
      made.forEach(Socket::close);
    }
  }

  @Test
  void closeWithOperationsPending() {
    try (Loop loop = new Loop()) {
      ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0);
      Socket[] p = pair(loop);
      byte[] payload = new byte[32 << 20];
      long[] partial = new long[1];
      Task acc = loop.spawn((t, s) -> t.stepNumber() == 0 ? l.accept(t) : s);
      // p[1]'s recv waits (only p[1] sends); a recv on p[0] could complete with the
      // payload's first bytes on io_uring before the close (bytes received are delivered)
      Task rcv = loop.spawn((t, s) -> t.stepNumber() == 0 ? p[1].recv(t, ByteBuffer.allocateDirect(8)) : s);
      Task snd = loop.spawn((t, s) -> {
        if (t.stepNumber() == 0) return p[1].send(t, payload);
        partial[0] = t.lastSent();
        return s;
      });
      loop.spawn((t, s) -> { // after one iteration: on io_uring a send moves bytes when submitted
        if (t.stepNumber() == 0) return t.yieldNow();
        l.close();
        p[1].close(); // first: closing p[0] first could end p[1]'s recv with a reset
        p[0].close();
        return 0;
      });
      loop.run();
      assertEquals(Weft.ECLOSED, acc.result());
      assertEquals(Weft.ECLOSED, rcv.result());
      assertEquals(Weft.ECLOSED, snd.result());
      assertTrue(partial[0] > 0 && partial[0] < payload.length);
      assertTrue(l.isClosed());
      l.close(); // twice: nothing
    }
  }

  @Test
  void stepThatFinishesAfterArmingFreesItsBuffer() {
    try (Loop loop = new Loop()) {
      Socket[] p = pair(loop);
      Task t = loop.spawn((task, s) -> {
        int r = p[0].recv(task, new byte[8]);
        assertEquals(Weft.PENDING, r);
        return 7; // finishes the task: weft disarms the recv
      });
      loop.run();
      assertEquals(7, t.result());
      closeAll(p);
    }
  }

  @Test
  void connectRefusedAndNameNotFound() throws Exception {
    try (Loop loop = new Loop()) {
      int port;
      try (ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
        port = l.localPort();
      }
      Task refused = loop.spawn((t, s) -> t.stepNumber() == 0 ? Socket.connect(t, "127.0.0.1", port) : s);
      Task unknown = loop.spawn((t, s) -> t.stepNumber() == 0 ? Socket.connect(t, "no-such-host.invalid", 80) : s);
      CompletableFuture<Socket> f = Socket.connectAsync(loop, "127.0.0.1", port);
      loop.run();
      assertEquals(Weft.ECONNREFUSED, refused.result());
      assertEquals(Weft.ENOTFOUND, unknown.result());
      ExecutionException e = assertThrows(ExecutionException.class, f::get);
      WeftException w = assertInstanceOf(WeftException.class, e.getCause());
      assertEquals(Weft.ECONNREFUSED, w.code());
      assertEquals("WEFT_ECONNREFUSED", w.codeName());
      WeftException of = assertThrows(WeftException.class, () -> Socket.of(loop, Weft.ENOTFOUND));
      assertEquals(Weft.ENOTFOUND, of.code());
    }
  }

  @Test
  void listenErrors() {
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      WeftException inUse = assertThrows(WeftException.class,
          () -> ServerSocket.listen(loop, "127.0.0.1", l.localPort()));
      assertEquals(Weft.EADDRINUSE, inUse.code());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class,
          () -> ServerSocket.listen(loop, "localhost", 0)).code());
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class,
          () -> ServerSocket.listen(loop, "127.0.0.1", 70000)).code());
      try (ServerSocket any = ServerSocket.listen(loop, null, 0, 0, Weft.LISTEN_REUSEPORT)) {
        assertTrue(any.localPort() > 0);
      }
    }
  }

  @Test
  void unixSockets() throws Exception {
    Path dir = Files.createTempDirectory("weft-java-sock");
    String path = dir.resolve("s").toString();
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listenUnix(loop, path, 0)) {
      assertEquals(Weft.EADDRINUSE, assertThrows(WeftException.class,
          () -> ServerSocket.listenUnix(loop, path, 0)).code());
      CompletableFuture<Socket> a = l.acceptAsync();
      CompletableFuture<Socket> c = Socket.connectUnixAsync(loop, path);
      CompletableFuture<Socket> missing = Socket.connectUnixAsync(loop, dir.resolve("none").toString());
      loop.run();
      try (Socket s1 = a.join(); Socket s2 = c.join()) {
        ExecutionException e = assertThrows(ExecutionException.class, missing::get);
        assertEquals(Weft.ENOENT, ((WeftException) e.getCause()).code());
        CompletableFuture<Integer> sent = s2.sendAsync(bytes("unix"), 0, 4);
        byte[] b = new byte[8];
        CompletableFuture<Integer> got = s1.recvAsync(b, 0, 8);
        loop.run();
        assertEquals(4, sent.get());
        assertEquals(4, got.get());
        assertEquals("unix", new String(b, 0, 4, StandardCharsets.US_ASCII));
      }
    } finally {
      Files.deleteIfExists(Path.of(path));
      Files.delete(dir);
    }
  }

  @Test
  void futures() throws Exception {
    try (Loop loop = new Loop(); ServerSocket l = ServerSocket.listen(loop, "127.0.0.1", 0)) {
      CompletableFuture<Socket> a = l.acceptAsync();
      CompletableFuture<Socket> c = Socket.connectAsync(loop, "127.0.0.1", l.localPort());
      loop.run();
      try (Socket s1 = a.get(); Socket s2 = c.get()) {
        ByteBuffer out = ByteBuffer.allocateDirect(5).put(bytes("hello")).flip();
        ByteBuffer in = ByteBuffer.allocateDirect(5);
        CompletableFuture<Integer> sent = s1.sendAsync(out);
        CompletableFuture<Integer> got = s2.recvAsync(in);
        loop.run();
        assertEquals(5, sent.get());
        assertTrue(got.get() > 0);
        assertEquals(got.get(), in.position());
        // a cancelled future cancels its recv
        CompletableFuture<Integer> pending = s2.recvAsync(ByteBuffer.allocate(4));
        assertTrue(pending.cancel(false));
        loop.run();
        assertTrue(pending.isCancelled());
        // closed under a pending future: ECLOSED
        CompletableFuture<Integer> closedUnder = s2.recvAsync(new byte[4], 0, 4);
        loop.spawn((t, s) -> { s2.close(); return 0; });
        loop.run();
        ExecutionException e = assertThrows(ExecutionException.class, closedUnder::get);
        assertEquals(Weft.ECLOSED, ((WeftException) e.getCause()).code());
      }
    }
  }

  @Test
  void socketsOutliveTheLoopsClose() {
    Socket[] p;
    ServerSocket l;
    try (Loop loop = new Loop()) {
      l = ServerSocket.listen(loop, "127.0.0.1", 0);
      p = pair(loop);
    }
    // weft leaves owned fds open at the loop's close; close(2) them now
    l.close();
    closeAll(p);
    assertTrue(l.isClosed() && p[0].isClosed() && p[1].isClosed());
  }
}
