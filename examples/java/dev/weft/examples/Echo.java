package dev.weft.examples;

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
import java.util.Arrays;

/**
 * weft-echo in Java: a TCP echo server and a client that opens many
 * connections at once, with the same arguments and output lines as the C
 * {@code weft-echo} (examples/echo), so that each drives the other.
 *
 * <pre>
 *   java -cp weft.jar:test-classes dev.weft.examples.Echo serve PORT [--host ADDR]
 *   java -cp weft.jar:test-classes dev.weft.examples.Echo client HOST PORT N [--timeout-ms T]
 * </pre>
 *
 * The server prints {@code listening on ADDR:PORT} first and serves until
 * killed, one task per connection, echoing every byte. The client opens N
 * connections at once, sends a line on each, gathers the echoes under the
 * timeout (default 2000 ms), cancels the stragglers, prints {@code echoed
 * K/N in X ms} and exits 0 only when K = N.
 */
public final class Echo {
  private Echo() {}

  /**
   * Runs {@code serve} or {@code client}; exit status 0 on success, 1 on
   * failure, 2 for bad arguments.
   *
   * @param args the command line
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  private static int run(String[] a) {
    try {
      if (a.length >= 2 && a[0].equals("serve")) {
        String host = "127.0.0.1";
        for (int i = 2; i < a.length; i++) {
          if (a[i].equals("--host") && i + 1 < a.length) host = a[++i];
          else return usage();
        }
        return serve(parse(a[1], 0, 65535), host);
      }
      if (a.length >= 4 && a[0].equals("client")) {
        int timeoutMs = 2000;
        for (int i = 4; i < a.length; i++) {
          if (a[i].equals("--timeout-ms") && i + 1 < a.length) timeoutMs = parse(a[++i], 0, 3600 * 1000);
          else return usage();
        }
        return client(a[1], parse(a[2], 1, 65535), parse(a[3], 1, 100000), timeoutMs);
      }
    } catch (NumberFormatException e) {
      // falls through to usage
    }
    return usage();
  }

  private static int parse(String s, int lo, int hi) {
    int v = Integer.parseInt(s);
    if (v < lo || v > hi) throw new NumberFormatException(s);
    return v;
  }

  private static int usage() {
    System.err.println("usage: weft-echo serve PORT [--host ADDR]\n"
        + "       weft-echo client HOST PORT N [--timeout-ms T]");
    return 2;
  }

  // ---------------------------------------------------------------- server

  private static int serve(int port, String host) {
    try (Loop loop = new Loop(); ServerSocket listener = ServerSocket.listen(loop, host, port)) {
      System.out.println("listening on " + host + ":" + listener.localPort());
      System.out.flush();
      boolean[] sleeping = {true}; // the first step only accepts
      loop.spawn((t, s) -> {
        if (sleeping[0]) {
          sleeping[0] = false;
        } else if (s >= 0) {
          loop.spawnDetached(connection(listener.accepted(s)));
        } else if (s == Weft.EMFILE || s == Weft.ENOMEM) { // out of fds: the connection stays queued
          sleeping[0] = true;
          return t.sleep(Duration.ofMillis(10));
        } else if (s != Weft.ECONNABORTED) {
          System.err.println("weft-echo: accept: " + Weft.strerror(s));
          return s;
        }
        return listener.accept(t);
      });
      loop.run();
      return 0;
    } catch (WeftException e) {
      System.err.println("weft-echo: " + e.getMessage());
      return 1;
    }
  }

  /** One connection: receive, send it back, until end of stream or an error. */
  private static Step connection(Socket c) {
    ByteBuffer buf = ByteBuffer.allocateDirect(4096);
    boolean[] sending = {false};
    return (t, s) -> {
      if (t.stepNumber() > 0 && (s < 0 || (!sending[0] && s == 0))) {
        c.close();
        return 0;
      }
      sending[0] = !sending[0] && t.stepNumber() > 0;
      if (sending[0]) return c.send(t, buf.flip());
      return c.recv(t, buf.clear());
    };
  }

  // ---------------------------------------------------------------- client

  private static int client(String host, int port, int n, int timeoutMs) {
    try (Loop loop = new Loop()) {
      Task[] tasks = new Task[n];
      long t0 = System.nanoTime();
      loop.spawn((t, s) -> {
        switch (t.stepNumber()) {
          case 0:
            for (int i = 0; i < n; i++) tasks[i] = loop.spawn(connect(loop, host, port, i));
            t.timeout(Duration.ofMillis(timeoutMs));
            return t.awaitAll(tasks);
          case 1: // cancel the stragglers, and wait until they closed their sockets
            t.timeout(Duration.ZERO);
            if (s == 0) return 0;
            for (Task c : tasks) c.cancel();
            return t.awaitAll(tasks);
          default:
            return 0;
        }
      });
      loop.run();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      int k = 0;
      int firstErr = 0;
      for (Task c : tasks) {
        int r = c.result();
        if (r == 0) k++;
        else if (firstErr == 0) firstErr = r;
      }
      System.out.println("echoed " + k + "/" + n + " in " + ms + " ms");
      if (firstErr != 0) System.err.println("weft-echo: first failure: " + Weft.errName(firstErr));
      return k == n ? 0 : 1;
    } catch (WeftException e) {
      System.err.println("weft-echo: " + e.getMessage());
      return 1;
    }
  }

  /** One connection: connect, send a line, read it back, close. Result: 0 when it matched. */
  private static Step connect(Loop loop, String host, int port, int i) {
    byte[] line = ("hello from connection " + i + "\n").getBytes(StandardCharsets.US_ASCII);
    ByteBuffer in = ByteBuffer.allocate(64);
    Socket[] c = {null};
    return (t, s) -> {
      int step = t.stepNumber();
      if (step == 0) return Socket.connect(t, host, port);
      if (s < 0) return done(c[0], s);
      if (step == 1) {
        c[0] = Socket.of(loop, s);
        return c[0].send(t, line);
      }
      if (step > 2 && s == 0) return done(c[0], Weft.ECONNRESET); // closed before the whole echo came
      if (in.position() < line.length) return c[0].recv(t, in);
      return done(c[0], Arrays.equals(in.array(), 0, line.length, line, 0, line.length) ? 0 : Weft.EINVAL);
    };
  }

  private static int done(Socket c, int result) {
    if (c != null) c.close();
    return result;
  }
}
