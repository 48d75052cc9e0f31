import dev.weft.Loop;
import dev.weft.ServerSocket;
import dev.weft.Socket;
import dev.weft.Step;
import dev.weft.Task;
import dev.weft.Weft;
import dev.weft.WeftException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;

/**
 * The comparison's RESP server on the weft Java binding: one weft task per
 * connection on one {@link Loop}, written with the binding's {@link
 * ServerSocket} and {@link Socket} awaits and {@link Step}s, on direct
 * buffers (no copy between the kernel and the parser). It answers PING, GET
 * and SET (no options) byte for byte as redis-server 7.0 does, reads
 * multibulk and inline requests, and answers pipelined requests in order,
 * the replies to one batch of input in one send. Its twin on virtual and
 * platform threads is {@code RespServer}.
 *
 * <pre>java -cp weft.jar:. WeftRespServer --port PORT [--host ADDR]</pre>
 *
 * PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
 */
public final class WeftRespServer {
  private static final int INLINE_MAX = 64 * 1024;         // redis PROTO_INLINE_MAX_SIZE
  private static final long BULK_MAX = 512L * 1024 * 1024;  // redis proto-max-bulk-len
  private static final long QUERY_MAX = 1024L * 1024 * 1024; // redis client-query-buffer-limit
  private static final int READ_CHUNK = 16384;

  /** The keyspace; one loop thread touches it. Keys compare by content. */
  private final HashMap<Key, byte[]> store = new HashMap<>();

  private record Key(byte[] b) {
    @Override public boolean equals(Object o) {
      return o instanceof Key k && Arrays.equals(b, k.b);
    }
    @Override public int hashCode() { return Arrays.hashCode(b); }
  }

  private static final byte[] PONG = ascii("+PONG\r\n");
  private static final byte[] OK = ascii("+OK\r\n");
  private static final byte[] NIL = ascii("$-1\r\n");
  private static final byte[] CRLF = ascii("\r\n");

  private static byte[] ascii(String s) { return s.getBytes(StandardCharsets.ISO_8859_1); }

  /** One connection's task: recv, answer, send, until end of stream or an error. */
  private final class Conn implements Step {
    private final Socket sock;
    private ByteBuffer in = ByteBuffer.allocateDirect(READ_CHUNK); // [0, position): unparsed input
    private ByteBuffer out = ByteBuffer.allocateDirect(READ_CHUNK);
    private final List<byte[]> args = new ArrayList<>();
    private boolean sending;
    private boolean closing;
    private String protocolError;

    Conn(Socket sock) { this.sock = sock; }

    @Override public int step(Task t, int st) {
      if (t.stepNumber() == 0) return st < 0 ? finish(st) : recvMore(t);
      if (sending) {
        sending = false;
        return st < 0 || closing ? finish(st) : recvMore(t);
      }
      if (st <= 0) return finish(st); // end of stream, an error, cancelled
      out.clear();
      int used = process();
      in.flip().position(used);
      in.compact();                    // the start of an incomplete request moves to the front
      if (out.position() == 0) return closing ? finish(0) : recvMore(t);
      sending = true;
      return armed(sock.send(t, out.flip()));
    }

    private int recvMore(Task t) {
      if (in.remaining() < READ_CHUNK) in = grow(in, in.capacity());
      return armed(sock.recv(t, in));
    }

    private int armed(int rc) { return rc == Weft.PENDING ? rc : finish(rc); }

    private int finish(int st) {
      sock.close();
      return Math.min(st, 0);
    }

    /** Answers every complete request in in[0, position); returns the bytes used. */
    private int process() {
      int end = in.position();
      int pos = 0;
      while (pos < end) {
        args.clear();
        protocolError = null;
        int used = in.get(pos) == '*' ? multibulk(pos, end) : inline(pos, end);
        if (protocolError != null) {
          error(protocolError);
          closing = true;
          return pos;
        }
        if (used == 0) {
          closing = end - pos > QUERY_MAX;
          return pos;
        }
        if (!args.isEmpty()) execute();
        pos += used;
      }
      return pos;
    }

    private int indexOf(int from, int end, byte b) {
      for (int i = from; i < end; i++) if (in.get(i) == b) return i;
      return -1;
    }

    private byte[] bytes(int from, int to) {
      byte[] b = new byte[to - from];
      in.get(from, b);
      return b;
    }

    private int inline(int pos, int end) {
      int nl = indexOf(pos, end, (byte) '\n');
      if (nl < 0) {
        if (end - pos > INLINE_MAX) protocolError = "Protocol error: too big inline request";
        return 0;
      }
      for (int i = pos; i < nl; ) {
        while (i < nl && isSpace(in.get(i))) i++;
        int start = i;
        while (i < nl && !isSpace(in.get(i))) i++;
        if (i > start) args.add(bytes(start, i));
      }
      return nl + 1 - pos;
    }

    private static boolean isSpace(byte c) { return c == ' ' || c == '\t' || c == '\r'; }

