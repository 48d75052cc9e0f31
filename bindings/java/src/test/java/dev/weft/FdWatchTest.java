package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FdWatchTest extends WeftTestBase {
  @Test
  void readableAfterAWriteAndLevelTriggered() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      List<Integer> events = new ArrayList<>();
      byte[] buf = new byte[16];
      FdWatch w = loop.watch(p.fd0(), Weft.READABLE, (watch, ev) -> {
        events.add(ev);
        if (events.size() == 3) { // not drained: fires again each iteration
          assertEquals(3, Fds.read(p.fd0(), buf));
          watch.stop();
        }
      });
      assertEquals(p.fd0(), w.fd());
      assertEquals(Weft.READABLE, w.events());
      assertSame(loop, w.loop());
      assertTrue(w.isActive());
      assertEquals(3, Fds.write(p.fd1(), new byte[] {1, 2, 3}));
      assertFalse(loop.run());
      assertEquals(List.of(Weft.READABLE, Weft.READABLE, Weft.READABLE), events);
      assertFalse(w.isActive());
      assertEquals(Fds.EAGAIN, Fds.read(p.fd0(), buf));
    }
  }

  @Test
  void modifyToWritable() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      int[] got = {0};
      FdWatch w = loop.watch(p.fd0(), Weft.READABLE, (watch, ev) -> {
        got[0] = ev;
        watch.stop();
      });
      w.modify(Weft.WRITABLE);
      assertEquals(Weft.WRITABLE, w.events());
      loop.run();
      assertEquals(Weft.WRITABLE, got[0]);
      assertThrows(WeftException.class, () -> w.modify(Weft.READABLE)); // stopped: ESTALE
    }
  }

  @Test
  void hangupIsReported() {
    try (Loop loop = new Loop()) {
      int[] fds = Fds.socketPair(true);
      int[] got = {0};
      loop.watch(fds[0], Weft.READABLE, (watch, ev) -> {
        got[0] = ev;
        watch.stop();
      });
      Fds.close(fds[1]);
      loop.run();
      assertEquals(Weft.READABLE, got[0] & Weft.READABLE);
      assertEquals(Weft.HANGUP, got[0] & Weft.HANGUP);
      Fds.close(fds[0]);
    }
  }

  @Test
  void badEventsAndBadFds() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      for (int ev : new int[] {0, Weft.HANGUP, Weft.ERROR, 16, Weft.READABLE | 16}) {
        WeftException e = assertThrows(WeftException.class, () -> loop.watch(p.fd0(), ev, (w, x) -> {}));
        assertEquals(Weft.EINVAL, e.code(), "events " + ev);
      }
      assertEquals(Weft.EBADF, assertThrows(WeftException.class, () -> loop.watch(-1, Weft.READABLE, (w, x) -> {})).code());
      int[] fds = Fds.socketPair(true);
      Fds.close(fds[0]);
      Fds.close(fds[1]);
      assertEquals(Weft.EBADF, assertThrows(WeftException.class, () -> loop.watch(fds[0], Weft.READABLE, (w, x) -> {})).code());
      FdWatch w = loop.watch(p.fd0(), Weft.READABLE, (x, y) -> {});
      assertEquals(Weft.EINVAL, assertThrows(WeftException.class, () -> w.modify(0)).code());
      assertEquals(Weft.READABLE, w.events());
      assertThrows(NullPointerException.class, () -> loop.watch(p.fd0(), Weft.READABLE, null));
      w.stop();
      assertEquals(0, loop.stats().fdWatchesActive());
    }
  }

  @Test
  void severalWatchesShareAnFd() {
    try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
      int[] n = {0, 0};
      FdWatch a = loop.watch(p.fd0(), Weft.READABLE, (w, ev) -> {
        n[0]++;
        w.stop();
      });
      FdWatch b = loop.watch(p.fd0(), Weft.WRITABLE, (w, ev) -> {
        n[1]++;
        w.stop();
      });
      Fds.write(p.fd1(), new byte[] {9});
      loop.run();
      assertArrayEquals(new int[] {1, 1}, n);
      assertFalse(a.isActive() || b.isActive());
    }
  }

  @Test
  void watchesLiveAtCloseAreStoppedWithoutBeingCalled() {
    try (SocketPair p = SocketPair.open()) {
      Loop loop = new Loop();
      List<FdWatch> ws = new ArrayList<>();
      for (int i = 0; i < 50; i++) ws.add(loop.watch(p.fd0(), Weft.READABLE, (w, e) -> fail("called")));
      loop.close();
      for (FdWatch w : ws) {
        assertFalse(w.isActive());
        assertFalse(w.stop());
      }
    }
  }
}
