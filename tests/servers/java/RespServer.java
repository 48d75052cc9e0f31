import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The comparison's RESP server in Java: one thread per connection on blocking
 * {@link java.net.Socket}s, virtual threads or platform threads. It answers
 * PING, GET and SET (no options) byte for byte as redis-server 7.0 does,
 * reads multibulk and inline requests, and answers pipelined requests in
 * order. Needs Java 21 or later (virtual threads).
 *
 * <pre>java RespServer --port PORT [--host ADDR] [--threads virtual|platform]</pre>
 *
 * PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
 */
public final class RespServer {
  private static final int INLINE_MAX = 64 * 1024;        // redis PROTO_INLINE_MAX_SIZE
  private static final long BULK_MAX = 512L * 1024 * 1024; // redis proto-max-bulk-len

  /** The keyspace; keys are compared by content, hence the wrapper. */
  private final ConcurrentHashMap<Key, byte[]> store = new ConcurrentHashMap<>();

  private record Key(byte[] b) {
    @Override public boolean equals(Object o) {
      return o instanceof Key k && java.util.Arrays.equals(b, k.b);
    }
    @Override public int hashCode() { return java.util.Arrays.hashCode(b); }
  }

  /** Answered as "-ERR message", then the connection closes. */
  private static final class ProtocolError extends Exception {
    ProtocolError(String m) { super(m, null, false, false); }
  }

  /** A growable byte array for replies. */
  private static final class Out {
    byte[] b = new byte[4096];
    int n;
    void put(byte[] p) { put(p, 0, p.length); }
    void put(byte[] p, int off, int len) {
      if (n + len > b.length) b = java.util.Arrays.copyOf(b, Math.max(b.length * 2, n + len));
      System.arraycopy(p, off, b, n, len);
      n += len;
    }
    void put(int c) {
      if (n == b.length) b = java.util.Arrays.copyOf(b, b.length * 2);
      b[n++] = (byte) c;
    }
    void put(String s) { put(s.getBytes(StandardCharsets.ISO_8859_1)); }
  }

  private static final byte[] PONG = "+PONG\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] OK = "+OK\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NIL = "$-1\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CRLF = {'\r', '\n'};

  /** Reads a line without its "\r\n" (inline: "\n", an optional '\r' dropped). */
  private static byte[] readLine(InputStream in, Out line, String tooBig)
      throws IOException, ProtocolError {
    line.n = 0;
    for (;;) {
      int c = in.read();
      if (c < 0) throw new EOFException();
      if (c == '\n') break;
      if (line.n >= INLINE_MAX) throw new ProtocolError(tooBig);
      line.put(c);
    }
    int n = line.n > 0 && line.b[line.n - 1] == '\r' ? line.n - 1 : line.n;
    return java.util.Arrays.copyOf(line.b, n);
  }

  /** Parses as redis's string2ll: digits, an optional '-', no leading zeros. */
  private static long parseLong(byte[] b, int from) {
    int len = b.length - from;
    if (len <= 0 || len > 20 || (b[from] == '0' && len > 1) || b[from] == '+') return Long.MIN_VALUE;
    try {
      return Long.parseLong(new String(b, from, len, StandardCharsets.US_ASCII));
    } catch (NumberFormatException e) {
      return Long.MIN_VALUE;
    }
  }

  /** Reads one request; an empty one is an empty list. */
  private static List<byte[]> readRequest(InputStream in, Out line) throws IOException, ProtocolError {
    in.mark(1);
    int first = in.read();
    if (first < 0) throw new EOFException();
    in.reset();
    List<byte[]> args = new ArrayList<>();
    if (first != '*') {
      for (String a : new String(readLine(in, line, "Protocol error: too big inline request"),
          StandardCharsets.ISO_8859_1).trim().split("[ \t\r]+")) {
        if (!a.isEmpty()) args.add(a.getBytes(StandardCharsets.ISO_8859_1));
      }
      return args;
    }
    long count = parseLong(readLine(in, line, "Protocol error: too big mbulk count string"), 1);
    if (count == Long.MIN_VALUE || count > Integer.MAX_VALUE)
      throw new ProtocolError("Protocol error: invalid multibulk length");
    for (long i = 0; i < count; i++) {
      byte[] head = readLine(in, line, "Protocol error: too big bulk count string");
      if (head.length == 0 || head[0] != '$')
        throw new ProtocolError("Protocol error: expected '$', got '"
            + (char) (head.length == 0 ? ' ' : head[0] & 0xff) + "'");
      long size = parseLong(head, 1);
      if (size == Long.MIN_VALUE || size < 0 || size > BULK_MAX)
        throw new ProtocolError("Protocol error: invalid bulk length");
      byte[] arg = in.readNBytes((int) size);
      if (arg.length < size || in.readNBytes(2).length < 2) throw new EOFException();
      args.add(arg);
    }
    return args;
  }

