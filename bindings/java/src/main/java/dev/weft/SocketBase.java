package dev.weft;

/**
 * What a {@link Socket} and a {@link ServerSocket} share: an fd weft owns
 * (its weft id), closed through weft once, by {@link #close()} or by the
 * collector (with close(2) once its loop is closed: weft's close leaves it
 * open).
 */
abstract class SocketBase extends Owned {
  /** Closes a socket through weft, or with close(2) once its loop is closed (loop 0). */
  private static final Call CLOSE = (p, fd) -> p == 0 ? WeftNative.close((int) fd) : WeftNative.weft_socket_close(p, (int) fd);

  SocketBase(Loop.State st, int fd) {
    super(st, fd, CLOSE);
  }

  /**
   * The local port of a TCP socket (the kernel's choice after a listen on
   * port 0).
   *
   * @return 1..65535
   * @throws WeftException {@link Weft#EINVAL} (not TCP), {@link Weft#EBADF}
   */
  public int localPort() {
    return st.check(p -> WeftNative.weft_socket_port(p, (int) id), "socket port");
  }

  /**
   * The fd (for logging, or {@link Task#awaitFd}); stays weft's.
   *
   * @return the fd
   */
  public int fd() {
    return (int) id;
  }

  /**
   * Whether {@link #close()} has run (or the collector closed it).
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return isEnded();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[fd=" + id + (isClosed() ? ", closed]" : "]");
  }
}
