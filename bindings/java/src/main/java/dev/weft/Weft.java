package dev.weft;

import java.time.Duration;
import java.util.Locale;

/**
 * Library-wide functions and the constants of weft's C API.
 *
 * <p>Every method here may be called from any thread. The error codes are the
 * negative values weft returns; {@link WeftException#code()} carries them.
 */
public final class Weft {
  private Weft() {}

  /** fd readiness: readable. */
  public static final int READABLE = WeftNativeConstants.WEFT_READABLE;
  /** fd readiness: writable. */
  public static final int WRITABLE = WeftNativeConstants.WEFT_WRITABLE;
  /** fd readiness, only ever reported: the peer hung up. */
  public static final int HANGUP = WeftNativeConstants.WEFT_HANGUP;
  /** fd readiness, only ever reported: an error is pending on the fd. */
  public static final int ERROR = WeftNativeConstants.WEFT_ERROR;

  /** {@link Task#awaitAll(int, Task...)} flag: TaskGroup semantics (cancel the rest on the first error). */
  public static final int CANCEL_ON_ERROR = WeftNativeConstants.WEFT_CANCEL_ON_ERROR;

  /** What an await returns once armed; a task step returns it to suspend. Never a result. */
  public static final int PENDING = WeftNativeConstants.WEFT_PENDING;

  /** Error: a loop-thread function was called from another thread while the loop runs. */
  public static final int EPERM = WeftNativeConstants.WEFT_EPERM;
  /** Error: the fd is not open, or epoll cannot watch it (a regular file, a directory). */
  public static final int EBADF = WeftNativeConstants.WEFT_EBADF;
  /** Error: {@code WEFT_BACKEND=io_uring} where io_uring cannot work (kernel, seccomp, build). */
  public static final int ENOSYS = WeftNativeConstants.WEFT_ENOSYS;
  /** Error: the OS refused a thread. */
  public static final int EAGAIN = WeftNativeConstants.WEFT_EAGAIN;
  /** Error: out of memory, or a pool reached its slot limit. */
  public static final int ENOMEM = WeftNativeConstants.WEFT_ENOMEM;
  /** Error: busy (running loop, second await in one step, work already started, result not ready). */
  public static final int EBUSY = WeftNativeConstants.WEFT_EBUSY;
  /** Error: reserved by weft. */
  public static final int EEXIST = WeftNativeConstants.WEFT_EEXIST;
  /** Error: an argument is out of range. */
  public static final int EINVAL = WeftNativeConstants.WEFT_EINVAL;
  /** Error: the process is out of file descriptors. */
  public static final int EMFILE = WeftNativeConstants.WEFT_EMFILE;
  /** Error: the kernel's epoll watch limit is reached. */
  public static final int ENOSPC = WeftNativeConstants.WEFT_ENOSPC;
  /** Error: a task's deadline passed ({@link Task#timeout}). */
  public static final int ETIMEDOUT = WeftNativeConstants.WEFT_ETIMEDOUT;
  /** Error: the handle is closed, finished and released, of another kind, or of another loop; or the loop is closed. */
  public static final int ESTALE = WeftNativeConstants.WEFT_ESTALE;
  /** Error: cancelled, or the loop is being closed. */
  public static final int ECANCELED = WeftNativeConstants.WEFT_ECANCELED;
  /**
   * Error: code weft called raised in its host language; here, Java code threw
   * (a task step, or the work of {@link Task#awaitThread}). The throwable is
   * kept by the task ({@link Task#exception()}, {@link Task#workException()})
   * or the future. Negative, so {@link #CANCEL_ON_ERROR} treats it as an error.
   */
  public static final int EHOST = WeftNativeConstants.WEFT_EHOST;