    private int multibulk(int start, int end) {
      int cr = indexOf(start, end, (byte) '\r');
      if (cr < 0 || cr + 2 > end) {
        if (end - start > INLINE_MAX) protocolError = "Protocol error: too big mbulk count string";
        return 0;
      }
      long count = parseLong(start + 1, cr);
      if (count == Long.MIN_VALUE || count > Integer.MAX_VALUE) {
        protocolError = "Protocol error: invalid multibulk length";
        return 0;
      }
      int pos = cr + 2;
      for (long i = 0; i < count; i++) {
        cr = indexOf(pos, end, (byte) '\r');
        if (cr < 0 || cr + 2 > end) {
          if (end - pos > INLINE_MAX) protocolError = "Protocol error: too big bulk count string";
          return 0;
        }
        if (in.get(pos) != '$') {
          protocolError = "Protocol error: expected '$', got '" + (char) (in.get(pos) & 0xff) + "'";
          return 0;
        }
        long size = parseLong(pos + 1, cr);
        if (size == Long.MIN_VALUE || size < 0 || size > BULK_MAX) {
          protocolError = "Protocol error: invalid bulk length";
          return 0;
        }
        pos = cr + 2;
        if (end - pos < size + 2) return 0;
        args.add(bytes(pos, pos + (int) size));
        pos += (int) size + 2;
      }
      return pos - start;
    }

    /** in[from, to) as redis's string2ll: digits, an optional '-', no leading zeros. */
    private long parseLong(int from, int to) {
      int len = to - from;
      if (len <= 0 || len > 20) return Long.MIN_VALUE;
      int i = from;
      boolean neg = in.get(i) == '-';
      if (neg && ++i == to) return Long.MIN_VALUE;
      if (in.get(i) == '0' && to - i > 1) return Long.MIN_VALUE;
      long v = 0;
      for (; i < to; i++) {
        int d = in.get(i) - '0';
        if (d < 0 || d > 9) return Long.MIN_VALUE;
        if (v > (Long.MAX_VALUE - d) / 10) return Long.MIN_VALUE; // overflow
        v = v * 10 + d;
      }
      return neg ? -v : v;
    }

    private void put(byte[] b) {
      if (out.remaining() < b.length) out = grow(out, b.length);
      out.put(b);
    }

    private void error(String msg) {
      put(ascii("-ERR " + msg.replace('\r', ' ').replace('\n', ' ') + "\r\n"));
    }

    private void bulk(byte[] v) {
      put(ascii("$" + v.length + "\r\n"));
      put(v);
      put(CRLF);
    }

    private void arity(String name) {
      error("wrong number of arguments for '" + name + "' command");
    }

    private void execute() {
      String name = new String(args.get(0), StandardCharsets.ISO_8859_1);
      int n = args.size();
      if (name.equalsIgnoreCase("get")) {
        if (n != 2) {
          arity("get");
          return;
        }
        byte[] v = store.get(new Key(args.get(1)));
        if (v == null) put(NIL);
        else bulk(v);
      } else if (name.equalsIgnoreCase("set")) {
        if (n < 3) arity("set");
        else if (n > 3) error("syntax error");
        else {
          store.put(new Key(args.get(1)), args.get(2));
          put(OK);
        }
      } else if (name.equalsIgnoreCase("ping")) {
        if (n == 1) put(PONG);
        else if (n == 2) bulk(args.get(1));
        else arity("ping");
      } else {
        StringBuilder list = new StringBuilder();
        for (int i = 1; i < n && list.length() < 128; i++) {
          String a = new String(args.get(i), StandardCharsets.ISO_8859_1);
          list.append('\'').append(a, 0, Math.min(a.length(), 128 - list.length())).append("' ");
        }
        error("unknown command '" + name.substring(0, Math.min(name.length(), 128))
            + "', with args beginning with: " + list);
      }
    }
  }

  /** A direct buffer with at least {@code extra} more bytes of room, holding b's [0, position). */
  private static ByteBuffer grow(ByteBuffer b, int extra) {
    ByteBuffer g = ByteBuffer.allocateDirect(Math.max(b.capacity() * 2, b.position() + extra));
    g.put(b.flip());
    return g;
  }

  private int serve(String host, int port) {
    try (Loop loop = new Loop(); ServerSocket listener = ServerSocket.listen(loop, host, port)) {
      System.out.println("listening on " + host + ":" + listener.localPort());
      System.out.flush();
      boolean[] sleeping = {true}; // the first step only accepts
      loop.spawn((t, s) -> {
        if (sleeping[0]) {
          sleeping[0] = false;
        } else if (s >= 0) {
          Socket c = listener.accepted(s);
          try {
            loop.spawnDetached(new Conn(c));
          } catch (WeftException e) {
            c.close();
          }
        } else if (s == Weft.EMFILE || s == Weft.ENOMEM) { // the connection stays queued
          sleeping[0] = true;
          return t.sleep(Duration.ofMillis(10));
        } else if (s != Weft.ECONNABORTED) {
          System.err.println("WeftRespServer: accept: " + Weft.strerror(s));
          return s;
        }
        return listener.accept(t);
      });
      loop.run();
      return 0;
    } catch (WeftException e) {
      System.err.println("WeftRespServer: " + e.getMessage());
      return 1;
    }
  }

  public static void main(String[] argv) {
    String host = "127.0.0.1";
    int port = -1;
    for (int i = 0; i + 1 < argv.length; i += 2) {
      switch (argv[i]) {
        case "--port" -> port = Integer.parseInt(argv[i + 1]);
        case "--host" -> host = argv[i + 1];
        default -> port = -1;
      }
    }
    if (port < 0 || port > 65535 || argv.length % 2 != 0) {
      System.err.println("usage: WeftRespServer --port PORT [--host ADDR]");
      System.exit(2);
    }
    System.exit(new WeftRespServer().serve(host, port));
  }
}
