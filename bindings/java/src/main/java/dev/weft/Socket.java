package dev.weft;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A connected stream socket owned by weft (TCP or Unix): what {@link
 * ServerSocket#accept(Task)} and {@link #connect(Task, String, int)} give.
 * No JDK socket classes are involved: the socket is a plain fd that weft
 * created, non-blocking and close-on-exec.
 *
 * <p><b>Two styles</b> (see the package doc): inside a task's {@link Step},
 * the awaits ({@link #connect}, {@link #recv}, {@link #send}); outside
 * tasks, the {@code ...Async} futures, whose errors carry the same codes
 * ({@link Weft#ECONNREFUSED}, {@link Weft#ENOTFOUND}, {@link Weft#ECLOSED},
 * {@link Weft#EPIPE}...). Cancel and timeout of the task end a pending
 * operation with {@link Weft#ECANCELED} / {@link Weft#ETIMEDOUT}.
 *
 * <p><b>Buffers.</b> recv and send take a {@code byte[]} range or a {@link
 * ByteBuffer} (its remaining bytes). A direct buffer is used in place, no
 * copy, and kept reachable until the await resolves; a heap array or buffer
 * is copied to native memory owned by the binding until then. Either way the
 * buffer is the caller's again when the await resolves (the next step runs,
 * the future completes), not before: do not touch it meanwhile. A buffer's
 * position advances by the bytes received or sent.
 *
 * <p>Threads, errors and lifetime as in the package doc; {@link #fd()} and
 * {@link #isClosed()} are any-thread. {@link #close()} resolves operations
 * still waiting on it with {@link Weft#ECLOSED}; the loop's close leaves it
 * open.
 */
public final class Socket extends SocketBase {
  Socket(Loop.State st, int fd) {
    super(st, fd);
  }

  /**
   * The socket of an accept's or connect's result: the step's status after
   * {@link ServerSocket#accept(Task)}, {@link #connect} or {@link
   * #connectUnix}.
   *
   * @param loop the loop the await ran on
   * @param fdOrCode the status: a socket fd (&gt;= 0, weft-owned) or a negative code
   * @return the socket, now owned by the returned object
   * @throws WeftException with the code when {@code fdOrCode} is negative
   */
  public static Socket of(Loop loop, int fdOrCode) {
    WeftException.check(fdOrCode, "socket");
    return new Socket(loop.st, fdOrCode);
  }

  // --------------------------------------------------------------- connect

  /**
   * Await: connects to {@code host} (a numeric IPv4/IPv6 address or a name,
   * resolved on the loop's pool) on {@code port}, trying each address in
   * turn. Result: the connected fd (pass it to {@link #of}), or {@link
   * Weft#ECONNREFUSED}, {@link Weft#ENOTFOUND}, {@link Weft#ENETUNREACH},
   * {@link Weft#EHOSTUNREACH}, {@link Weft#EAGAIN} (resolver failed temporarily).
   *
   * @param t the task whose step is running
   * @param host the host; not empty, at most 1024 bytes
   * @param port 1..65535
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL}
   *     for an empty host or a bad port)
   */
  public static int connect(Task t, String host, int port) {
    Objects.requireNonNull(host, "host");
    return t.arm(null, (p, self) -> WeftNative.weft_await_connect(p, self, host, port), null);
  }

  /**
   * Await: connects to the Unix stream socket at {@code path}. Result: the
   * connected fd (pass it to {@link #of}), or {@link Weft#ENOENT}, {@link
   * Weft#ECONNREFUSED}, {@link Weft#EACCES}, {@link Weft#EAGAIN} (the backlog is full).
   *
   * @param t the task whose step is running
   * @param path the socket's path; not empty
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL},
   *     {@link Weft#ENAMETOOLONG})
   */
  public static int connectUnix(Task t, String path) {
    Objects.requireNonNull(path, "path");
    return t.arm(null, (p, self) -> WeftNative.weft_await_connect_unix(p, self, path), null);
  }

  /**
   * {@link #connect} as a future of the socket.
   *
   * @param loop the loop
   * @param host the host
   * @param port 1..65535
   * @return the future
   */
  public static CompletableFuture<Socket> connectAsync(Loop loop, String host, int port) {
    Objects.requireNonNull(host, "host");
    return loop.future(t -> connect(t, host, port), (t, fd) -> new Socket(loop.st, fd), Socket::close);
  }

  /**
   * {@link #connectUnix} as a future of the socket.
   *
   * @param loop the loop
   * @param path the socket's path
   * @return the future
   */
  public static CompletableFuture<Socket> connectUnixAsync(Loop loop, String path) {
    Objects.requireNonNull(path, "path");
    return loop.future(t -> connectUnix(t, path), (t, fd) -> new Socket(loop.st, fd), Socket::close);
  }

  // -------------------------------------------------------------- recv/send

  /**
   * Await: receives up to {@code dst.remaining()} bytes into {@code dst},
   * waiting until at least one is there. Result: the count (&gt; 0; dst's
   * position has advanced by it), 0 at end of stream, or a negative code
   * ({@link Weft#ECONNRESET}, {@link Weft#ECLOSED}, {@link Weft#ECANCELED},
   * {@link Weft#ETIMEDOUT}...). Bytes received are never lost: a cancel
   * that finds bytes delivers them first.
   *
   * @param t the task whose step is running
   * @param dst a writable buffer with remaining bytes (direct: no copy)
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for no
   *     room or a task of another loop, {@link Weft#EBADF} when closed, {@link Weft#ENOMEM})
   * @throws java.nio.ReadOnlyBufferException if dst is read-only
   */
  public int recv(Task t, ByteBuffer dst) {
    return io(t, true, dst);
  }

  /**
   * Await: {@link #recv(Task, ByteBuffer)} into {@code b[off..off+len)};
   * the bytes are copied into b when the await resolves.
   *
   * @param t the task whose step is running
   * @param b the array
   * @param off the first index
   * @param len the room, &gt; 0
   * @return {@link Weft#PENDING} or a negative code, as {@link #recv(Task, ByteBuffer)}
   * @throws IndexOutOfBoundsException for a range outside b
   */
  public int recv(Task t, byte[] b, int off, int len) {
    return io(t, true, ByteBuffer.wrap(b, off, len));
  }

  /**
   * Await: {@link #recv(Task, byte[], int, int)} into all of b.
   *
   * @param t the task whose step is running
   * @param b the array
   * @return {@link Weft#PENDING} or a negative code
   */
  public int recv(Task t, byte[] b) {
    return recv(t, b, 0, b.length);
  }

  /**
   * Await: sends all of {@code src.remaining()} bytes, waiting whenever the
   * kernel's buffer is full. Result: 0 once every byte went, or a negative
   * code ({@link Weft#EPIPE}, {@link Weft#ECONNRESET}, {@link Weft#ECLOSED},
   * {@link Weft#ECANCELED}, {@link Weft#ETIMEDOUT}...). Whatever the result,
   * src's position has advanced by the bytes that went, and {@link
   * Task#lastSent()} says how many.
   *
   * @param t the task whose step is running
   * @param src the bytes (direct: no copy)
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} for nothing
   *     to send or a task of another loop, {@link Weft#EBADF}, {@link Weft#ENOMEM})
   */
  public int send(Task t, ByteBuffer src) {
    return io(t, false, src);
  }

  /**
   * Await: {@link #send(Task, ByteBuffer)} of {@code b[off..off+len)}
   * (copied at this call); {@link Task#lastSent()} says how many went.
   *
   * @param t the task whose step is running
   * @param b the array
   * @param off the first index
   * @param len the count, &gt; 0
   * @return {@link Weft#PENDING} or a negative code, as {@link #send(Task, ByteBuffer)}
   * @throws IndexOutOfBoundsException for a range outside b
   */
  public int send(Task t, byte[] b, int off, int len) {
    return io(t, false, ByteBuffer.wrap(b, off, len));
  }

  /**
   * Await: {@link #send(Task, byte[], int, int)} of all of b.
   *
   * @param t the task whose step is running
   * @param b the array
   * @return {@link Weft#PENDING} or a negative code
   */
  public int send(Task t, byte[] b) {
    return send(t, b, 0, b.length);
  }

  private int io(Task t, boolean recv, ByteBuffer b) {
    SocketIo io = new SocketIo(t.core, recv, b);
    int n = io.mem.capacity();
    if (n == 0 || t.st != st) return Weft.EINVAL;
    return t.arm(this, recv ? (p, self) -> WeftNative.weft_await_recv(p, self, fd(), io.mem, n)
                            : (p, self) -> WeftNative.weft_await_send(p, self, fd(), io.mem, n, io.sent), io);
  }

  /**
   * {@link #recv(Task, ByteBuffer)} as a future of the count (0 at end of
   * stream).
   *
   * @param dst a writable buffer; the caller's again once the future completes
   * @return the future
   */
  public CompletableFuture<Integer> recvAsync(ByteBuffer dst) {
    if (dst.isReadOnly()) throw new java.nio.ReadOnlyBufferException();
    return loopOrThrow().future(t -> recv(t, dst), (t, r) -> r, null);
  }

  /**
   * {@link #recv(Task, byte[], int, int)} as a future of the count.
   *
   * @param b the array
   * @param off the first index
   * @param len the room
   * @return the future
   */
  public CompletableFuture<Integer> recvAsync(byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    return loopOrThrow().future(t -> recv(t, b, off, len), (t, r) -> r, null);
  }

  /**
   * {@link #send(Task, ByteBuffer)} as a future of the count sent (all of
   * them). On failure the buffer's position says how many went.
   *
   * @param src the bytes; the caller's again once the future completes
   * @return the future
   */
  public CompletableFuture<Integer> sendAsync(ByteBuffer src) {
    int n = src.remaining();
    return loopOrThrow().future(t -> send(t, src), (t, r) -> n, null);
  }

  /**
   * {@link #send(Task, byte[], int, int)} as a future of the count sent.
   *
   * @param b the array (copied at the first step)
   * @param off the first index
   * @param len the count
   * @return the future
   */
  public CompletableFuture<Integer> sendAsync(byte[] b, int off, int len) {
    Objects.checkFromIndexSize(off, len, b.length);
    return loopOrThrow().future(t -> send(t, b, off, len), (t, r) -> len, null);
  }

  // ---------------------------------------------------------------- control

  /**
   * Shuts down the write side: the peer's recv sees end of stream;
   * receiving goes on. Sends waiting resolve with {@link Weft#ECLOSED}; a
   * later send fails with {@link Weft#EPIPE}.
   *
   * @throws WeftException {@link Weft#ENOTCONN}, {@link Weft#EBADF}
   */
  public void shutdownOutput() {
    st.check(p -> WeftNative.weft_socket_shutdown(p, fd()), "socket shutdown");
  }
}
