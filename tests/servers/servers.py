#!/usr/bin/env python3
"""The comparison's server section: RESP servers, one per concurrency model,
judged by redis-benchmark, with redis-server 7.0 as the reference.

  servers.py bench --config BUILD/tests/servers/servers.json [--requests N]
                   [--clients 50,1000] [--models a,b] [--json FILE]
  servers.py check --config ... --model NAME    (ctest: exact replies,
                   redis-cli, a tiny redis-benchmark run)
  servers.py list  --config ...                 (the models and whether built)

Each (model, clients) cell, in each of --rounds rounds (the models alternate
within a round; figures are medians over rounds), starts a fresh server process on 127.0.0.1 with a
free port, waits for its "listening on ADDR:PORT" line (redis-server: its
"Ready to accept connections" log line), warms it up, then runs
`redis-benchmark -t T -c C -n N --csv` once per test T in ping, set, get and
stops the server. Figures per cell and test:
  requests_per_s       redis-benchmark's rps
  cpu_per_request      server CPU (utime + stime of the whole process, before
                       and after, read through its CPU-time clock: /proc/PID/stat's
                       sum at ns resolution) / requests, in us
  rss_per_connection   (peak RSS during the cell, VmHWM reset through
                       /proc/PID/clear_refs after the warm-up, minus the RSS
                       after the warm-up) / C, in bytes
"""
import argparse
import json
import os
import platform
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TESTS = ["ping", "set", "get"]  # -t ping runs PING_INLINE and PING_MBULK
TICK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0
CHECK_CONNS = 1000  # check: one redis-benchmark run with this many connections


# ------------------------------------------------------------------ models

