package dev.weft;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class WeftTest extends WeftTestBase {
  @Test
  void versionMatchesTheHeader() {
    assertEquals(Weft.HEADER_VERSION, Weft.version());
    assertEquals((Weft.version() >> 16) + "." + ((Weft.version() >> 8) & 0xff) + "." + (Weft.version() & 0xff),
        Weft.versionString());
  }

  @Test
  void constantsAreTheAbiValues() {
    assertEquals(1, Weft.READABLE);
    assertEquals(2, Weft.WRITABLE);
    assertEquals(4, Weft.HANGUP);
    assertEquals(8, Weft.ERROR);
    assertEquals(1, Weft.CANCEL_ON_ERROR);
    assertEquals(0x7fffffff, Weft.PENDING);
    assertEquals(-1, Weft.EPERM);
    assertEquals(-9, Weft.EBADF);
    assertEquals(-11, Weft.EAGAIN);
    assertEquals(-12, Weft.ENOMEM);
    assertEquals(-16, Weft.EBUSY);
    assertEquals(-17, Weft.EEXIST);
    assertEquals(-22, Weft.EINVAL);
    assertEquals(-24, Weft.EMFILE);
    assertEquals(-28, Weft.ENOSPC);
    assertEquals(-110, Weft.ETIMEDOUT);
    assertEquals(-116, Weft.ESTALE);
    assertEquals(-125, Weft.ECANCELED);
    assertEquals(0, Weft.LOG_DEBUG);
    assertEquals(3, Weft.LOG_ERROR);
  }

  @Test
  void errorNamesAndDescriptions() {
    int[] codes = {Weft.EPERM, Weft.EBADF, Weft.EAGAIN, Weft.ENOMEM, Weft.EBUSY, Weft.EEXIST, Weft.EINVAL,
        Weft.EMFILE, Weft.ENOSPC, Weft.ETIMEDOUT, Weft.ESTALE, Weft.ECANCELED};
    String[] names = {"WEFT_EPERM", "WEFT_EBADF", "WEFT_EAGAIN", "WEFT_ENOMEM", "WEFT_EBUSY", "WEFT_EEXIST",
        "WEFT_EINVAL", "WEFT_EMFILE", "WEFT_ENOSPC", "WEFT_ETIMEDOUT", "WEFT_ESTALE", "WEFT_ECANCELED"};
    for (int i = 0; i < codes.length; i++) {
      assertEquals(names[i], Weft.errName(codes[i]));
      assertNotEquals("unknown error", Weft.strerror(codes[i]));
    }
    assertEquals("0", Weft.errName(0));
    assertEquals("WEFT_PENDING", Weft.errName(Weft.PENDING));
    assertEquals("WEFT_E?", Weft.errName(-4242));
    assertEquals("unknown error", Weft.strerror(-4242));
    assertEquals("WEFT_EHOST", Weft.errName(Weft.EHOST));
    assertNotNull(Weft.strerror(Weft.EHOST));
  }

  @Test
  void weftExceptionCarriesTheCode() {
    WeftException e = new WeftException(Weft.ECANCELED, "doing x");
    assertEquals(Weft.ECANCELED, e.code());
    assertEquals("WEFT_ECANCELED", e.codeName());
    assertTrue(e.getMessage().startsWith("doing x: WEFT_ECANCELED (-125)"), e.getMessage());
    assertNull(e.getCause());
    Throwable cause = new IllegalStateException();
    assertSame(cause, new WeftException(Weft.EHOST, null, cause).getCause());
    assertEquals(Weft.EINVAL, new WeftException(Weft.EINVAL).code());
  }

  @Test
  void crossingCostIsMeasurable() {
    TestNative.crossingNanos(100_000); // JIT warm-up
    double ns = TestNative.crossingNanos(100_000);
    assertTrue(ns > 0 && ns < 1_000_000, "ns per crossing: " + ns);
  }
}
