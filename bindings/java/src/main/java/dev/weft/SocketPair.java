package dev.weft;

/**
 * A connected pair of AF_UNIX stream sockets, for {@link Loop#watch}, {@link
 * Loop#readable(int)}, {@link Task#awaitFd} and tests. Bytes written to one
 * end are read from the other ({@link Fds#write}, {@link Fds#read}). Closing
 * closes both ends (once). Any thread.
 *
 * <pre>{@code
 * try (SocketPair p = SocketPair.open(); Loop loop = new Loop()) {
 *   loop.readable(p.fd0()).thenAccept(ev -> System.out.println("ready " + ev));
 *   Fds.write(p.fd1(), new byte[] {1});
 *   loop.run();
 * }
 * }</pre>
 */
public final class SocketPair implements AutoCloseable {
  private final int fd0;
  private final int fd1;
  private boolean closed;

  private SocketPair(int[] fds) {
    fd0 = fds[0];
    fd1 = fds[1];
  }

  /**
   * Opens a non-blocking pair.
   *
   * @return the pair
   * @throws WeftException with the negative errno if socketpair fails
   */
  public static SocketPair open() {
    return open(true);
  }

  /**
   * Opens a pair.
   *
   * @param nonBlocking whether both ends get O_NONBLOCK
   * @return the pair
   * @throws WeftException with the negative errno if socketpair fails
   */
  public static SocketPair open(boolean nonBlocking) {
    return new SocketPair(Fds.socketPair(nonBlocking));
  }

  /**
   * The first end.
   *
   * @return its fd
   */
  public int fd0() {
    return fd0;
  }

  /**
   * The second end.
   *
   * @return its fd
   */
  public int fd1() {
    return fd1;
  }

  /** Closes both ends; later calls do nothing. Stop watches on them first. */
  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    Fds.close(fd0);
    Fds.close(fd1);
  }
}
