package dev.weft;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A listening stream socket owned by weft (TCP or Unix), accepting {@link
 * Socket}s. Opened with {@link #listen} or {@link #listenUnix}; no JDK
 * socket classes are involved.
 *
 * <p>{@link #accept(Task)} is an await (its result is the new fd, for
 * {@link #accepted(int)}); {@link #acceptAsync()} is the future form.
 * Threads and closing as {@link Socket}: {@link #close()} resolves a waiting
 * accept with {@link Weft#ECLOSED}. A Unix socket's path is left in the
 * filesystem: delete it when done.
 */
public final class ServerSocket extends SocketBase {
  private ServerSocket(Loop.State st, int fd) {
    super(st, fd);
  }

  /**
   * {@link #listen(Loop, String, int, int, int)} with the default backlog
   * and no flags.
   *
   * @param loop the loop
   * @param host a numeric IPv4/IPv6 address, or null for every address
   * @param port 0..65535; 0 lets the kernel choose (see {@link #localPort()})
   * @return the listening socket
   * @throws WeftException as {@link #listen(Loop, String, int, int, int)}
   */
  public static ServerSocket listen(Loop loop, String host, int port) {
    return listen(loop, host, port, 0, 0);
  }

  /**
   * Opens a TCP socket listening on {@code host}:{@code port}, with
   * SO_REUSEADDR (and SO_REUSEPORT with {@link Weft#LISTEN_REUSEPORT}).
   *
   * @param loop the loop
   * @param host a numeric IPv4/IPv6 address ("127.0.0.1", "::1"), or null
   *     for every address
   * @param port 0..65535; 0 lets the kernel choose
   * @param backlog the accept queue's length; &lt;= 0 for SOMAXCONN
   * @param flags 0 or {@link Weft#LISTEN_REUSEPORT}
   * @return the listening socket
   * @throws WeftException {@link Weft#EINVAL} (host not numeric, port out of
   *     range, unknown flags), {@link Weft#EADDRINUSE}, {@link
   *     Weft#EADDRNOTAVAIL}, {@link Weft#EACCES}, {@link Weft#EMFILE}
   */
  public static ServerSocket listen(Loop loop, String host, int port, int backlog, int flags) {
    int[] out = new int[1];
    loop.st.check(p -> WeftNative.weft_tcp_listen(p, host, port, backlog, flags, out),
                  "listen on " + host + ":" + port);
    return new ServerSocket(loop.st, out[0]);
  }

  /**
   * Opens a Unix stream socket listening on {@code path}, which must not
   * exist.
   *
   * @param loop the loop
   * @param path the filesystem path
   * @param backlog the accept queue's length; &lt;= 0 for SOMAXCONN
   * @return the listening socket
   * @throws WeftException {@link Weft#EINVAL} (empty path), {@link
   *     Weft#ENAMETOOLONG}, {@link Weft#EADDRINUSE} (the path exists), {@link
   *     Weft#ENOENT}, {@link Weft#EACCES}, {@link Weft#EMFILE}
   */
  public static ServerSocket listenUnix(Loop loop, String path, int backlog) {
    Objects.requireNonNull(path, "path");
    int[] out = new int[1];
    loop.st.check(p -> WeftNative.weft_unix_listen(p, path, backlog, out), "listen on " + path);
    return new ServerSocket(loop.st, out[0]);
  }

  /**
   * Await: accepts a connection. Result: the new socket's fd (&gt;= 0; pass
   * it to {@link #accepted(int)}), or {@link Weft#EMFILE} (out of fds: the
   * connection stays queued, the next accept retries at once, so wait
   * before it), {@link Weft#ECONNABORTED}, {@link Weft#ECLOSED}, {@link
   * Weft#ECANCELED}, {@link Weft#ETIMEDOUT}.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EBADF}
   *     once closed, {@link Weft#EINVAL} for a task of another loop)
   */
  public int accept(Task t) {
    if (t.st != st) return Weft.EINVAL;
    return t.arm(this, (p, self) -> WeftNative.weft_await_accept(p, self, fd()), null);
  }

  /**
   * The socket of an accept's result.
   *
   * @param fdOrCode the step's status after {@link #accept(Task)}
   * @return the connected socket
   * @throws WeftException with the code when fdOrCode is negative
   */
  public Socket accepted(int fdOrCode) {
    WeftException.check(fdOrCode, "accept");
    return new Socket(st, fdOrCode);
  }

  /**
   * {@link #accept(Task)} as a future of the socket. Cancelling the future
   * cancels the accept (a connection accepted meanwhile is closed).
   *
   * @return the future
   */
  public CompletableFuture<Socket> acceptAsync() {
    return loopOrThrow().future(this::accept, (t, r) -> accepted(r), Socket::close);
  }
}