  private static void error(Out out, String msg) {
    out.put("-ERR " + msg.replace('\r', ' ').replace('\n', ' ') + "\r\n");
  }

  private static void bulk(Out out, byte[] v) {
    out.put("$" + v.length + "\r\n");
    out.put(v);
    out.put(CRLF);
  }

  private static void arity(Out out, String name) {
    error(out, "wrong number of arguments for '" + name + "' command");
  }

  private void execute(Out out, List<byte[]> args) {
    String name = new String(args.get(0), StandardCharsets.ISO_8859_1);
    switch (name.toLowerCase(Locale.ROOT)) {
      case "ping" -> {
        if (args.size() == 1) out.put(PONG);
        else if (args.size() == 2) bulk(out, args.get(1));
        else arity(out, "ping");
      }
      case "get" -> {
        if (args.size() != 2) { arity(out, "get"); return; }
        byte[] v = store.get(new Key(args.get(1)));
        if (v == null) out.put(NIL);
        else bulk(out, v);
      }
      case "set" -> {
        if (args.size() < 3) arity(out, "set");
        else if (args.size() > 3) error(out, "syntax error");
        else {
          store.put(new Key(args.get(1)), args.get(2));
          out.put(OK);
        }
      }
      default -> {
        StringBuilder list = new StringBuilder();
        for (int i = 1; i < args.size() && list.length() < 128; i++) {
          String a = new String(args.get(i), StandardCharsets.ISO_8859_1);
          list.append('\'').append(a, 0, Math.min(a.length(), 128 - list.length())).append("' ");
        }
        error(out, "unknown command '" + name.substring(0, Math.min(name.length(), 128))
            + "', with args beginning with: " + list);
      }
    }
  }

  /** Serves one connection, flushing when no further request is buffered. */
  private void serve(Socket s) {
    try (s) {
      InputStream in = new BufferedInputStream(s.getInputStream(), 16384);
      OutputStream os = s.getOutputStream();
      Out out = new Out();
      Out line = new Out(); // reused for every line read
      for (;;) {
        try {
          List<byte[]> args = readRequest(in, line);
          if (!args.isEmpty()) execute(out, args);
        } catch (ProtocolError e) {
          error(out, e.getMessage());
          os.write(out.b, 0, out.n);
          return;
        }
        if (in.available() == 0 && out.n > 0) {
          os.write(out.b, 0, out.n);
          out.n = 0;
        }
      }
    } catch (IOException e) {
      // end of stream or a reset: the connection is over
    }
  }

  public static void main(String[] argv) throws IOException, InterruptedException {
    String host = "127.0.0.1";
    String threads = "virtual";
    int port = -1;
    for (int i = 0; i + 1 < argv.length; i += 2) {
      switch (argv[i]) {
        case "--port" -> port = Integer.parseInt(argv[i + 1]);
        case "--host" -> host = argv[i + 1];
        case "--threads" -> threads = argv[i + 1];
        default -> port = -1;
      }
    }
    if (port < 0 || port > 65535 || argv.length % 2 != 0
        || !(threads.equals("virtual") || threads.equals("platform"))) {
      System.err.println("usage: RespServer --port PORT [--host ADDR] [--threads virtual|platform]");
      System.exit(2);
    }
    Thread.Builder builder = threads.equals("virtual") ? Thread.ofVirtual() : Thread.ofPlatform();
    RespServer server = new RespServer();
    try (ServerSocket ss = new ServerSocket(port, 4096, InetAddress.getByName(host))) {
      System.out.println("listening on " + host + ":" + ss.getLocalPort());
      System.out.flush();
      for (;;) {
        Socket s;
        try {
          s = ss.accept();
        } catch (IOException e) { // out of fds: let connections close
          System.err.println("RespServer: accept: " + e.getMessage());
          Thread.sleep(10);
          continue;
        }
        s.setTcpNoDelay(true);
        builder.start(() -> server.serve(s));
      }
    }
  }
}
