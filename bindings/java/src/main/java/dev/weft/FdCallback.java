package dev.weft;

/** What an {@link FdWatch} calls on the loop thread while its fd is ready. */
@FunctionalInterface
public interface FdCallback {
  /**
   * The fd is ready (level-triggered: called in every iteration while it
   * stays ready). What it throws goes to {@link Loop#run()} (see {@link Loop}).
   *
   * @param watch the watch
   * @param events the requested ready bits ({@link Weft#READABLE}, {@link
   *     Weft#WRITABLE}) plus {@link Weft#HANGUP} / {@link Weft#ERROR} if reported
   */
  void onReady(FdWatch watch, int events);
}
