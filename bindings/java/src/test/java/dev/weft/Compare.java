package dev.weft;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * weft tasks versus Java threads on the same workloads, from Java.
 *
 * <pre>
 *   java -cp &lt;classes&gt;:&lt;test-classes&gt; dev.weft.Compare [--quick] [--inprocess]
 *        [--models weft,platform,virtual] [--workloads fanout,switch,pingpong]
 * </pre>
 *
 * (or {@code ninja -C <build> compare-java}). Compiled for Java 17; virtual
 * threads are found by reflection, so they appear when the JVM running this is
 * 21 or newer. Every (workload, model, N) runs in a fresh child JVM so that
 * memory figures do not inherit an earlier run's heap; --quick runs small N in
 * this JVM (the ctest java.compare_quick).
 *
 * <p>Workloads: (1) fan-out sleep: N waiters park on a gate, then each sleeps
 * 100 ms; creation time, memory per parked waiter (RSS and heap growth over
 * N) and the wall time of the sleep phase (about 100 ms when concurrent).
 * (2) switch: N parties take turns R rounds (weft: tasks resumed round-robin
 * by await_yield; threads: a token ring with park/unpark); ns per switch.
 * Below it, the hand-off rows: two parties pass a value back and forth, each
 * way through a rendezvous (weft: two tasks and two {@link Queue}s of
 * capacity 1; threads: two platform, or two virtual, threads and two
 * {@link SynchronousQueue}s); ns per hand-off.
 * (3) socket ping-pong: N AF_UNIX stream socket pairs, K round trips of one
 * byte on each, all at once (weft: non-blocking socketpairs and fd awaits;
 * threads: blocking NIO UNIX-domain SocketChannels, one thread per end).
 *
 * <p>Limits: platform threads are capped at 10,000 at once (the machine allows
 * about 32,000 threads and processes in all); socket pairs at what the
 * open-file limit allows (2 fds each).
 */
public final class Compare {
  static final int THREAD_CAP = 10_000;
  static final Duration SLEEP = Duration.ofMillis(100);

  private Compare() {}

  // ------------------------------------------------------------ options

  static boolean quick;
  static boolean inProcess;
  static List<String> models = List.of("weft", "platform", "virtual");
  static List<String> workloads = List.of("fanout", "switch", "pingpong");

