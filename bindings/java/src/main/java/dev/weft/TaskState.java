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

  static TaskState of(int state) {
    switch (state) {
      case WeftNativeConstants.WEFT_TASK_READY: return READY;
      case WeftNativeConstants.WEFT_TASK_WAITING: return WAITING;
      case WeftNativeConstants.WEFT_TASK_DONE: return DONE;
      case WeftNativeConstants.WEFT_TASK_RUNNING: return RUNNING;
      default: throw new WeftException(state < 0 ? state : Weft.EINVAL);
    }
  }
}
