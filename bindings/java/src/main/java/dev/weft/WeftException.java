package dev.weft;

/**
 * A weft call failed. {@link #code()} is the negative weft code ({@link
 * Weft#EINVAL}, {@link Weft#ESTALE}...); using a closed {@link Loop} gives
 * {@link Weft#ESTALE}.
 */
public class WeftException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The weft code. */
  private final int code;

  /**
   * An exception for {@code code}, with weft's description as the message.
   *
   * @param code a negative weft code
   */
  public WeftException(int code) {
    this(code, null, null);
  }

  /**
   * An exception for {@code code} with more detail.
   *
   * @param code a negative weft code
   * @param detail what failed, or null
   */
  public WeftException(int code, String detail) {
    this(code, detail, null);
  }

  /**
   * An exception for {@code code} with more detail and a cause.
   *
   * @param code a negative weft code
   * @param detail what failed, or null
   * @param cause the underlying throwable, or null
   */
  public WeftException(int code, String detail, Throwable cause) {
    super(message(code, detail), cause);
    this.code = code;
  }

  private static String message(int code, String detail) {
    String m = Weft.errName(code) + " (" + code + "): " + Weft.strerror(code);
    return detail == null ? m : detail + ": " + m;
  }

  /**
   * The weft code.
   *
   * @return a negative code such as {@link Weft#EINVAL}
   */
  public int code() {
    return code;
  }

  /**
   * The code's symbolic name, as {@link Weft#errName(int)}.
   *
   * @return e.g. "WEFT_ESTALE"
   */
  public String codeName() {
    return Weft.errName(code);
  }

  /** Returns rc if it is not negative, else throws a WeftException for it. */
  static int check(int rc, String detail) {
    if (rc < 0) throw new WeftException(rc, detail);
    return rc;
  }
}
