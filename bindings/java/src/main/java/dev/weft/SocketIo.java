package dev.weft;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;

/**
 * One armed {@link Socket} recv or send and the memory weft uses until it
 * resolves. A direct {@link ByteBuffer} is passed by address (no copy) and
 * this object keeps it strongly reachable; a heap array or buffer is copied
 * into a native block (calloc) owned by this object. The task's core holds
 * the object from the arm until the await resolves ({@link #resolve}, before
 * the next step runs) or the step finishes the task ({@link #release}).
 * Loop thread only.
 */
final class SocketIo {
  private final boolean recv;
  private final ByteBuffer buf;  // the caller's buffer, or null
  private final byte[] array;    // the caller's array, or null
  private final int off;
  private final int len;
  private long mem;              // native block: [size_t sent][heap bytes], or 0
  private long address;          // where weft reads or writes

  private SocketIo(boolean recv, ByteBuffer buf, byte[] array, int off, int len) {
    this.recv = recv;
    this.buf = buf;
    this.array = array;
    this.off = off;
    this.len = len;
  }

  static SocketIo of(boolean recv, ByteBuffer b) {
    if (recv && b.isReadOnly()) throw new ReadOnlyBufferException();
    return new SocketIo(recv, b, null, 0, b.remaining());
  }

  static SocketIo of(boolean recv, byte[] a, int off, int len) {
    java.util.Objects.checkFromIndexSize(off, len, a.length);
    return new SocketIo(recv, null, a, off, len);
  }

  int length() {
    return len;
  }

  /** Allocates what the await needs; false when out of native memory. */
  boolean prepare() {
    long direct = buf != null && buf.isDirect() ? WeftNativeJNI.directAddress(buf) : 0;
    long head = recv ? 0 : 8; // a send's size_t count first
    long size = head + (direct != 0 ? 0 : len);
    if (size > 0) {
      mem = WeftNativeJNI.ioAlloc(size);
      if (mem == 0) return false;
    }
    if (direct != 0) {
      address = direct + buf.position();
    } else {
      address = mem + head;
      if (!recv) {
        if (array != null) {
          WeftNativeJNI.ioPut(address, array, off, len);
        } else {
          byte[] tmp = new byte[len];
          buf.duplicate().get(tmp);
          WeftNativeJNI.ioPut(address, tmp, 0, len);
        }
      }
    }
    return true;
  }

  long address() {
    return address;
  }

  /** The send's count cell. */
  long sentAddress() {
    return mem;
  }

  /**
   * The await resolved with status: copies received bytes out, advances a
   * buffer's position, frees the native block. Returns the bytes a send
   * moved (0 for a recv).
   */
  long resolve(int status) {
    long sent = 0;
    try {
      if (recv) {
        if (status > 0) {
          if (array != null) {
            WeftNativeJNI.ioGet(address, array, off, status);
          } else if (address == mem) {
            byte[] tmp = new byte[status];
            WeftNativeJNI.ioGet(address, tmp, 0, status);
            buf.put(tmp);
          } else {
            buf.position(buf.position() + status);
          }
        }
      } else {
        sent = WeftNativeJNI.ioLoadSize(mem);
        if (buf != null) buf.position(buf.position() + (int) sent);
      }
    } finally {
      release();
    }
    return sent;
  }

  /** Frees the native block (the await is over or was never armed). */
  void release() {
    long m = mem;
    mem = 0;
    WeftNativeJNI.ioFree(m);
  }
}
