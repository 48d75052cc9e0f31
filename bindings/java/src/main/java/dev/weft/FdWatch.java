package dev.weft;

/**
 * A level-triggered watch of an fd ({@link Loop#watch}): its callback runs on
 * the loop thread in every iteration in which the fd is ready for the
 * requested events, until {@link #stop()} or until its loop is closed. The
 * caller keeps owning the fd and must stop the watch before closing it.
 */
public final class FdWatch extends Handle {
  private final FdCallback callback;
  private final int fd;
  private volatile int events;

  FdWatch(Loop.State loop, int fd, int events, FdCallback callback) {
    super(loop, WeftNative::weft_fd_watch_stop);
    this.fd = fd;
    this.events = events;
    this.callback = callback;
  }

  /** The trampoline's call; an exception goes to the trampoline (and run()). */
  void fire(int ready) {
    callback.onReady(this, ready);
  }

  /**
   * Changes the events watched for; on error the old events stay.
   *
   * @param events {@link Weft#READABLE} and/or {@link Weft#WRITABLE}
   * @throws WeftException {@link Weft#EINVAL} (bad events), {@link Weft#ESTALE}
   *     (stopped), {@link Weft#EBADF} (the fd was closed)
   */
  public void modify(int events) {
    st.check(p -> WeftNative.weft_fd_watch_modify(p, id, events), "fd watch modify");
    this.events = events;
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
}
