package dev.weft;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Raw file-descriptor helpers, so that Java code can make fds for {@link
 * Loop#watch}, {@link Loop#readable(int)} and {@link Task#awaitFd} and move
 * bytes through them: thin wrappers of socketpair(2), read(2), write(2),
 * fcntl(2) and close(2). Any thread.
 *
 * <p>Reads and writes return the byte count or a negative errno (e.g. {@link
 * #EAGAIN} on a non-blocking fd with nothing to do), like the system calls, so
 * that hot paths need no exceptions. At most 65,536 bytes move per call.
 */
public final class Fds {
  private Fds() {}

  /** Negative errno: try again (a non-blocking fd is not ready). */
  public static final int EAGAIN = -11;
  /** Negative errno: bad file descriptor. */
  public static final int EBADF = -9;
  private static final int MAX = 65536;
  /** Each thread's native buffer for read and write. */
  private static final ThreadLocal<ByteBuffer> BUF = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(MAX));

  /**
   * Creates a connected pair of AF_UNIX stream sockets (close-on-exec).
   *
   * @param nonBlocking whether both ends get O_NONBLOCK
   * @return the two fds; the caller closes them ({@link #close(int)})
   * @throws WeftException with the negative errno if socketpair fails (e.g.
   *     -24, EMFILE, when the process is out of fds)
   */
  public static int[] socketPair(boolean nonBlocking) {
    int[] fds = new int[2];
    int type = WeftNative.SOCK_STREAM | WeftNative.SOCK_CLOEXEC | (nonBlocking ? WeftNative.SOCK_NONBLOCK : 0);
    int rc = WeftNative.socketpair(WeftNative.AF_UNIX, type, 0, fds);
    if (rc < 0) throw new WeftException(rc, "socketpair");
    return fds;
  }

  /**
   * read(2) into {@code b[off .. off+len)}.
   *
   * @param fd the fd
   * @param b the buffer
   * @param off the offset in b
   * @param len the most bytes to read
   * @return bytes read (0 at end of stream), or a negative errno
   */
  public static int read(int fd, byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    ByteBuffer d = BUF.get();
    int r = WeftNative.read(fd, d, Math.min(len, MAX));
    if (r > 0) d.get(0, b, off, r);
    return r;
  }

  /**
   * read(2) into all of {@code b}.
   *
   * @param fd the fd
   * @param b the buffer
   * @return bytes read (0 at end of stream), or a negative errno
   */
  public static int read(int fd, byte[] b) {
    return read(fd, b, 0, b.length);
  }

  /**
   * write(2) from {@code b[off .. off+len)}.
   *
   * @param fd the fd
   * @param b the bytes
   * @param off the offset in b
   * @param len how many bytes
   * @return bytes written, or a negative errno
   */
  public static int write(int fd, byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    int n = Math.min(len, MAX);
    return WeftNative.write(fd, BUF.get().put(0, b, off, n), n);
  }

  /**
   * write(2) of all of {@code b} (one call; it may write less).
   *
   * @param fd the fd
   * @param b the bytes
   * @return bytes written, or a negative errno
   */
  public static int write(int fd, byte[] b) {
    return write(fd, b, 0, b.length);
  }

  /**
   * Sets or clears O_NONBLOCK.
   *
   * @param fd the fd
   * @param on true for non-blocking
   * @return 0, or a negative errno
   */
  public static int setNonBlocking(int fd, boolean on) {
    int fl = WeftNative.fcntl(fd, WeftNative.F_GETFL, 0);
    if (fl < 0) return fl;
    return WeftNative.fcntl(fd, WeftNative.F_SETFL, on ? fl | WeftNative.O_NONBLOCK : fl & ~WeftNative.O_NONBLOCK);
  }

  /**
   * close(2). Stop every watch on the fd first.
   *
   * @param fd the fd
   * @return 0, or a negative errno ({@link #EBADF} if it was not open)
   */
  public static int close(int fd) {
    return WeftNative.close(fd);
  }
}
