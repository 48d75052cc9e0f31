package dev.weft;

/** The state of a {@link Task}, as weft reports it. */
public enum TaskState {
  /** Queued to run its next step. */
  READY,
  /** Suspended on an await. */
  WAITING,
  /** Finished: {@link Task#result()} has its result. */
  DONE,
  /** Its step is executing now. */
  RUNNING;

  /** weft's WEFT_TASK_READY .. _RUNNING are 1 .. 4 (ABI), in this order. */
  static TaskState of(int state) {
    if (state >= 1 && state <= 4) return values()[state - 1];
    throw new WeftException(state < 0 ? state : Weft.EINVAL);
  }
}
