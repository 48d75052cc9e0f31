package dev.weft;

import java.util.concurrent.locks.Lock;

/**
 * A level-triggered watch of an fd ({@link Loop#watch}): its callback runs on
 * the loop thread in every iteration in which the fd is ready for the
 * requested events, until {@link #stop()} or until its loop is closed. The
 * caller keeps owning the fd and must stop the watch before closing it.
 */
public final class FdWatch extends Handle {
  private final Loop loop;
  private final FdCallback callback;
  private final int fd;
  private int events;

  /** What the JNI trampoline calls. */
  final RawCallbacks.FdFn fn = this::fire;

  FdWatch(Loop loop, int fd, int events, FdCallback callback) {
    this.loop = loop;
    this.fd = fd;
    this.events = events;
    this.callback = callback;
  }

  private void fire(long watch, int ready) {
    try {
      callback.onReady(this, ready);
    } catch (Throwable t) {
      loop.failed(t);
    }
  }

  /**
   * Changes the events watched for. Loop thread (or any thread while the loop
   * is not running).
   *
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @throws WeftException {@link Weft#EINVAL} (bad events), {@link
   *     Weft#ESTALE} (stopped, or the loop is closed), {@link Weft#EBADF} (the
   *     fd was closed), {@link Weft#EPERM}; on error the old events stay
   */
  public void modify(int events) {
    Lock l = loop.enterLoopThread();
    try {
      WeftException.check(WeftNative.weft_fd_watch_modify(loop.ptr(), id, events), "fd watch modify");
      this.events = events;
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Stops the watch; its callback will not run again. Also from its own
   * callback. Loop thread (or any thread while the loop is not running).
   *
   * @return true if it was live and is stopped now; false if it had already
   *     ended (stopped, or its loop closed)
   * @throws WeftException {@link Weft#EPERM} from another thread while the loop runs
   */
  public boolean stop() {
    Lock l = loop.enterLoopThread();
    try {
      if (!isActive()) return false;
      WeftException.check(WeftNative.weft_fd_watch_stop(loop.ptr(), id), "fd watch stop");
      loop.untrackAndRelease(this);
      return true;
    } finally {
      Loop.exit(l);
    }
  }

  /**
   * Whether the watch is live (started, not stopped, loop not closed). Any thread.
   *
   * @return true while live
   */
  public boolean isActive() {
    return loop.isTracked(this);
  }

  /**
   * The watched fd.
   *
   * @return the fd
   */
  public int fd() {
    return fd;
  }

  /**
   * The events asked for now.
   *
   * @return {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   */
  public int events() {
    return events;
  }

  /**
   * The weft id (stale once stopped).
   *
   * @return the id
   */
  public long id() {
    return id;
  }

  /**
   * The loop the watch belongs to.
   *
   * @return the loop
   */
  public Loop loop() {
    return loop;
  }
}
