package dev.weft;

/** Receives a loop's log lines ({@link Loop#setLogger}), on the loop thread. */
@FunctionalInterface
public interface LogHandler {
  /**
   * One log line.
   *
   * @param level {@link Weft#LOG_DEBUG} .. {@link Weft#LOG_ERROR}
   * @param message the text
   */
  void log(int level, String message);
}
