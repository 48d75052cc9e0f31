package dev.weft;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;

/**
 * One armed {@link Socket} recv or send and the memory weft uses until it
 * resolves, all direct {@link ByteBuffer}s passed by address: a direct
 * buffer's own bytes (a slice from its position, no copy), or, for a heap
 * array or buffer, a copy in the task's scratch buffer; a send's byte count
 * (a size_t) goes to the scratch buffer's first 8 bytes. The task's core
 * holds this object, and with it every buffer, from the arm until the await
 * resolves ({@link #resolve}, before the next step runs). Loop thread only.
 */
final class SocketIo implements Task.Resolver {
  private final Task.Core core;
  private final boolean recv;
  private final ByteBuffer user; // the caller's buffer (an array is wrapped)
  final ByteBuffer mem;          // where weft reads or writes
  final ByteBuffer sent;         // a send's count cell, or null

  SocketIo(Task.Core core, boolean recv, ByteBuffer user) {
    if (recv && user.isReadOnly()) throw new ReadOnlyBufferException();
    this.core = core;
    this.recv = recv;
    this.user = user;
    int n = user.remaining();
    int head = recv ? 0 : 8;
    boolean direct = user.isDirect();
    ByteBuffer s = direct && recv ? null : core.scratch(head + (direct ? 0 : n));
    sent = recv ? null : s.slice(0, 8).order(ByteOrder.nativeOrder());
    mem = direct ? user.slice() : s.slice(head, n);
    if (!recv && !direct) mem.duplicate().put(user.duplicate());
  }

  /**
   * The await resolved with status: moves received bytes into the caller's
   * buffer (or past them) and advances its position by the bytes moved; a
   * send's count goes to {@link Task#lastSent()}.
   */
  @Override
  public void resolve(long self, int status) {
    int moved = recv ? Math.max(status, 0) : (int) sent.getLong(0);
    if (recv && !user.isDirect()) user.put(mem.slice(0, moved));
    else user.position(user.position() + moved);
    if (!recv) core.lastSent = moved;
  }
}