  // Socket codes (see ServerSocket and Socket).
  /** Error: the socket was closed (or its write side shut down) through weft while an operation waited. */
  public static final int ECLOSED = WeftNativeConstants.WEFT_ECLOSED;
  /** Error: connect: nobody listens there. */
  public static final int ECONNREFUSED = WeftNativeConstants.WEFT_ECONNREFUSED;
  /** Error: connect: the host name does not resolve. */
  public static final int ENOTFOUND = WeftNativeConstants.WEFT_ENOTFOUND;
  /** Error: no such Unix socket path. */
  public static final int ENOENT = WeftNativeConstants.WEFT_ENOENT;
  /** Error: permission denied (path, privileged port). */
  public static final int EACCES = WeftNativeConstants.WEFT_EACCES;
  /** Error: send: the peer closed; nothing more can be sent. */
  public static final int EPIPE = WeftNativeConstants.WEFT_EPIPE;
  /** Error: a Unix socket path longer than the kernel holds. */
  public static final int ENAMETOOLONG = WeftNativeConstants.WEFT_ENAMETOOLONG;
  /** Error: the fd is not a socket. */
  public static final int ENOTSOCK = WeftNativeConstants.WEFT_ENOTSOCK;
  /** Error: listen: the address or port is taken. */
  public static final int EADDRINUSE = WeftNativeConstants.WEFT_EADDRINUSE;
  /** Error: listen: the address is not local. */
  public static final int EADDRNOTAVAIL = WeftNativeConstants.WEFT_EADDRNOTAVAIL;
  /** Error: no route to the network. */
  public static final int ENETUNREACH = WeftNativeConstants.WEFT_ENETUNREACH;
  /** Error: the connection was aborted. */
  public static final int ECONNABORTED = WeftNativeConstants.WEFT_ECONNABORTED;
  /** Error: the peer reset the connection. */
  public static final int ECONNRESET = WeftNativeConstants.WEFT_ECONNRESET;
  /** Error: not connected (e.g. recv on a listening socket). */
  public static final int ENOTCONN = WeftNativeConstants.WEFT_ENOTCONN;
  /** Error: no route to the host. */
  public static final int EHOSTUNREACH = WeftNativeConstants.WEFT_EHOSTUNREACH;
  /** {@link ServerSocket#listen(Loop, String, int, int, int)} flag: SO_REUSEPORT. */
  public static final int LISTEN_REUSEPORT = WeftNativeConstants.WEFT_LISTEN_REUSEPORT;

  /** Log level of {@link LogHandler}: debug. */
  public static final int LOG_DEBUG = WeftNativeConstants.WEFT_LOG_DEBUG;
  /** Log level of {@link LogHandler}: info. */
  public static final int LOG_INFO = WeftNativeConstants.WEFT_LOG_INFO;
  /** Log level of {@link LogHandler}: warning (slow callbacks). */
  public static final int LOG_WARN = WeftNativeConstants.WEFT_LOG_WARN;
  /** Log level of {@link LogHandler}: error (misbehaving task steps). */
  public static final int LOG_ERROR = WeftNativeConstants.WEFT_LOG_ERROR;

  /** The version of the C header this binding was generated from: (major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch. */
  public static final int HEADER_VERSION = WeftNativeConstants.WEFT_VERSION;

  /**
   * The loaded library's version.
   *
   * @return (major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch
   */
  public static int version() {
    return WeftNative.weft_version();
  }

  /**
   * The loaded library's version as text.
   *
   * @return "MAJOR.MINOR.PATCH"
   */
  public static String versionString() {
    return WeftNative.weft_version_string();
  }

  /**
   * An English description of a code; never null, also for unknown codes.
   *
   * @param code a weft code (0 or negative)
   * @return the description
   */
  public static String strerror(int code) {
    return WeftNative.weft_strerror(code);
  }

  /**
   * The symbolic name of a code ("WEFT_ECANCELED", "0", "WEFT_EHOST",
   * "WEFT_E?" for unknown codes); never null.
   *
   * @param code a weft code
   * @return its name
   */
  public static String errName(int code) {
    return WeftNative.weft_err_name(code);
  }

  /**
   * The number of JNI global references the binding holds now: one per live
   * timer, fd watch, task not yet freed by weft (unfinished, or finished and
   * not yet released), pending post, pool work not yet ended, logger, and
   * exception waiting to be rethrown. weft's release hook deletes each one
   * exactly once, when weft is done with it. A diagnostic: it returns to its
   * earlier value once handles end or their loop is closed.
   *
   * @return the count
   */
  public static long liveCallbackRefs() {
    return WeftNative.jweft_live_refs();
  }

  /**
   * A self-check, run by {@code java -jar weft-VERSION.jar}: loads the native
   * library (from the jar, or {@code -Dweft.library.path}), prints the
   * versions, and runs a loop with a task, a timer, a post and pool work;
   * prints "loop ok" at the end.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    System.out.printf(Locale.ROOT, "weft Java binding for weft.h %d.%d.%d, libweft %s, Java %s%n", HEADER_VERSION >> 16,
        (HEADER_VERSION >> 8) & 0xff, HEADER_VERSION & 0xff, versionString(), System.getProperty("java.version"));
    try (Loop loop = new Loop()) {
      int[] seen = new int[3];
      Task task = loop.spawn((t, s) -> t.stepNumber() == 0 ? t.sleep(Duration.ofMillis(1)) : 42);
      loop.timer(Duration.ofMillis(1), () -> seen[0] = 1);
      loop.post(() -> seen[1] = 1);
      loop.toThread(() -> 2).thenAccept(v -> seen[2] = v);
      loop.run();
      if (task.result() != 42 || seen[0] != 1 || seen[1] != 1 || seen[2] != 2) throw new AssertionError("loop failed");
      task.close();
    }
    System.out.println("loop ok");
  }
}
