package dev.weft;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Mutual exclusion between the tasks of one loop (asyncio.Lock), held by a
 * task: only the holder may unlock it, and it is not reentrant. Hand-off is
 * FIFO: an unlock passes the lock to the oldest waiting task, and {@link
 * #tryLock(Task)} fails while any task waits.
 *
 * <pre>{@code
 * loop.spawn((t, s) -> switch (t.stepNumber()) {
 *   case 0 -> lock.lock(t);                 // resumes with 0 holding the lock
 *   default -> {
 *     if (s < 0) yield s;                   // not granted: nothing to unlock
 *     try (Lock.Guard g = lock.held(t)) {   // unlocked when the block ends
 *       yield critical();
 *     }
 *   }
 * });
 * }</pre>
 *
 * <p>A guard unlocks when closed; to keep the lock across awaits, keep the
 * guard (or call {@link #unlock(Task)} later). A task that finishes holding
 * the lock keeps it until its guard or {@link #unlock(Task)} releases it.
 *
 * <p><b>Cancel-safety, threads, errors and lifetime</b> as {@link Semaphore}
 * ({@link #close()} frees it, held or not).
 * The name is that of {@code java.util.concurrent.locks.Lock}; this one is
 * for tasks, not threads.
 */
public final class Lock extends Owned {
  /**
   * Creates an unlocked lock.
   *
   * @param loop the loop
   * @throws WeftException {@link Weft#ENOMEM}
   */
  public Lock(Loop loop) {
    super(loop.st, WeftNative::weft_lock_new, WeftNative::weft_lock_free, "lock new");
  }

  /**
   * Await: resumes the task with 0 holding the lock (in the next iteration if
   * it is free and nobody waits), or {@link Weft#ECLOSED} if the lock is
   * closed first.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#EINVAL} if
   *     t already holds it, {@link Weft#ESTALE} for a closed lock)
   */
  public int lock(Task t) {
    return t.arm(this, (p, self) -> WeftNative.weft_await_lock(p, self, id), null);
  }

  /**
   * Locks it for {@code owner} without waiting.
   *
   * @param owner a live task of this loop (not necessarily the running one)
   * @return a guard unlocking it for owner, or null if it is held or a task
   *     waits for it
   * @throws WeftException {@link Weft#EINVAL} (owner already holds it),
   *     {@link Weft#ESTALE} (owner or the lock is not live)
   */
  public Guard tryLock(Task owner) {
    long o = owner.id;
    boolean got = tryCall((p, l) -> WeftNative.weft_lock_try_acquire(p, l, o), "lock try_acquire");
    return got ? new Guard(o) : null;
  }

  /**
   * A guard for the lock {@code owner} holds (after {@link #lock} resolved
   * with 0): closing it unlocks, once.
   *
   * @param owner the holding task
   * @return the guard
   */
  public Guard held(Task owner) {
    return new Guard(owner.id);
  }

  /**
   * Unlocks it; the oldest waiting task gets it.
   *
   * @param owner the task holding it
   * @throws WeftException {@link Weft#EINVAL} (owner does not hold it, or it is unlocked)
   */
  public void unlock(Task owner) {
    long o = owner.id;
    st.check(p -> WeftNative.weft_lock_release(p, id, o), "lock release");
  }

  /**
   * Whether a task holds the lock.
   *
   * @return true if held
   */
  public boolean isLocked() {
    return ownerId() != 0;
  }

  /**
   * The weft id of the task holding the lock ({@link Task#id()}), 0 if none.
   *
   * @return the id
   */
  public long ownerId() {
    long[] v = new long[1];
    st.check(p -> WeftNative.weft_lock_owner(p, id, v), "lock owner");
    return v[0];
  }

  /**
   * {@link #lock} as a future (see the package doc), by a detached task that
   * holds the lock until the guard is closed. Cancelling it before the grant
   * takes nothing; after it, the lock is unlocked again.
   *
   * @return the future of a guard that unlocks it
   */
  public CompletableFuture<Guard> lockAsync() {
    return loopOrThrow().future(this::lock, (t, r) -> new Guard(t.id), Guard::close);
  }

  /** The lock held by one task; {@link #close()} unlocks it the first time. */
  public final class Guard implements AutoCloseable {
    private final long owner;
    private final AtomicBoolean released = new AtomicBoolean();

    private Guard(long owner) {
      this.owner = owner;
    }

    /**
     * Unlocks (as {@link Lock#unlock}) unless already done; a lock closed
     * meanwhile is left alone.
     *
     * @throws WeftException {@link Weft#EINVAL} (unlocked by other means meanwhile)
     */
    @Override
    public void close() {
      once(released, p -> WeftNative.weft_lock_release(p, id, owner), "lock release");
    }
  }
}
