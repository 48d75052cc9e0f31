package dev.weft;

/**
 * One step of a {@link Task}: the shape that async/await compiles to. weft
 * calls it on the loop thread with status 0 to start, then each time the
 * await it armed completes, with that await's result. A step arms one await
 * and returns its result, or returns any other value to finish the task:
 *
 * <pre>{@code
 * Task t = loop.spawn((task, status) -> switch (task.stepNumber()) {
 *   case 0 -> task.sleep(Duration.ofMillis(10));   // suspends: returns Weft.PENDING
 *   default -> 42;                                  // finishes with 42
 * });
 * }</pre>
 */
@FunctionalInterface
public interface Step {
  /**
   * Runs one step.
   *
   * @param task the task (use it to await)
   * @param status 0 for the first step ({@link Weft#ECANCELED} / {@link Weft#ETIMEDOUT} if
   *     the task was cancelled, or its timeout passed, before it started: that status is
   *     the delivery), then the result of the last await (negative for errors)
   * @return {@link Weft#PENDING} (what an armed await returns) to suspend, or
   *     the task's result. A throw finishes the task with {@link Weft#EHOST}
   *     and keeps the throwable as {@link Task#exception()}.
   */
  int step(Task task, int status);
}