def models(cfg):
    """[(name, language, title, argv or None, why not)] in table order."""
    build = cfg["build_dir"]
    java = cfg.get("java")
    lua = cfg.get("lua")
    kv = os.path.join(build, "examples", "kv", "weft-kv")
    go_weft = cfg.get("go_weft")
    jar = cfg.get("java_weft_jar")
    cpath = cfg.get("lua_weft_cpath")
    lua_weft = cpath and cfg.get("lua_bin") and os.path.exists(cpath.replace("?", "weft/core"))
    out = [
        ("redis-server", "c", "redis-server 7.0 (the reference)",
         ["redis-server"] if shutil.which("redis-server") else None, "redis-server not found"),
        ("weft", "c", "weft tasks, socket awaits", [cfg["weft"]], None),
        ("libuv", "c", "libuv uv_tcp callbacks", [cfg["libuv"]], None),
        ("goroutines", "go", "a goroutine per connection, net",
         [cfg["go"]] if cfg.get("go") else None, "go not found"),
        ("go-weft", "go", "weft task per connection, Go binding",
         [go_weft] if go_weft and os.path.exists(go_weft) else None,
         "not built (-DWEFT_BUILD_GO=ON, go)" if not go_weft else "go-weft not built yet"),
        ("java-virtual", "java", "virtual thread per connection",
         [java, "-cp", cfg["java_classes"], "RespServer", "--threads", "virtual"] if java else None,
         "no JDK >= 21"),
        ("java-platform", "java", "platform thread per connection",
         [java, "-cp", cfg["java_classes"], "RespServer", "--threads", "platform"] if java else None,
         "no JDK >= 21"),
        ("java-weft", "java", "weft task per connection, Java binding",
         [java, "--enable-native-access=ALL-UNNAMED",
          "-cp", cfg["java_weft_jar"] + os.pathsep + cfg["java_classes"], "WeftRespServer"]
         if java and jar and os.path.exists(jar)
         and os.path.exists(os.path.join(cfg["java_classes"], "WeftRespServer.class")) else None,
         "not built (-DWEFT_BUILD_JAVA=ON, mvn, a JDK >= 21)" if not jar else "java-weft not built yet"),
        ("luv", "lua", "luv callbacks (libuv)",
         [lua, cfg["lua_script"]] if lua else None, "lua5.4 with luv not found"),
        ("lua-weft", "lua", "weft task per connection, Lua binding",
         ["env", f"LUA_PATH={cfg['lua_weft_path']};;", f"LUA_CPATH={cfg['lua_weft_cpath']};;",
          cfg["lua_bin"], cfg["lua_weft_script"]] if lua_weft else None,
         "not built (-DWEFT_BUILD_LUA=ON, lua5.4)" if not cfg.get("lua_weft_cpath")
         else "lua-weft not built yet (weft/core.so)"),
        ("weft-kv-1", "c++", "weft-kv, 1 loop", [kv, "--loops", "1"] if os.path.exists(kv) else None,
         "weft-kv not built (examples/kv, issue 19)"),
        ("weft-kv-2", "c++", "weft-kv, 2 loops", [kv, "--loops", "2"] if os.path.exists(kv) else None,
         "weft-kv not built (examples/kv, issue 19)"),
    ]
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on 127.0.0.1; .port once started; stop() ends it."""

    def __init__(self, name, argv):
        self.name = name
        self.tmp = tempfile.TemporaryDirectory(prefix="weft-servers-")
        if name == "redis-server":
            self.port = free_port()  # redis-server's port 0 means "no TCP"
            argv = argv + ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", self.tmp.name,
                           "--maxclients", "10000", "--logfile", ""]
            ready = "Ready to accept connections"
        else:
            self.port = None
            argv = argv + ["--port", "0"]
            ready = "listening on "
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     cwd=self.tmp.name)
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{name}: no '{ready}' line within {START_TIMEOUT:.0f} s")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                continue
            buf += chunk
            lines = buf.decode(errors="replace").splitlines()
            hit = [l for l in lines if ready in l]
            if hit:
                if self.port is None:
                    self.port = int(hit[0].rsplit(":", 1)[1])
                break
        # keep draining stdout so a chatty server never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 65536):
                pass
        except OSError:
            pass

    def cpu_s(self):
        """The server's CPU time so far, in s: utime + stime of all its
        threads, the exited ones too. Read through the process's CPU-time
        clock (Linux: clock id ((~pid) << 3) | 2, CPUCLOCK_SCHED), which is
        the sum /proc/PID/stat splits into utime and stime, at ns resolution
        instead of 10 ms ticks; /proc/PID/stat where that clock is refused."""
        try:
            return time.clock_gettime(((~self.proc.pid) << 3) | 2)
        except OSError:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def status_kb(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def reset_peak(self):
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.tmp.cleanup()


def redis_benchmark(port, test, clients, n, timeout):
    """{TEST_NAME: rps} from one `redis-benchmark --csv` run."""
    r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test,
                        "-c", str(clients), "-n", str(n), "--csv"],
                       capture_output=True, text=True, timeout=timeout)
    rows = {}
    for line in r.stdout.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if len(cols) >= 2 and cols[0] != "test":
            rows[cols[0]] = float(cols[1])
    if r.returncode != 0 or not rows:
        raise RuntimeError(f"redis-benchmark -t {test} failed: {r.stderr.strip()[:300]}")
    return rows


# ------------------------------------------------------------------ check

BIG = (bytes(range(256)) * 1172)[:300000]  # every byte value

# Requests and redis-server 7.0's replies, byte for byte (`check --model
# redis-server` proves them against the real thing).
PROBES = [
    (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
    (b"*2\r\n$4\r\nping\r\n$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    (b"*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n",
     b"-ERR wrong number of arguments for 'ping' command\r\n"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n", b"+OK\r\n"),
    (b"*2\r\n$3\r\nget\r\n$1\r\nk\r\n", b"$5\r\nvalue\r\n"),
    (b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", b"$-1\r\n"),
    (b"*3\r\n$3\r\nSET\r\n$1\r\ne\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\ne\r\n",
     b"+OK\r\n$0\r\n\r\n"),
    (b"*1\r\n$3\r\nGET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n"),
    (b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n", b"-ERR wrong number of arguments for 'set' command\r\n"),
    (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$5\r\nbogus\r\n", b"-ERR syntax error\r\n"),
    (b"*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n",
     b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"),
    (b"*1\r\n$3\r\nFOO\r\n", b"-ERR unknown command 'FOO', with args beginning with: \r\n"),
    (b"PING\r\nget k\r\n\r\n", b"+PONG\r\n$5\r\nvalue\r\n"),           # inline
    (b"SET ik inline\r\n", b"+OK\r\n"),
    (b"*1\r\n$4\r\nPI", None), (b"NG\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",  # split
                                b"+PONG\r\n$5\r\nvalue\r\n"),
    (b"*2\r\n$3\r\nGET\r\n$2\r\nik\r\n", b"$6\r\ninline\r\n"),  # kept after later reads
    # a value larger than any read buffer: the input and the reply both grow
    (b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$300000\r\n" + BIG + b"\r\n", b"+OK\r\n"),
    (b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", b"$300000\r\n" + BIG + b"\r\n"),
]
# Protocol errors: the reply, then the server closes the connection.
BAD = [
    (b"*1\r\n+x\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
]


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def check(cfg, name):
    model = next((m for m in models(cfg) if m[0] == name), None)
    if model is None:
        raise SystemExit(f"unknown model {name}")
    if model[3] is None:
        print(f"SKIP: {name}: {model[4]}")
        return 0
    missing = [t for t in ("redis-cli", "redis-benchmark") if not shutil.which(t)]
    if missing:
        print(f"SKIP: {name}: {', '.join(missing)} not found (scripts/deps installs redis-tools)")
        return 0
    srv = Server(name, model[3])
    failures = []
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            for req, want in PROBES:
                s.sendall(req)
                if want is None:
                    continue
                got = recv_exactly(s, len(want))
                if got != want:
                    failures.append(f"{req!r}: got {got!r}, want {want!r}")
        for req, want in BAD:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(req)
                got = recv_exactly(s, len(want) + 1)  # one more: must be end of stream
                if got != want:
                    failures.append(f"{req!r}: got {got!r}, want {want!r} and a close")
        cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(srv.port)]
        for args, want in [(["PING"], "PONG"), (["SET", "greeting", "hello world"], "OK"),
                           (["GET", "greeting"], "hello world"), (["GET", "nokey"], "")]:
            out = subprocess.run(cli + args, capture_output=True, text=True, timeout=10)
            if out.stdout.strip("\n") != want:
                failures.append(f"redis-cli {args}: got {out.stdout!r}, want {want!r}")
        rows = {}
        for t in TESTS:
            rows.update(redis_benchmark(srv.port, t, 20, 2000, 60))
        if sorted(rows) != ["GET", "PING_INLINE", "PING_MBULK", "SET"] or min(rows.values()) <= 0:
            failures.append(f"redis-benchmark: {rows}")
        # 1,000 connections at once, as the bench's -c 1000 (fds: raise_fd_limit)
        many_note = f", -c {CHECK_CONNS}"
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2 * CHECK_CONNS + 64:
            many = redis_benchmark(srv.port, "get", CHECK_CONNS, 2 * CHECK_CONNS, 60)
            if not many.get("GET"):
                failures.append(f"redis-benchmark -c {CHECK_CONNS}: {many}")
        else:
            many_note = f" (open files limited: no -c {CHECK_CONNS} run)"
        if srv.proc.poll() is not None:
            failures.append(f"the server exited with {srv.proc.returncode}")
    finally:
        srv.stop()
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print(f"{name}: {len(PROBES) + len(BAD)} exact replies, redis-cli and redis-benchmark -c 20 "
              f"({', '.join(f'{k} {v:.0f}/s' for k, v in rows.items())}){many_note} ok")
    return 1 if failures else 0


# ------------------------------------------------------------------ bench

def run_cell(name, argv, clients, n):
    """The figures of one (model, clients) cell: {test: {figure: value}}."""
    srv = Server(name, argv)
    try:
        for t in TESTS:  # warm-up (JIT, first allocations), few clients
            redis_benchmark(srv.port, t, min(clients, 4), max(1000, n // 10), 600)
        idle_kb = srv.status_kb("VmRSS")
        srv.reset_peak()
        out = {}
        for t in TESTS:
            c0 = srv.cpu_s()
            rows = redis_benchmark(srv.port, t, clients, n, 600)
            cpu = srv.cpu_s() - c0
            for test, rps in rows.items():
                out[test] = {"requests_per_s": rps,
                             "cpu_per_request": cpu / (n * len(rows)) * 1e6}
        peak_kb = srv.status_kb("VmHWM")
        per_conn = max(0, peak_kb - idle_kb) * 1024 / clients
        for f in out.values():
            f["rss_per_connection"] = per_conn
        return out, idle_kb
    finally:
        srv.stop()


UNITS = {"requests_per_s": "requests/s", "cpu_per_request": "us", "rss_per_connection": "bytes"}
ROWS = ["PING_INLINE", "PING_MBULK", "SET", "GET"]


def print_tables(records, names, clients_list, n, rounds):
    by = {(r["model"], r["workload"], r["n"], r["figure"]): r["value"] for r in records}
    for c in clients_list:
        print(f"\n-- server: redis-benchmark -c {c} -n {n}, medians of {rounds} rounds "
              f"(requests/s; server CPU us/request; RSS growth per connection)")
        head = f"{'model':<14} {'lang':<5}" + "".join(f" {t:>12}" for t in ROWS) + \
            "".join(f" {'cpu ' + t.split('_')[-1]:>11}" for t in ROWS) + f" {'rss/conn':>10}"
        print(head)
        ref = {t: by.get(("redis-server", "resp-" + t.lower(), c, "requests_per_s")) for t in ROWS}
        for name, lang in names:
            if not any((name, "resp-" + t.lower(), c, "requests_per_s") in by for t in ROWS):
                continue
            line = f"{name:<14} {lang:<5}"
            for t in ROWS:
                v = by.get((name, "resp-" + t.lower(), c, "requests_per_s"))
                line += f" {v:>12.0f}" if v is not None else f" {'-':>12}"
            for t in ROWS:
                v = by.get((name, "resp-" + t.lower(), c, "cpu_per_request"))
                line += f" {v:>11.2f}" if v is not None else f" {'-':>11}"
            v = by.get((name, "resp-get", c, "rss_per_connection"))
            line += f" {v:>10.0f}" if v is not None else f" {'-':>10}"
            print(line)
        print(f"{'ratio to redis':<20}", end="")
        print("  (requests/s, then CPU/request; > 1 faster / costlier)")
        for name, _ in names:
            if name == "redis-server":
                continue
            parts = []
            for t in ROWS:
                v = by.get((name, "resp-" + t.lower(), c, "requests_per_s"))
                rv = ref[t]
                cv = by.get((name, "resp-" + t.lower(), c, "cpu_per_request"))
                rc = by.get(("redis-server", "resp-" + t.lower(), c, "cpu_per_request"))
                if v and rv:
                    parts.append(f"{t} {v / rv:.2f}x" + (f"/{cv / rc:.2f}x" if cv and rc else ""))
            if parts:
                print(f"  {name:<14} " + "  ".join(parts))


def bench(cfg, args):
    all_models = models(cfg)
    want = args.models.split(",") if args.models else [m[0] for m in all_models]
    clients_list = [int(c) for c in args.clients.split(",")]
    records, skipped, errors = [], [], []
    samples = {}  # (model, language, workload, n, figure) -> [value per round]
    t0 = time.monotonic()
    load_start = os.getloadavg()
    for rnd in range(args.rounds):  # models alternate within a round
        for name, lang, title, argv, why in all_models:
            if name not in want:
                continue
            if argv is None:
                if rnd == 0:
                    skipped.append(f"{name}: {why}")
                continue
            for c in clients_list:
                print(f"server: round {rnd + 1}/{args.rounds}: {name} -c {c} -n {args.requests} ...",
                      file=sys.stderr, flush=True)
                try:
                    figs, idle_kb = run_cell(name, argv, c, args.requests)
                except Exception as e:  # one failing model must not hide the others
                    errors.append(f"{name} -c {c}: {e}")
                    continue
                for test, f in figs.items():
                    for fig, v in f.items():
                        samples.setdefault((name, lang, "resp-" + test.lower(), c, fig), []).append(v)
                samples.setdefault((name, lang, "resp-idle", 0, "idle_rss"), []).append(idle_kb * 1024)
    for (name, lang, workload, c, fig), vs in samples.items():
        records.append({"model": name, "language": lang, "workload": workload, "n": c,
                        "figure": fig, "value": statistics.median(vs),
                        "unit": UNITS.get(fig, "bytes"), "rounds": len(vs)})
    names = [(m[0], m[1]) for m in all_models]
    print_tables(records, names, clients_list, args.requests, args.rounds)
    for s in skipped:
        print("skipped:", s)
    for e in errors:
        print("ERROR:", e)
    print(f"server section: {time.monotonic() - t0:.0f} s, load {load_start[0]:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")
    if args.json:
        rv = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        doc = {"tool": "compare-servers", "client": "redis-benchmark", "requests": args.requests,
               "rounds": args.rounds,
               "clients": clients_list,
               "machine": {"cpus": os.cpu_count(), "kernel": platform.platform(),
                           "loadavg_start": load_start[0], "loadavg_end": os.getloadavg()[0]},
               "redis_server_version": rv.strip(),
               "skipped": skipped, "errors": errors, "results": records}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"results written to {args.json}")
    return 1 if errors else 0


def raise_fd_limit():
    """Raises the soft RLIMIT_NOFILE to the hard one, for this process and
    so for the servers and redis-benchmark it starts: each of C connections
    costs an fd on both sides, and a soft limit of 1,024 would stop -c 1000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["bench", "check", "list"])
    ap.add_argument("--config", required=True, help="BUILD/tests/servers/servers.json")
    ap.add_argument("--model", help="check: the model")
    ap.add_argument("--models", help="bench: comma-separated models (default all)")
    ap.add_argument("--clients", default="50,1000", help="bench: connection counts")
    ap.add_argument("--requests", type=int, default=20000, help="bench: requests per test and run")
    ap.add_argument("--rounds", type=int, default=3,
                    help="bench: rounds (all models each); figures are medians over rounds")
    ap.add_argument("--json", help="bench: also write the figures as JSON")
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    if args.command == "list":
        for name, lang, title, argv, why in models(cfg):
            print(f"{name:<14} {lang:<5} {title:<40} {'ok' if argv else why}")
        return 0
    limit = raise_fd_limit()
    if args.command == "check":
        return check(cfg, args.model)
    need = 2 * max(int(c) for c in args.clients.split(",")) + 64
    if limit < need:
        print(f"servers: open files limited to {limit}: -c {args.clients} needs about {need} "
              "(server and client); raise the hard limit (ulimit -Hn)", file=sys.stderr)
        return 1
    return bench(cfg, args)


if __name__ == "__main__":
    sys.exit(main())
