package dev.weft;

/**
 * A timer or fd watch whose JNI global reference the Java side owns while it
 * is live: its {@link Loop} links it into a list, so that {@link Loop#close()}
 * (where weft stops timers and watches without calling them) can delete the
 * references of those still live. Fields are guarded by the loop's handle
 * lock.
 */
abstract class Handle {
  Handle prev;
  Handle next;
  /** The global reference to delete (WeftNativeJNI.release), 0 once handed over or deleted. */
  long token;
  /** Linked into the loop's list: started, and not stopped, fired (one-shot) or closed. */
  boolean live;
  /** The weft id. */
  long id;
  /** Run after the loop closed with this handle still live (futures use it to cancel). */
  Runnable onLoopClose;
}