  public static void main(String[] args) throws Exception {
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick": quick = true; inProcess = true; break;
        case "--inprocess": inProcess = true; break;
        case "--models": models = List.of(args[++i].split(",")); break;
        case "--workloads": workloads = List.of(args[++i].split(",")); break;
        case "--child":
          Map<String, Double> r = runOne(args[i + 1], args[i + 2], Integer.parseInt(args[i + 3]), true);
          StringBuilder sb = new StringBuilder("RESULT");
          for (Map.Entry<String, Double> e : r.entrySet()) sb.append(' ').append(e.getKey()).append('=').append(e.getValue());
          System.out.println(sb);
          return;
        default:
          System.err.println("usage: Compare [--quick] [--inprocess] [--models weft,platform,virtual] "
              + "[--workloads fanout,switch,pingpong]");
          System.exit(2);
      }
    }
    header();
    for (String w : workloads) table(w);
  }

  static void header() {
    int fdLimit = fdLimit();
    System.out.printf(Locale.ROOT, "weft %s from Java %s (%s), %d CPUs%s%n", Weft.versionString(),
        System.getProperty("java.version"), System.getProperty("java.vm.name"),
        Runtime.getRuntime().availableProcessors(), quick ? "  [quick mode: small N, one JVM]" : "");
    System.out.printf(Locale.ROOT,
        "limits: platform threads capped at %,d; open files %,d -> at most %,d socket pairs; virtual threads %s%n",
        THREAD_CAP, fdLimit, maxPairs(), virtualFactory() != null ? "available" : "need JDK 21+ (skipped)");
    int calls = quick ? 200_000 : 2_000_000;
    Runnable noop = () -> {};
    for (int i = 0; i < 3; i++) {
      TestNative.crossingNanos(calls); // JIT warm-up
      TestNative.benchUpcallFloor(noop, calls);
    }
    double best = Double.MAX_VALUE;
    double floor = Double.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      best = Math.min(best, TestNative.crossingNanos(calls));
      floor = Math.min(floor, (double) TestNative.benchUpcallFloor(noop, calls) / calls);
    }
    System.out.printf(Locale.ROOT,
        "C->Java callback crossing: %.1f ns per callback (best of 5 x %,d trampoline-shaped calls into a no-op%n"
            + "  Java method, as the loop makes them; TestNative.benchCrossing). Of that, the JVM's bare JNI upcall%n"
            + "  (CallVoidMethod, env at hand, no exception check) is %.1f ns; the rest is the trampoline's%n"
            + "  JNIEnv lookup (thread-local) and ExceptionCheck.%n%n", best, calls, floor);
  }

  static int[] sizes(String workload, String model) {
    if (workload.equals("pingpong")) {
      int cap = maxPairs();
      int[] s = quick ? new int[] {100, 1_000} : new int[] {1_000, Math.min(10_000, cap)};
      return s;
    }
    if (workload.equals("switch")) return quick ? new int[] {2, 100, 1_000} : new int[] {2, 1_000, 10_000, 100_000};
    return quick ? new int[] {100, 1_000} : new int[] {1_000, 10_000, 100_000};
  }

  /** Why (workload, model, n) is not run, or the capped n, as {reason, n}. */
  static Object[] plan(String workload, String model, int n) {
    if (model.equals("virtual") && virtualFactory() == null) return new Object[] {"needs JDK 21+", n};
    if (model.equals("platform")) {
      int threads = workload.equals("pingpong") ? 2 * n : n;
      if (threads > THREAD_CAP) {
        if (workload.equals("pingpong")) return new Object[] {null, THREAD_CAP / 2};
        return new Object[] {"over the " + String.format(Locale.ROOT, "%,d", THREAD_CAP) + "-thread cap", n};
      }
    }
    return new Object[] {null, n};
  }

  static void table(String workload) throws Exception {
    switch (workload) {
      case "fanout":
        System.out.println("1. fan-out sleep: N waiters park on a gate, then each sleeps 100 ms");
        System.out.printf("%-10s %9s %13s %13s %13s %12s%n", "model", "N", "create/waiter", "RSS/waiter", "heap/waiter",
            "sleep wall");
        break;
      case "switch":
        System.out.println("2. switch: N parties take turns (weft: await_yield round-robin; threads: park/unpark token ring)");
        System.out.printf("%-10s %9s %13s %13s %12s%n", "model", "N", "switch", "create/party", "switches");
        break;
      case "pingpong":
        System.out.println("3. socket ping-pong: N AF_UNIX socket pairs, one-byte round trips on all at once");
        System.out.printf("%-10s %9s %13s %14s %12s%n", "model", "N pairs", "wall/trip", "round trips/s", "wall");
        break;
      default:
        throw new IllegalArgumentException(workload);
    }
    for (String model : models) {
      for (int size : sizes(workload, model)) {
        Object[] p = plan(workload, model, size);
        int n = (Integer) p[1];
        String label = n == size ? String.format(Locale.ROOT, "%,d", n) : String.format(Locale.ROOT, "%,d*", n);
        if (p[0] != null) {
          System.out.printf("%-10s %9s   skipped: %s%n", model, label, p[0]);
          continue;
        }
        Map<String, Double> r;
        try {
          r = inProcess ? runOne(workload, model, n, false) : fork(workload, model, n);
        } catch (Exception | OutOfMemoryError e) {
          System.out.printf("%-10s %9s   failed: %s%n", model, label, e);
          continue;
        }
        print(workload, model, label, r);
      }
    }
    if (workload.equals("switch")) handoffRows();
    if (workload.equals("pingpong") && models.contains("platform"))
      System.out.printf("  * platform threads: capped at %,d pairs (two threads per pair, %,d threads)%n", THREAD_CAP / 2,
          THREAD_CAP);
    System.out.println();
  }

  static void print(String workload, String model, String n, Map<String, Double> r) {
    switch (workload) {
      case "fanout":
        System.out.printf(Locale.ROOT, "%-10s %9s %10.2f us %10.2f KB %11.0f B %9.1f ms%n", model, n, r.get("create_us"),
            r.get("rss_kb"), r.get("heap_b"), r.get("wall_ms"));
        break;
      case "switch":
        System.out.printf(Locale.ROOT, "%-10s %9s %10.0f ns %10.2f us %,12.0f%n", model, n, r.get("switch_ns"),
            r.get("create_us"), r.get("switches"));
        break;
      default:
        System.out.printf(Locale.ROOT, "%-10s %9s %10.2f us %,14.0f %9.1f ms%n", model, n, r.get("trip_us"),
            r.get("rtt_per_s"), r.get("wall_ms"));
    }
  }

  /** Runs one measurement in a child JVM (same java, same class path). */
  static Map<String, Double> fork(String workload, String model, int n) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    // A fixed heap: G1 then never gives pages back, so RSS deltas are not
    // blurred by the heap shrinking between the two samples.
    List<String> cmd = new ArrayList<>(List.of(java, "-Xms2g", "-Xmx2g", "--enable-native-access=ALL-UNNAMED", "-cp",
        System.getProperty("java.class.path")));
    String lib = System.getProperty("weft.library.path");
    if (lib != null) cmd.add("-Dweft.library.path=" + lib);
    cmd.addAll(List.of(Compare.class.getName(), "--child", workload, model, Integer.toString(n)));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    Map<String, Double> r = null;
    StringBuilder other = new StringBuilder();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith("RESULT")) {
          r = new LinkedHashMap<>();
          for (String kv : line.substring(6).trim().split(" ")) {
            String[] a = kv.split("=");
            r.put(a[0], Double.parseDouble(a[1]));
          }
        } else {
          other.append(line).append('\n');
        }
      }
    }
    int rc = p.waitFor();
    if (rc != 0 || r == null) throw new IllegalStateException("child exit " + rc + ": " + other.toString().trim());
    return r;
  }

  static Map<String, Double> runOne(String workload, String model, int n, boolean warmUp) throws Exception {
    if (warmUp) {
      one(workload, model, Math.min(n, 500)); // JIT warm-up in the child
      memory();
      Thread.sleep(1000); // let the JVM and malloc hand back what the warm-up freed
    }
    return one(workload, model, n);
  }

  static Map<String, Double> one(String workload, String model, int n) throws Exception {
    ThreadFactory tf = model.equals("platform") ? Thread::new : model.equals("virtual") ? virtualFactory() : null;
    switch (workload) {
      case "fanout": return tf == null ? weftFanout(n) : threadFanout(n, tf);
      case "switch": return tf == null ? weftSwitch(n) : threadSwitch(n, tf, model.equals("platform"));
      case "pingpong": return tf == null ? weftPingPong(n) : threadPingPong(n, tf);
      case "handoff": return tf == null ? weftHandoff(n) : threadHandoff(n, tf);
      default: throw new IllegalArgumentException(workload);
    }
  }

  // ------------------------------------------------------------ memory

  /** {RSS bytes, heap bytes used after a full GC}. */
  static long[] memory() {
    System.gc();
    System.gc();
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    return new long[] {rss(), heap};
  }

  static long rss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    } catch (IOException e) {
      // not Linux
    }
    return 0;
  }

  static int fdLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) return Integer.parseInt(line.split("\\s+")[3]);
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return 1024;
  }

  /** Socket pairs that fit: 2 fds each, 300 fds left for the JVM and the loop. */
  static int maxPairs() {
    return Math.max(0, (fdLimit() - 300) / 2) / 1000 * 1000;
  }

  private static ThreadFactory virtual;
  private static boolean virtualProbed;

  /** Thread.ofVirtual().factory() on JDK 21+, by reflection; null before. */
  static synchronized ThreadFactory virtualFactory() {
    if (!virtualProbed) {
      virtualProbed = true;
      try {
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        virtual = (ThreadFactory) Class.forName("java.lang.Thread$Builder").getMethod("factory").invoke(builder);
      } catch (ReflectiveOperationException e) {
        virtual = null;
      }
    }
    return virtual;
  }

  static Map<String, Double> result(Object... kv) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], ((Number) kv[i + 1]).doubleValue());
    return m;
  }

  // ------------------------------------------------------ 1. fan-out sleep

  static Map<String, Double> weftFanout(int n) {
    try (Loop loop = new Loop(); SocketPair gate = SocketPair.open()) {
      int[] done = {0};
      Step step = (t, s) -> {
        switch (t.stepNumber()) {
          case 0: return t.readable(gate.fd0()); // park on the gate
          case 1: return t.sleep(SLEEP);
          default: done[0]++; return 0;
        }
      };
      long[] m0 = memory();
      long[] create = {0};
      loop.post(() -> {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) loop.spawnDetached(step);
        create[0] = System.nanoTime() - t0;
      });
      while (loop.stats().tasksReady() > 0 || loop.stats().posts() == 0) loop.runNoWait();
      long[] m1 = memory();
      long t0 = System.nanoTime();
      Fds.write(gate.fd1(), new byte[] {1});
      loop.run();
      long wall = System.nanoTime() - t0;
      if (done[0] != n) throw new IllegalStateException("done " + done[0] + " of " + n);
      return result("create_us", create[0] / 1e3 / n, "rss_kb", (m1[0] - m0[0]) / 1024.0 / n, "heap_b",
          (double) (m1[1] - m0[1]) / n, "wall_ms", wall / 1e6);
    }
  }

  static Map<String, Double> threadFanout(int n, ThreadFactory tf) throws InterruptedException {
    CountDownLatch gate = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(n);
    AtomicInteger parked = new AtomicInteger();
    Runnable waiter = () -> {
      try {
        parked.incrementAndGet();
        gate.await();
        Thread.sleep(SLEEP.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      done.countDown();
    };
    long[] m0 = memory();
    Thread[] ts = new Thread[n];
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      ts[i] = tf.newThread(waiter);
      ts[i].start();
    }
    long create = System.nanoTime() - t0;
    while (parked.get() < n) Thread.sleep(1);
    Thread.sleep(20); // let the last ones reach the latch
    long[] m1 = memory();
    t0 = System.nanoTime();
    gate.countDown();
    done.await();
    long wall = System.nanoTime() - t0;
    for (Thread t : ts) t.join();
    return result("create_us", create / 1e3 / n, "rss_kb", (m1[0] - m0[0]) / 1024.0 / n, "heap_b",
        (double) (m1[1] - m0[1]) / n, "wall_ms", wall / 1e6);
  }

  // ------------------------------------------------------------ 2. switch

  static long switchesFor(int n, boolean slow) {
    long total = quick ? 200_000 : (slow ? 400_000 : 4_000_000);
    return Math.max(n, total / n * n);
  }

  static Map<String, Double> weftSwitch(int n) {
    long switches = switchesFor(n, false);
    final int steps = (int) (switches / n); // steps per task, each one switch to it
    try (Loop loop = new Loop()) {
      Step step = (t, s) -> t.stepNumber() + 1 < steps ? t.yieldNow() : 0;
      long[] create = {0};
      long t0 = System.nanoTime();
      loop.post(() -> {
        long c0 = System.nanoTime();
        for (int i = 0; i < n; i++) loop.spawnDetached(step);
        create[0] = System.nanoTime() - c0;
      });
      loop.run();
      long wall = System.nanoTime() - t0 - create[0];
      return result("switch_ns", (double) wall / ((long) steps * n), "create_us", create[0] / 1e3 / n, "switches",
          (double) steps * n);
    }
  }

  static volatile int token;

  static Map<String, Double> threadSwitch(int n, ThreadFactory tf, boolean platform) throws InterruptedException {
    long switches = switchesFor(n, platform);
    final int rounds = (int) (switches / n);
    Thread[] ts = new Thread[n];
    CountDownLatch ready = new CountDownLatch(n);
    token = -1;
    long c0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      final int me = i;
      ts[i] = tf.newThread(() -> {
        ready.countDown();
        for (int r = 0; r < rounds; r++) {
          while (token != me) LockSupport.park();
          int next = me + 1 == n ? 0 : me + 1;
          token = next;
          LockSupport.unpark(ts[next]);
        }
      });
    }
    for (Thread t : ts) t.start();
    long create = System.nanoTime() - c0;
    ready.await();
    long t0 = System.nanoTime();
    token = 0;
    LockSupport.unpark(ts[0]);
    for (Thread t : ts) t.join();
    long wall = System.nanoTime() - t0;
    return result("switch_ns", (double) wall / ((long) rounds * n), "create_us", create / 1e3 / n, "switches",
        (double) rounds * n);
  }

  // ------------------------------------------------- 2b. hand-off rows

  /** Hand-offs per run: each is one value passed through one rendezvous. */
  static int handoffs() {
    return quick ? 20_000 : 400_000;
  }

  /** The hand-off rows of the switch table, one per model, printed like its rows. */
  static void handoffRows() throws Exception {
    System.out.println("   hand-off: two parties pass a value back and forth (weft: two tasks, a Queue of capacity 1");
    System.out.println("   each way; threads: two threads, a java.util.concurrent.SynchronousQueue each way)");
    int n = handoffs();
    for (String model : models) {
      String what = model.equals("weft") ? "Queue(1)" : "SyncQueue";
      if (model.equals("virtual") && virtualFactory() == null) {
        System.out.printf("%-10s %9s   skipped: needs JDK 21+%n", model, what);
        continue;
      }
      Map<String, Double> r;
      try {
        if (inProcess) one("handoff", model, n / 10); // JIT warm-up (a forked child warms up itself)
        r = inProcess ? runOne("handoff", model, n, false) : fork("handoff", model, n);
      } catch (Exception | OutOfMemoryError e) {
        System.out.printf("%-10s %9s   failed: %s%n", model, what, e);
        continue;
      }
      System.out.printf(Locale.ROOT, "%-10s %9s %10.0f ns %13s %,12.0f  (per hand-off)%n", model, what,
          r.get("handoff_ns"), "-", r.get("handoffs"));
    }
  }

  /**
   * Task A puts 1..m into {@code ping} and gets each back from {@code pong};
   * task B gets from {@code ping} and puts into {@code pong}: 2m hand-offs,
   * each through a queue of capacity 1 that the other task waits on.
   */
  static Map<String, Double> weftHandoff(int handoffs) {
    final int m = handoffs / 2;
    try (Loop loop = new Loop(); Queue<Integer> ping = new Queue<>(loop, 1); Queue<Integer> pong = new Queue<>(loop, 1)) {
      int[] back = {0};
      Task a = loop.spawn((t, s) -> {
        if (s < 0) return s;
        int k = t.stepNumber();
        if (k % 2 == 1) return pong.get(t);
        if (k > 0 && pong.received(t) == k / 2) back[0]++;
        return k / 2 == m ? 0 : ping.put(t, k / 2 + 1);
      });
      Task b = loop.spawn((t, s) -> {
        if (s < 0) return s;
        int k = t.stepNumber();
        if (k % 2 == 1) return pong.put(t, ping.received(t));
        return k / 2 == m ? 0 : ping.get(t);
      });
      long t0 = System.nanoTime();
      loop.run();
      long wall = System.nanoTime() - t0;
      if (a.result() != 0 || b.result() != 0 || back[0] != m)
        throw new IllegalStateException("hand-off: " + back[0] + " of " + m + " values came back");
      a.close();
      b.close();
      return result("handoff_ns", (double) wall / (2L * m), "handoffs", 2.0 * m);
    }
  }

  /** The same with two threads and two SynchronousQueues. */
  static Map<String, Double> threadHandoff(int handoffs, ThreadFactory tf) throws InterruptedException {
    final int m = handoffs / 2;
    SynchronousQueue<Integer> ping = new SynchronousQueue<>();
    SynchronousQueue<Integer> pong = new SynchronousQueue<>();
    CountDownLatch ready = new CountDownLatch(2);
    CountDownLatch go = new CountDownLatch(1);
    int[] back = {0};
    Thread a = tf.newThread(() -> {
      try {
        ready.countDown();
        go.await();
        for (int i = 1; i <= m; i++) {
          ping.put(i);
          if (pong.take() == i) back[0]++;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    Thread b = tf.newThread(() -> {
      try {
        ready.countDown();
        go.await();
        for (int i = 1; i <= m; i++) pong.put(ping.take());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    a.start();
    b.start();
    ready.await();
    long t0 = System.nanoTime();
    go.countDown();
    a.join();
    b.join();
    long wall = System.nanoTime() - t0;
    if (back[0] != m) throw new IllegalStateException("hand-off: " + back[0] + " of " + m + " values came back");
    return result("handoff_ns", (double) wall / (2L * m), "handoffs", 2.0 * m);
  }

  // ------------------------------------------------------- 3. ping-pong

  static int roundTrips() {
    return quick ? 3 : 10;
  }

  static Map<String, Double> weftPingPong(int n) {
    final int k = roundTrips();
    int[][] pairs = new int[n][];
    try (Loop loop = new Loop()) {
      for (int i = 0; i < n; i++) pairs[i] = Fds.socketPair(true);
      byte[] one = {42};
      byte[] buf = new byte[16];
      int[] finished = {0};
      loop.post(() -> {
        for (int[] p : pairs) {
          final int c = p[0];
          final int s = p[1];
          loop.spawnDetached((t, st) -> { // client: send, await the echo, K times
            int step = t.stepNumber();
            if (step > 0 && Fds.read(c, buf) != 1) throw new IllegalStateException("client read");
            if (step == k) {
              finished[0]++;
              return 0;
            }
            if (Fds.write(c, one) != 1) throw new IllegalStateException("client write");
            return t.readable(c);
          });
          loop.spawnDetached((t, st) -> { // server: await, echo, K times
            int step = t.stepNumber();
            if (step > 0) {
              if (Fds.read(s, buf) != 1) throw new IllegalStateException("server read");
              if (Fds.write(s, one) != 1) throw new IllegalStateException("server write");
              if (step == k) return 0;
            }
            return t.readable(s);
          });
        }
      });
      loop.runNoWait(); // spawn; first steps: clients wrote, servers wait
      long t0 = System.nanoTime();
      loop.run();
      long wall = System.nanoTime() - t0;
      if (finished[0] != n) throw new IllegalStateException("finished " + finished[0]);
      long trips = (long) n * k;
      return result("trip_us", wall / 1e3 / trips, "rtt_per_s", trips / (wall / 1e9), "wall_ms", wall / 1e6);
    } finally {
      for (int[] p : pairs) {
        if (p == null) continue;
        Fds.close(p[0]);
        Fds.close(p[1]);
      }
    }
  }

  static Map<String, Double> threadPingPong(int n, ThreadFactory tf) throws Exception {
    final int k = roundTrips();
    Path dir = Files.createTempDirectory("weft-cmp");
    Path sock = dir.resolve("s");
    List<SocketChannel> channels = new ArrayList<>();
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock), 128);
      SocketChannel[][] pairs = new SocketChannel[n][2];
      for (int i = 0; i < n; i++) {
        pairs[i][0] = SocketChannel.open(UnixDomainSocketAddress.of(sock));
        pairs[i][1] = server.accept();
        channels.add(pairs[i][0]);
        channels.add(pairs[i][1]);
      }
      CountDownLatch gate = new CountDownLatch(1);
      CountDownLatch ready = new CountDownLatch(2 * n);
      Thread[] ts = new Thread[2 * n];
      AtomicInteger errors = new AtomicInteger();
      for (int i = 0; i < n; i++) {
        SocketChannel c = pairs[i][0];
        SocketChannel s = pairs[i][1];
        ts[2 * i] = tf.newThread(() -> {
          ByteBuffer b = ByteBuffer.allocate(1);
          try {
            ready.countDown();
            gate.await();
            for (int r = 0; r < k; r++) {
              b.clear().put((byte) 42).flip();
              c.write(b);
              b.clear();
              if (c.read(b) != 1) throw new IOException("client read");
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        });
        ts[2 * i + 1] = tf.newThread(() -> {
          ByteBuffer b = ByteBuffer.allocate(1);
          try {
            ready.countDown();
            for (int r = 0; r < k; r++) {
              b.clear();
              if (s.read(b) != 1) throw new IOException("server read");
              b.flip();
              s.write(b);
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          }
        });
      }
      for (Thread t : ts) t.start();
      ready.await();
      long t0 = System.nanoTime();
      gate.countDown();
      for (Thread t : ts) t.join();
      long wall = System.nanoTime() - t0;
      if (errors.get() != 0) throw new IllegalStateException(errors.get() + " I/O errors");
      long trips = (long) n * k;
      return result("trip_us", wall / 1e3 / trips, "rtt_per_s", trips / (wall / 1e9), "wall_ms", wall / 1e6);
    } finally {
      for (SocketChannel ch : channels) ch.close();
      Files.deleteIfExists(sock);
      Files.deleteIfExists(dir);
    }
  }

}
