/**
 * weft's Java binding: a {@link dev.weft.Loop} whose cheap {@link
 * dev.weft.Task}s, timers, fd watches, sockets and synchronisation primitives
 * take turns on one thread. The rules below hold for every class; a member's
 * own doc adds what is its own.
 *
 * <p><b>Threads.</b> A loop belongs to the thread running it. A method that
 * calls weft is a loop-thread call unless its doc says "any thread": it runs
 * in callbacks and task steps while the loop runs, or on any one thread while
 * it does not; from another thread while the loop runs it throws {@link
 * WeftException} with {@link Weft#EPERM} ({@link Weft#EBUSY} for run, close
 * and the options). Callbacks and steps run on the loop thread, never inside
 * the call that registered them.
 *
 * <p><b>Errors.</b> Methods other than awaits throw {@link WeftException}
 * with weft's negative code. Besides the codes its doc lists, a loop-thread
 * call may throw {@link Weft#EPERM} (above) and {@link Weft#ESTALE} (its
 * loop is closed or being closed by another thread, or its object is closed
 * or released).
 *
 * <p><b>Awaits</b> are called inside the running step of the task they take
 * (the {@link dev.weft.Task} itself, or their {@code t}: "the task whose step
 * is running"). Each returns {@link Weft#PENDING} once armed, which the step
 * returns; the next step receives the await's result as its status ({@link
 * Weft#ECANCELED} / {@link Weft#ETIMEDOUT} if the task is cancelled or times
 * out first). On failure an await arms nothing and returns a negative code:
 * those its doc lists, {@link Weft#EINVAL} outside the task's running step,
 * {@link Weft#EBUSY} for a second await in one step, or {@link
 * Weft#ECANCELED} while the loop closes; so {@code return t.sleep(d);}
 * finishes the task with it.
 *
 * <p><b>Futures.</b> The future forms ({@link Loop#sleep}, {@link
 * Loop#ready}, the {@code ...Async} methods) are detached tasks making one
 * await, completed on the loop thread: the await's result {@link
 * Weft#ECANCELED} (also from the loop's close) cancels the future, another
 * negative one completes it exceptionally with a {@link WeftException}
 * carrying the code. Cancelling the future cancels the task. Making one
 * throws as {@link Loop#spawn(Step)}.
 *
 * <p><b>Lifetime.</b> A {@link Task}, {@link Event}, {@link Semaphore},
 * {@link Lock}, {@link Queue}, {@link Socket} or {@link ServerSocket} keeps
 * its weft id alive while it is reachable and ends it once: at {@code
 * close()}, or, once the garbage collector finds it unreachable, on the loop
 * thread in a post (at the loop's close if it never runs again). An object a
 * waiting task awaits stays reachable through that task until the await
 * resolves. A {@link Handle} (timer, fd watch) is held by weft while it lives.
 * None of them keeps its {@link Loop} reachable.
 */
package dev.weft;
