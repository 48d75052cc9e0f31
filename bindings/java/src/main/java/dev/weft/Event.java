package dev.weft;

import java.util.concurrent.CompletableFuture;

/**
 * A flag that tasks wait for (asyncio.Event): {@link #set()} wakes every
 * waiting task, in the order they began to wait; {@link #clear()} makes later
 * waits wait again.
 *
 * <pre>{@code
 * Event ready = new Event(loop);
 * loop.spawn((t, s) -> t.stepNumber() == 0 ? ready.await(t) : s); // resumes with 0 once set
 * ready.set();
 * }</pre>
 *
 * <p><b>Threads.</b> Every method is a loop-thread call (also allowed while
 * the loop is not running); from another thread while it runs it throws
 * {@link Weft#EPERM}: post to the loop instead ({@link Loop#post}).
 *
 * <p><b>Lifetime.</b> {@link #close()} frees the event: waiting tasks resume
 * with {@link Weft#ECLOSED}, and later calls throw {@link Weft#ESTALE}. The
 * loop's close frees what is left, and the garbage collector an event the
 * program dropped (a task waiting on it keeps it reachable).
 */
public final class Event extends Owned {
  /**
   * Creates a clear event on {@code loop}.
   *
   * @param loop the loop
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public Event(Loop loop) {
    this(loop.st);
  }

  Event(Loop.State st) {
    super(st, WeftNative::weft_event_new, WeftNative::weft_event_free, "event new");
  }

  /**
   * Sets the event: every waiting task resumes with 0. Setting a set event
   * does nothing.
   *
   * @throws WeftException {@link Weft#ESTALE} (closed), {@link Weft#EPERM}
   */
  public void set() {
    st.check(p -> WeftNative.weft_event_set(p, id), "event set");
  }

  /**
   * Clears the event; tasks a set already resumed stay resumed.
   *
   * @throws WeftException {@link Weft#ESTALE}, {@link Weft#EPERM}
   */
  public void clear() {
    st.check(p -> WeftNative.weft_event_clear(p, id), "event clear");
  }

  /**
   * Whether the event is set.
   *
   * @return true if set
   * @throws WeftException {@link Weft#ESTALE}, {@link Weft#EPERM}
   */
  public boolean isSet() {
    return st.check(p -> WeftNative.weft_event_is_set(p, id), "event is_set") == 1;
  }

  /**
   * Await: resumes the task with 0 when the event is set (in the next
   * iteration if it is set now), or {@link Weft#ECLOSED} if it is closed
   * first; {@link Weft#ECANCELED} / {@link Weft#ETIMEDOUT} as every await.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#ESTALE}
   *     for a closed event, and those of {@link Task#sleep})
   */
  public int await(Task t) {
    return t.arm(this, (p, self) -> WeftNative.weft_await_event(p, self, id), null);
  }

  /**
   * A future completed (with null) on the loop thread when the event is set,
   * by a detached task waiting for it. Cancelling the future cancels the
   * wait; closing the event completes it exceptionally ({@link
   * Weft#ECLOSED}); the loop's close cancels it.
   *
   * @return the future
   * @throws WeftException {@link Weft#ENOMEM}, {@link Weft#EPERM}, {@link Weft#ESTALE}
   */
  public CompletableFuture<Void> waitAsync() {
    return loopOrThrow().future(this::await, (t, r) -> null, null);
  }
}
