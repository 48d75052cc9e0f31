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
 * <p>Threads, errors and lifetime as in the package doc (another thread
 * posts to the loop: {@link Loop#post}). {@link #close()} (or the loop's
 * close) frees the event: waiting tasks resume with {@link Weft#ECLOSED}.
 */
public final class Event extends Owned {
  /**
   * Creates a clear event on {@code loop}.
   *
   * @param loop the loop
   * @throws WeftException {@link Weft#ENOMEM}
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
   */
  public void set() {
    st.check(p -> WeftNative.weft_event_set(p, id), "event set");
  }

  /**
   * Clears the event; tasks a set already resumed stay resumed.
   */
  public void clear() {
    st.check(p -> WeftNative.weft_event_clear(p, id), "event clear");
  }

  /**
   * Whether the event is set.
   *
   * @return true if set
   */
  public boolean isSet() {
    return st.check(p -> WeftNative.weft_event_is_set(p, id), "event is_set") == 1;
  }

  /**
   * Await: resumes the task with 0 when the event is set (in the next
   * iteration if it is set now), or {@link Weft#ECLOSED} if it is closed first.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#ESTALE}: closed event)
   */
  public int await(Task t) {
    return t.arm(this, (p, self) -> WeftNative.weft_await_event(p, self, id), null);
  }

  /**
   * {@link #await} as a future of null (see the package doc); closing the
   * event completes it exceptionally ({@link Weft#ECLOSED}).
   *
   * @return the future
   */
  public CompletableFuture<Void> waitAsync() {
    return loopOrThrow().future(this::await, (t, r) -> null, null);
  }
}
