package dev.weft;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A count of permits that tasks acquire and release (asyncio.Semaphore; with
 * {@code bounded}, asyncio.BoundedSemaphore). Hand-off is FIFO: a release
 * grants its permit directly to the oldest waiting task, and {@link
 * #tryAcquire()} fails while any task waits, so nobody jumps the queue.
 *
 * <pre>{@code
 * Semaphore sem = new Semaphore(loop, 50);
 * loop.spawn((t, s) -> switch (t.stepNumber()) {
 *   case 0 -> sem.acquire(t);                  // resumes with 0 holding a permit
 *   default -> {
 *     if (s < 0) yield s;                      // ECANCELED, ETIMEDOUT, ECLOSED: nothing taken
 *     try (Semaphore.Permit p = sem.permit()) { // released when the block ends
 *       yield work();
 *     }
 *   }
 * });
 * }</pre>
 *
 * <p><b>Cancel-safety.</b> A task cancelled or timed out while it waits
 * takes nothing ({@link Weft#ECANCELED} / {@link Weft#ETIMEDOUT}); one
 * cancelled after its grant resumes with 0 holding the permit, and gets the
 * cancellation from its next await.
 *
 * <p>Threads, errors and lifetime as in the package doc; {@link #close()}
 * frees it and waiting tasks resume with {@link Weft#ECLOSED}.
 */
public final class Semaphore extends Owned {
  /**
   * Creates a semaphore holding {@code permits} permits.
   *
   * @param loop the loop
   * @param permits the initial count, &gt;= 0
   * @throws WeftException {@link Weft#EINVAL} (negative), {@link Weft#ENOMEM}
   */
  public Semaphore(Loop loop, long permits) {
    this(loop, permits, false);
  }

  /**
   * Creates a semaphore; a bounded one refuses releases beyond {@code
   * permits} ({@link Weft#EINVAL}).
   *
   * @param loop the loop
   * @param permits the initial count, &gt;= 0
   * @param bounded whether releasing past the initial count is an error
   * @throws WeftException as {@link #Semaphore(Loop, long)}
   */
  public Semaphore(Loop loop, long permits, boolean bounded) {
    super(loop.st, (p, out) -> WeftNative.weft_semaphore_new(p, permits,
        bounded ? WeftNativeConstants.WEFT_SEMAPHORE_BOUNDED : 0, out), WeftNative::weft_semaphore_free, "semaphore new");
  }

  /**
   * Await: resumes the task with 0 holding one permit (in the next iteration
   * if one is free and nobody waits), or {@link Weft#ECLOSED} if the
   * semaphore is closed first. Then {@link #permit()} wraps the permit for
   * try-with-resources, or call {@link #release()} yourself.
   *
   * @param t the task whose step is running
   * @return {@link Weft#PENDING}, or a negative code ({@link Weft#ESTALE}: closed semaphore)
   */
  public int acquire(Task t) {
    return t.arm(this, (p, self) -> WeftNative.weft_await_semaphore(p, self, id), null);
  }

  /**
   * Takes a permit without waiting.
   *
   * @return true if taken; false if none is free or a task waits for one
   */
  public boolean tryAcquire() {
    return tryCall(WeftNative::weft_semaphore_try_acquire, "semaphore try_acquire");
  }

  /**
   * {@link #tryAcquire()} as a guard.
   *
   * @return the permit, or null if none could be taken
   * @throws WeftException as {@link #tryAcquire()}
   */
  public Permit tryPermit() {
    return tryAcquire() ? new Permit() : null;
  }

  /**
   * A guard for a permit the caller holds (after {@link #acquire} resolved
   * with 0, or a successful {@link #tryAcquire()}): its {@link
   * Permit#close()} releases it, once.
   *
   * @return the guard
   */
  public Permit permit() {
    return new Permit();
  }

  /**
   * Returns one permit: to the oldest waiting task, else to the count. Any
   * code may release (permits have no owner).
   *
   * @throws WeftException {@link Weft#EINVAL} (a bounded semaphore would
   *     exceed its initial count)
   */
  public void release() {
    st.check(p -> WeftNative.weft_semaphore_release(p, id), "semaphore release");
  }

  /**
   * The number of free permits (0 while tasks wait).
   *
   * @return the count
   */
  public long value() {
    long[] v = new long[1];
    st.check(p -> WeftNative.weft_semaphore_value(p, id, v), "semaphore value");
    return v[0];
  }

  /**
   * {@link #acquire} as a future of the permit (see the package doc).
   * Cancelling it before the grant takes nothing; after it, the permit is
   * released again.
   *
   * @return the future
   */
  public CompletableFuture<Permit> acquireAsync() {
    return loopOrThrow().future(this::acquire, (t, r) -> new Permit(), Permit::close);
  }

  /** One held permit; {@link #close()} releases it the first time. */
  public final class Permit implements AutoCloseable {
    private final AtomicBoolean released = new AtomicBoolean();

    private Permit() {}

    /**
     * Releases the permit ({@link Semaphore#release()}) unless already done.
     * A semaphore closed meanwhile has nothing to give it back to.
     *
     * @throws WeftException {@link Weft#EINVAL} (bounded, over the count)
     */
    @Override
    public void close() {
      once(released, p -> WeftNative.weft_semaphore_release(p, id), "semaphore release");
    }
  }
}
