package dev.weft;

import java.util.HashMap;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A FIFO queue of Java objects between the tasks of one loop (asyncio.Queue,
 * with a Go channel's close as {@link #shutdown(boolean)}). Bounded (a
 * capacity &gt;= 1: {@link #put} waits while it is full) or unbounded
 * (capacity 0). Hand-off is FIFO: a put goes straight to the oldest waiting
 * getter, and the try- calls fail while anyone waits.
 *
 * <pre>{@code
 * Queue<String> q = new Queue<>(loop, 20);
 * loop.spawn((t, s) -> t.stepNumber() == 0 ? q.put(t, "hello") : s);
 * loop.spawn((t, s) -> {
 *   if (t.stepNumber() == 0) return q.get(t);
 *   if (s < 0) return s;                     // ECLOSED: shut down and drained
 *   System.out.println(q.received(t));       // "hello"
 *   return 0;
 * });
 * }</pre>
 *
 * <p><b>Items.</b> weft queues 64-bit items; this class keeps each value in
 * a handle table (loop thread, no locking) from the put that hands it over
 * until a get returns it, or weft drops it: {@link #shutdown(boolean)
 * shutdown(true)}, {@link #close()} and the loop's close discard what is
 * queued, and each discarded value goes to the {@code onDrop} consumer given
 * at construction exactly once, oldest first, then leaves the table. A put
 * that fails, is cancelled, times out or resumes with {@link Weft#ECLOSED}
 * leaves the value with the putter (it is neither queued nor dropped). Null
 * values are refused ({@link NullPointerException}). A step that arms a
 * {@link #put} and then finishes the task instead of returning {@link
 * Weft#PENDING} (or throws) leaves the value queued if weft put it at once,
 * and weft drops it otherwise, once the task has finished. A value is never
 * released twice.
 *
 * <p><b>Cancel-safety.</b> A getter cancelled or timed out before an item
 * reached it takes nothing; one cancelled after resumes with 0 and the item
 * ({@link #received(Task)}), and gets the cancellation from its next await.
 *
 * <p>Threads, errors and lifetime as in the package doc; {@link #close()}
 * frees the queue: waiting getters and putters resume with {@link
 * Weft#ECLOSED} and queued values are dropped.
 *
 * @param <T> the value type
 */
public final class Queue<T> extends Owned {
  private final Core core;

  /**
   * The handle table and drop target: what the native queue's user_data
   * holds (a JNI global reference, deleted by the release hook when weft
   * frees the queue).
   */
  static final class Core {
    final HashMap<Long, Object> table = new HashMap<>();
    final Consumer<Object> onDrop;
    private long next;
    Loop.State st;
    boolean dropping; // in shutdown or close, which rethrow what onDrop throws
    Throwable dropFailure; // what onDrop threw during the current close/shutdown

    Core(Consumer<Object> onDrop) {
      this.onDrop = onDrop;
    }

    long add(Object v) {
      long k = ++next;
      table.put(k, v);
      return k;
    }

    /**
     * The drop trampoline: weft discarded item k. What onDrop throws is kept
     * for the shutdown or close in progress, ignored at the loop's close, and
     * otherwise (a step's abandoned put, in a run) thrown on to run().
     */
    void dropped(long k) {
      Object v = table.remove(k);
      if (v == null || onDrop == null) return;
      if (!dropping && !st.closing) {
        onDrop.accept(v);
        return;
      }
      try {
        onDrop.accept(v);
      } catch (Throwable t) {
        if (!dropping) return;
        if (dropFailure == null) dropFailure = t;
        else dropFailure.addSuppressed(t);
      }
    }
  }

  /**
   * Creates a queue; dropped values are forgotten.
   *
   * @param loop the loop
   * @param capacity at most this many queued values (&gt;= 1), or 0 for unbounded
   * @throws WeftException {@link Weft#EINVAL} (negative), {@link Weft#ENOMEM}
   */
  public Queue(Loop loop, long capacity) {
    this(loop, capacity, null);
  }

  /**
   * Creates a queue whose dropped values go to {@code onDrop} (on the loop
   * thread, or the thread closing the loop). What onDrop throws is rethrown
   * by the {@link #shutdown(boolean)} or {@link #close()} that dropped the
   * value, ignored at the loop's close, and otherwise (an abandoned put, a
   * queue the collector ended) rethrown by {@link Loop#run()}.
   *
   * @param loop the loop
   * @param capacity at most this many queued values (&gt;= 1), or 0 for unbounded
   * @param onDrop receives each dropped value once; may be null
   * @throws WeftException as {@link #Queue(Loop, long)}
   */
  @SuppressWarnings("unchecked")
  public Queue(Loop loop, long capacity, Consumer<? super T> onDrop) {
    this(new Core((Consumer<Object>) onDrop), loop, capacity);
  }

  private Queue(Core core, Loop loop, long capacity) {
    super(loop.st, (p, out) -> WeftNative.weft_queue_new(p, capacity, core, out), WeftNative::weft_queue_free, "queue new");
    this.core = core;
    core.st = loop.st;
  }

  /**
   * Await: resumes the task with 0 once {@code value} is in the queue (handed
   * to the oldest waiting getter, or queued), or {@link Weft#ECLOSED} if the
   * queue is shut down or closed (now or while waiting; the value stays the
   * caller's).
   *
   * @param t the task whose step is running
   * @param value the value, not null
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#ESTALE} for
   *     a closed queue, {@link Weft#ENOMEM})
   */
  public int put(Task t, T value) {
    return hand(value, k -> t.arm(this, (p, self) -> WeftNative.weft_await_queue_put(p, self, id, k),
        (self, status) -> {
          if (status != 0) core.table.remove(k); // not queued: the putter keeps it
        }), Weft.PENDING);
  }

  /** Hands value to weft as item k with call(k); the table keeps it only if call returned kept. */
  private int hand(T value, java.util.function.LongToIntFunction call, int kept) {
    long k = core.add(Objects.requireNonNull(value, "value"));
    int rc = Weft.EINVAL;
    try {
      return rc = call.applyAsInt(k);
    } finally {
      if (rc != kept) core.table.remove(k); // failed or threw: the putter keeps it
    }
  }

  /**
   * Await: resumes the task with 0 having taken the oldest value, which
   * {@link #received(Task)} returns in that step; or {@link Weft#ECLOSED}
   * when the queue is shut down and empty, or closed.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#ESTALE}: closed queue)
   */
  public int get(Task t) {
    Task.Core tc = t.core;
    return t.arm(this, (p, self) -> WeftNative.weft_await_queue_get(p, self, id),
        (self, status) -> {
          if (status != 0) return;
          long[] item = new long[1];
          if (WeftNative.weft_task_item(st.ptr, self, item) == 0) tc.item = core.table.remove(item[0]);
        });
  }

  /**
   * The value taken by the {@link #get(Task)} the running step of {@code t}
   * resumes from (with 0); null in any other step.
   *
   * @param t the task
   * @return the value, or null
   */
  @SuppressWarnings("unchecked")
  public T received(Task t) {
    return (T) t.core.item;
  }

  /**
   * Puts {@code value} without waiting: to the oldest waiting getter, else at
   * the tail.
   *
   * @param value the value, not null
   * @return true if put; false if the queue is full
   * @throws WeftException {@link Weft#ECLOSED} (shut down), {@link Weft#ENOMEM}
   */
  public boolean tryPut(T value) {
    return hand(value, k -> tryCall((p, q) -> WeftNative.weft_queue_try_put(p, q, k), "queue try_put")
        ? 0 : Weft.EAGAIN, 0) == 0;
  }

  /**
   * Takes the oldest value without waiting.
   *
   * @return the value, or null if the queue is empty
   * @throws WeftException {@link Weft#ECLOSED} (empty and shut down)
   */
  @SuppressWarnings("unchecked")
  public T tryGet() {
    long[] item = new long[1];
    boolean got = tryCall((p, q) -> WeftNative.weft_queue_try_get(p, q, item), "queue try_get");
    return got ? (T) core.table.remove(item[0]) : null;
  }

  /**
   * The number of queued values (putters still waiting not counted).
   *
   * @return the size
   */
  public long size() {
    long[] v = new long[1];
    st.check(p -> WeftNative.weft_queue_size(p, id, v), "queue size");
    return v[0];
  }

  /**
   * Shuts the queue down, like closing a Go channel: puts fail with {@link
   * Weft#ECLOSED} from now on and waiting putters resume with it; gets still
   * take what is queued, then resolve with {@link Weft#ECLOSED}. With {@code
   * immediate}, the queued values are dropped first (to {@code onDrop},
   * oldest first, before this returns). Shutting down again is allowed.
   *
   * @param immediate also drop the queued values
   * @throws RuntimeException (or an Error) what onDrop threw; every value was dropped all the same
   */
  public void shutdown(boolean immediate) {
    int flags = immediate ? WeftNativeConstants.WEFT_QUEUE_IMMEDIATE : 0;
    core.dropping = true;
    try {
      st.check(p -> WeftNative.weft_queue_close(p, id, flags), "queue close");
    } finally {
      core.dropping = false;
    }
    rethrowDropFailure();
  }

  /**
   * {@link #put} as a future of null (see the package doc). Cancelling it
   * before the value is in the queue leaves the value with the caller.
   *
   * @param value the value, not null
   * @return the future
   */
  public CompletableFuture<Void> putAsync(T value) {
    Objects.requireNonNull(value, "value");
    return loopOrThrow().future(t -> put(t, value), (t, r) -> null, null);
  }

  /**
   * {@link #get} as a future of the value (see the package doc). Cancelling
   * it before a value reached it takes nothing; a value taken by a future
   * cancelled too late goes to {@code onDrop}.
   *
   * @return the future
   */
  public CompletableFuture<T> getAsync() {
    return loopOrThrow().future(this::get, (t, r) -> received(t), v -> {
      if (v != null && core.onDrop != null) core.onDrop.accept(v);
    });
  }

  /**
   * Frees the queue: waiting getters and putters resume with {@link
   * Weft#ECLOSED} and the queued values are dropped (to {@code onDrop}).
   * Closing again, or after the loop closed, does nothing.
   *
   * @throws RuntimeException (or an Error) what onDrop threw
   */
  @Override
  public void close() {
    core.dropping = true;
    try {
      super.close();
    } finally {
      core.dropping = false;
    }
    // Freed (weft no longer knows it): what is left belongs to putters whose
    // ECLOSED is still to be delivered.
    if (st.isClosed() || st.onLoop(p -> WeftNative.weft_queue_size(p, id, new long[1])) == Weft.ESTALE)
      core.table.clear();
    rethrowDropFailure();
  }

  /** Values in the handle table (queued, or being put): for tests. */
  int held() {
    return core.table.size();
  }

  private void rethrowDropFailure() {
    Throwable t = core.dropFailure;
    core.dropFailure = null;
    if (t instanceof RuntimeException) throw (RuntimeException) t;
    if (t instanceof Error) throw (Error) t;
    if (t != null) throw new WeftException(Weft.EHOST, "queue onDrop threw", t);
  }
}
