package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class FdsTest extends WeftTestBase {
  @Test
  void socketPairMovesBytesBothWays() {
    try (SocketPair p = SocketPair.open()) {
      assertNotEquals(p.fd0(), p.fd1());
      assertEquals(5, Fds.write(p.fd0(), "hello".getBytes()));
      byte[] b = new byte[8];
      assertEquals(5, Fds.read(p.fd1(), b));
      assertEquals("hello", new String(b, 0, 5));
      assertEquals(2, Fds.write(p.fd1(), new byte[] {0, 7, 8, 0}, 1, 2));
      assertEquals(2, Fds.read(p.fd0(), b, 3, 5));
      assertEquals(7, b[3]);
      assertEquals(8, b[4]);
    }
  }

  @Test
  void nonBlockingReadsSayEagain() {
    try (SocketPair p = SocketPair.open(true)) {
      assertEquals(Fds.EAGAIN, Fds.read(p.fd0(), new byte[1]));
      assertEquals(0, Fds.setNonBlocking(p.fd0(), false));
      assertEquals(0, Fds.setNonBlocking(p.fd0(), true));
    }
  }

  @Test
  void closedFdsSayEbadf() {
    int[] fds = Fds.socketPair(false);
    assertEquals(0, Fds.close(fds[0]));
    assertEquals(0, Fds.close(fds[1]));
    assertEquals(Fds.EBADF, Fds.close(fds[0]));
    assertEquals(Fds.EBADF, Fds.read(fds[0], new byte[1]));
    assertEquals(Fds.EBADF, Fds.write(fds[0], new byte[1]));
    assertEquals(Fds.EBADF, Fds.setNonBlocking(fds[0], true));
  }

  @Test
  void rangesAreChecked() {
    try (SocketPair p = SocketPair.open()) {
      assertThrows(IndexOutOfBoundsException.class, () -> Fds.read(p.fd0(), new byte[2], 1, 2));
      assertThrows(IndexOutOfBoundsException.class, () -> Fds.write(p.fd0(), new byte[2], -1, 1));
      assertThrows(NullPointerException.class, () -> Fds.write(p.fd0(), null));
    }
  }

  @Test
  void endOfStreamReadsZero() {
    int[] fds = Fds.socketPair(false);
    Fds.close(fds[1]);
    assertEquals(0, Fds.read(fds[0], new byte[4]));
    Fds.close(fds[0]);
  }

  @Test
  void socketPairCloseIsIdempotent() {
    SocketPair p = SocketPair.open();
    p.close();
    p.close(); // the fds are not closed twice (they may have been reused meanwhile)
  }
}
