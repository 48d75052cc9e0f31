#!/usr/bin/env python3
"""bench.py -- weft versus libuv, side by side: runs the workloads of
weft-bench-run (one process per run, the libraries alternated round by
round), the per-operation costs of weft-bench-micro (Google Benchmark,
repetitions with random interleaving), and instruction counts under
valgrind --tool=callgrind; prints one table of medians and ratios.

Every ratio is oriented so that > 1 means weft is better: libuv/weft for
costs (ns, bytes, instructions), weft/libuv for rates (per second).

Usage (see tests/bench/README.md):
  bench.py --runner build/tests/bench/weft-bench-run \
           --micro build/tests/bench/weft-bench-micro [--smoke] [--runs N]
           [--duration S] [--only GROUP,...] [--no-micro] [--no-callgrind]
           [--json FILE]
Python 3 standard library only.
"""

import argparse
import glob
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_pressure():
    """CPU pressure stall (PSI): % of the last 10 s in which a runnable task
    waited for a CPU; None where the kernel does not offer it."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some "):
                    return float(line.split()[1].split("=")[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def fmt_num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    a = abs(v)
    if a >= 1e9:
        return "%.2fG" % (v / 1e9)
    if a >= 1e6:
        return "%.2fM" % (v / 1e6)
    if a >= 1e4:
        return "%.1fk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def human(n):
    for div, suf in ((1000000, "M"), (1000, "k")):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, suf)
    return str(n)


# --------------------------------------------------------------- the plan

class Spec:
    """One process configuration of weft-bench-run."""

    def __init__(self, workload, lib, backend=None, **args):
        # backend: WEFT_BACKEND for this run (None: the environment's)
        self.workload, self.lib, self.args, self.backend = workload, lib, args, backend

    def key(self):
        return (self.workload, self.lib, self.backend) + tuple(sorted(self.args.items()))

    def env(self, base):
        return dict(base, WEFT_BACKEND=self.backend) if self.backend else base

    def argv(self, runner):
        a = [runner, self.workload, self.lib]
        for k, v in sorted(self.args.items()):
            a += ["--" + k, str(v)]
        return a

    def name(self):
        extra = " ".join("%s=%s" % kv for kv in sorted(self.args.items()))
        lib = self.lib + ("[%s]" % self.backend if self.backend else "")
        return "%s %s %s" % (self.workload, lib, extra)


class SyscallSpec(Spec):
    """A pingpong spec whose one figure is syscalls_per_roundtrip, counted
    with strace -f -c: two runs of --count C and --count 2C round trips per
    pair, the difference divided by the difference of round trips, so that
    setup and teardown (socketpairs, epoll_ctl, loop creation) cancel out."""

    def __init__(self, workload, lib, count, backend=None, **args):
        Spec.__init__(self, workload, lib, backend, **args)
        self.count = count

    def key(self):
        return ("strace", self.count) + Spec.key(self)

    def name(self):
        return "strace -c: " + Spec.name(self)


_strace_ok = None
_uring_ok = {}


def uring_usable(runner):
    """weft-bench-run can run a loop on io_uring here."""
    if runner not in _uring_ok:
        try:
            p = subprocess.run([runner, "loop_count", "weft", "--duration", "0.01"],
                               capture_output=True, timeout=60,
                               env=dict(os.environ, WEFT_BACKEND="io_uring"))
            _uring_ok[runner] = p.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _uring_ok[runner] = False
    return _uring_ok[runner]


def strace_usable():
    """strace is installed and may trace here (ptrace can be forbidden)."""
    global _strace_ok
    if _strace_ok is None:
        _strace_ok = False
        if shutil.which("strace"):
            try:
                _strace_ok = subprocess.run(["strace", "-f", "-c", "-o", os.devnull, "true"],
                                            capture_output=True, timeout=30).returncode == 0
            except (OSError, subprocess.SubprocessError):
                pass
    return _strace_ok


class Row:
    """One line of the table: a figure of a weft spec against a reference.

    ref is a libuv Spec, or a number (a DESIGN.md / seed anchor), or None.
    better: "lower" (a cost) or "higher" (a rate). target: the ratio the
    issue asks for, or None; abs_target: a floor for the weft figure."""

    def __init__(self, label, unit, weft, ref, metric, better, target=None,
                 ref_metric=None, abs_target=None, note="", ref_label=None):
        self.label, self.unit, self.weft, self.ref = label, unit, weft, ref
        self.metric, self.better, self.target = metric, better, target
        self.ref_metric = ref_metric or metric
        self.abs_target, self.note, self.ref_label = abs_target, note, ref_label


def plan(opt):
    """Groups of specs (run together, alternated) and the rows they feed."""
    S = opt.smoke
    d = opt.duration
    groups = []

    def group(name, specs, rows):
        if opt.only and name not in opt.only:
            return
        groups.append((name, specs, rows))

    # timers: N one-shot timers, timeout rising 1 ms per 1,000
    for n, tag in ([(2000, "2k")] if S else [(1000000, "1M"), (10000000, "10M")]):
        w, u = Spec("timers", "weft", n=n), Spec("timers", "uv", n=n)
        group("timers", [w, u], [
            Row("timers %s: start" % tag, "CPU ns/timer", w, u, "start_cpu_ns", "lower", 2.0),
            Row("timers %s: dispatch" % tag, "CPU ns/timer", w, u, "dispatch_cpu_ns", "lower", 2.0),
            Row("timers %s: cleanup" % tag, "CPU ns/timer", w, u, "cleanup_cpu_ns", "lower"),
        ])

    # loop_count: one always-ready handle
    wy = Spec("loop_count", "weft", variant="yield", duration=d)
    wt = Spec("loop_count", "weft", variant="timer0", duration=d)
    u = Spec("loop_count", "uv", duration=d)
    wyf = Spec("loop_count", "weft", variant="yield_fd", duration=d)
    uf = Spec("loop_count", "uv", variant="fd", duration=d)
    group("loop_count", [wy, wt, u, wyf, uf], [
        Row("loop_count: task yield vs uv_idle", "iter/CPU-s", wy, u, "ticks_per_cpu_s",
            "higher", 2.0),
        Row("loop_count: timer(0) re-armed vs uv_idle", "iter/CPU-s", wt, u,
            "ticks_per_cpu_s", "higher"),
        Row("loop_count +1 idle fd: yield vs idle", "iter/CPU-s", wyf, uf, "ticks_per_cpu_s",
            "higher", note="both poll every iteration"),
    ])

    # fd ping-pong over a socketpair
    for threads in (1, 2):
        ww = Spec("pingpong", "weft", variant="watch", threads=threads, duration=d)
        wk = Spec("pingpong", "weft", variant="task", threads=threads, duration=d)
        u = Spec("pingpong", "uv", threads=threads, duration=d)
        ws = Spec("pingpong", "weft", variant="sock", threads=threads, duration=d)
        us = Spec("pingpong", "uv", variant="stream", threads=threads, duration=d)
        if threads == 1:
            where, unit, m, tgt = "one loop", "rt/CPU-s", "roundtrips_per_cpu_s", 1.2
        else:
            where, unit, m, tgt = "two loops/threads", "rt/s", "roundtrips_per_s", None
        group("pingpong", [ww, wk, u, ws, us], [
            Row("pingpong %s: fd watch vs uv_poll" % where, unit, ww, u, m, "higher", tgt),
            Row("pingpong %s: await_fd tasks vs uv_poll" % where, unit, wk, u, m, "higher", tgt),
            Row("pingpong %s: recv/send tasks vs uv streams" % where, unit, ws, us, m, "higher",
                1.0 if threads == 1 else None),
            Row("pingpong %s: recv/send tasks vs uv_poll" % where, unit, ws, u, m, "higher",
                1.0 if threads == 1 else None),
        ])

    # syscalls per round trip (strace -c, counts not times), and 1,000 pairs
    # ping-ponging at once on one loop: recv/send tasks vs uv streams / uv_poll
    sys_ok = strace_usable()
    for pairs in (1, 20 if S else 1000):
        tag = "1 pair" if pairs == 1 else "%s pairs" % human(pairs)
        if pairs > 1:
            ws = Spec("pingpong", "weft", variant="sock", pairs=pairs, duration=d)
            us = Spec("pingpong", "uv", variant="stream", pairs=pairs, duration=d)
            u = Spec("pingpong", "uv", pairs=pairs, duration=d)
            m = "roundtrips_per_cpu_s"
            group("pingpong_pairs", [ws, us, u], [
                Row("pingpong %s: recv/send vs uv streams" % tag, "rt/CPU-s", ws, us, m,
                    "higher", 1.1),
                Row("pingpong %s: recv/send vs uv_poll" % tag, "rt/CPU-s", ws, u, m,
                    "higher", 1.1),
            ])
        if not sys_ok:
            continue
        c = (20 if S else 2000) if pairs == 1 else (5 if S else 20)
        extra = {"pairs": pairs} if pairs > 1 else {}
        ss = [SyscallSpec("pingpong", "weft", c, variant="sock", **extra),
              SyscallSpec("pingpong", "weft", c, variant="task", **extra),
              SyscallSpec("pingpong", "uv", c, variant="stream", **extra),
              SyscallSpec("pingpong", "uv", c, **extra)]
        sm = "syscalls_per_roundtrip"
        group("pingpong_syscalls", ss, [
            Row("pingpong %s syscalls: recv/send vs streams" % tag, "syscalls/rt", ss[0], ss[2],
                sm, "lower", note="goal <= 6" if pairs == 1 else ""),
            Row("pingpong %s syscalls: recv/send vs uv_poll" % tag, "syscalls/rt", ss[0], ss[3],
                sm, "lower"),
            Row("pingpong %s syscalls: await_fd vs uv_poll" % tag, "syscalls/rt", ss[1], ss[3],
                sm, "lower"),
        ])

    # to_thread chains
    for k, tgt in ((1, 1.5), (4, 2.0)):
        wc = Spec("to_thread", "weft", variant="cb", threads=k, duration=d)
        wk = Spec("to_thread", "weft", variant="task", threads=k, duration=d)
        u = Spec("to_thread", "uv", threads=k, duration=d)
        group("to_thread", [wc, wk, u], [
            Row("to_thread %d in flight: weft_to_thread" % k, "done/s", wc, u,
                "completions_per_s", "higher", tgt),
            Row("to_thread %d in flight: await_thread task" % k, "done/s", wk, u,
                "completions_per_s", "higher"),
        ])

    # posts from other threads
    for k in (1, 4):
        w = Spec("posts", "weft", threads=k, duration=d)
        u = Spec("posts", "uv", threads=k, duration=d)
        group("posts", [w, u], [
            Row("posts %d thread%s: callbacks run" % (k, "s" if k > 1 else ""), "cb/s", w, u,
                "callbacks_per_s", "higher", abs_target=5e6 if k == 1 else None,
                note="uv coalesces; see sends"),
            Row("posts %d thread%s: sends accepted" % (k, "s" if k > 1 else ""), "send/s", w, u,
                "sends_per_s", "higher", note="weft: every send is a callback"),
        ])

    # many handles, one process per library and kind
    nt = 2000 if S else 1000000
    pairs = 50 if S else 0
    wt, ut = Spec("handles", "weft", variant="timers", n=nt), Spec("handles", "uv", variant="timers", n=nt)
    wf = Spec("handles", "weft", variant="fds", pairs=pairs) if pairs else Spec("handles", "weft", variant="fds")
    uf = Spec("handles", "uv", variant="fds", pairs=pairs) if pairs else Spec("handles", "uv", variant="fds")
    tag = "2k" if S else "1M"
    group("handles", [wt, ut, wf, uf], [
        Row("handles: %s timers, memory" % tag, "B/timer", wt, ut, "bytes_per_handle", "lower"),
        Row("handles: %s timers, start" % tag, "CPU ns/timer", wt, ut, "start_cpu_ns", "lower"),
        Row("handles: %s timers, stop+free" % tag, "CPU ns/timer", wt, ut, "stop_cpu_ns", "lower"),
        Row("handles: fd watches, memory", "B/watch", wf, uf, "bytes_per_handle", "lower",
            note="user space only"),
        Row("handles: fd watches, start", "CPU ns/watch", wf, uf, "start_cpu_ns", "lower"),
        Row("handles: fd watches, stop+free", "CPU ns/watch", wf, uf, "stop_cpu_ns", "lower"),
    ])

    # tasks, weft only, against the seed's coroutine anchors (DESIGN.md)
    nk = 2000 if S else 1000000
    ws = Spec("tasks", "weft", variant="spawn", n=nk)
    wy = Spec("tasks", "weft", variant="yield", n=2, duration=d)
    wm = Spec("tasks", "weft", variant="yield", n=1000, duration=d)
    wz = Spec("tasks", "weft", variant="sleep", n=nk)
    group("tasks", [ws, wy, wm, wz], [
        Row("tasks: spawn", "ns/task", ws, 1000.0, "spawn_ns", "lower",
            ref_label="anchor", note="anchor: coroutine ~1 us"),
        Row("tasks: first step + finish", "ns/task", ws, None, "step_finish_ns", "lower"),
        Row("tasks: yield switch, 2 tasks", "ns/switch", wy, 100.0, "switch_ns", "lower",
            ref_label="anchor", note="anchor: coroutine ~0.1 us"),
        Row("tasks: yield switch, 1000 tasks", "ns/switch", wm, 100.0, "switch_ns", "lower",
            ref_label="anchor", note="one loop iteration per 1000 steps"),
        Row("tasks: %s sleeping, memory" % ("2k" if S else "1M"), "B/task", wz, 1024.0,
            "bytes_per_task", "lower", ref_label="anchor", note="anchor: coroutine ~1 KB"),
        Row("tasks: cancel at loop free", "ns/task", wz, None, "cancel_ns", "lower"),
    ])
    # backends: the same workloads on epoll and on io_uring, side by side
    # (alternated in one group), each against libuv; skipped where io_uring
    # cannot be used (weft-bench-run then fails to create its loop).
    if uring_usable(opt.runner):
        bk = ("epoll", "io_uring")
        rows, specs = [], []

        def side(label, unit, metric, better, weft_args, uv_args, target=None):
            u = Spec(*uv_args[:2], **uv_args[2])
            specs.append(u)
            for b in bk:
                w = Spec(weft_args[0], weft_args[1], b, **weft_args[2])
                specs.append(w)
                rows.append(Row("%s [%s]" % (label, b), unit, w, u, metric, better, target))

        m1, mw = "roundtrips_per_cpu_s", "roundtrips_per_s"
        side("pingpong 1 pair: recv/send vs uv streams", "rt/CPU-s", m1, "higher",
             ("pingpong", "weft", {"variant": "sock", "duration": d}),
             ("pingpong", "uv", {"variant": "stream", "duration": d}), 1.15)
        np = 20 if S else 1000
        side("pingpong %s pairs: recv/send vs uv streams" % human(np), "rt/CPU-s", m1, "higher",
             ("pingpong", "weft", {"variant": "sock", "pairs": np, "duration": d}),
             ("pingpong", "uv", {"variant": "stream", "pairs": np, "duration": d}), 1.5)
        side("pingpong 1 pair: fd watch vs uv_poll", "rt/CPU-s", m1, "higher",
             ("pingpong", "weft", {"variant": "watch", "duration": d}),
             ("pingpong", "uv", {"duration": d}))
        side("pingpong 1 pair: await_fd vs uv_poll", "rt/CPU-s", m1, "higher",
             ("pingpong", "weft", {"variant": "task", "duration": d}),
             ("pingpong", "uv", {"duration": d}))
        side("loop_count +1 idle fd: yield vs idle", "iter/CPU-s", "ticks_per_cpu_s", "higher",
             ("loop_count", "weft", {"variant": "yield_fd", "duration": d}),
             ("loop_count", "uv", {"variant": "fd", "duration": d}))
        nt = 2000 if S else 1000000
        side("timers %s: dispatch" % human(nt), "CPU ns/timer", "dispatch_cpu_ns", "lower",
             ("timers", "weft", {"n": nt}), ("timers", "uv", {"n": nt}))
        side("posts 1 thread: sends accepted", "send/s", "sends_per_s", "higher",
             ("posts", "weft", {"threads": 1, "duration": d}),
             ("posts", "uv", {"threads": 1, "duration": d}))
        side("to_thread 1 in flight", "done/s", "completions_per_s", "higher",
             ("to_thread", "weft", {"variant": "cb", "threads": 1, "duration": d}),
             ("to_thread", "uv", {"threads": 1, "duration": d}))
        if strace_usable():
            sm = "syscalls_per_roundtrip"
            for pairs, c in ((1, 20 if S else 2000), (np, 5 if S else 20)):
                extra = {"pairs": pairs} if pairs > 1 else {}
                us = SyscallSpec("pingpong", "uv", c, variant="stream", **extra)
                specs.append(us)
                for b in bk:
                    ws = SyscallSpec("pingpong", "weft", c, b, variant="sock", **extra)
                    specs.append(ws)
                    rows.append(Row("pingpong %s syscalls: recv/send vs streams [%s]"
                                    % ("1 pair" if pairs == 1 else "%s pairs" % human(pairs), b),
                                    "syscalls/rt", ws, us, sm, "lower"))
        group("backends", specs, rows)
    return groups


def callgrind_plan(opt):
    """(label, unit divisor key, phases, [(lib, spec)])"""
    S = opt.smoke
    n_t = 1000 if S else 100000
    n_l = 1000 if S else 200000
    n_p = 100 if S else 20000
    out = []
    out.append(("timers %s" % human(n_t), n_t, ["start", "dispatch", "cleanup"],
                [("weft", Spec("timers", "weft", n=n_t)), ("uv", Spec("timers", "uv", n=n_t))],
                "Ir/timer"))
    out.append(("loop_count %s" % human(n_l), n_l, ["run"],
                [("weft yield", Spec("loop_count", "weft", variant="yield", count=n_l)),
                 ("weft timer0", Spec("loop_count", "weft", variant="timer0", count=n_l)),
                 ("uv", Spec("loop_count", "uv", count=n_l))], "Ir/iteration"))
    out.append(("loop_count+fd %s" % human(n_l), n_l, ["run"],
                [("weft yield", Spec("loop_count", "weft", variant="yield_fd", count=n_l)),
                 ("uv", Spec("loop_count", "uv", variant="fd", count=n_l))],
                "Ir/iteration (user space)"))
    out.append(("pingpong one loop %s" % human(n_p), n_p, ["run"],
                [("weft watch", Spec("pingpong", "weft", variant="watch", count=n_p)),
                 ("weft task", Spec("pingpong", "weft", variant="task", count=n_p)),
                 ("weft sock", Spec("pingpong", "weft", variant="sock", count=n_p)),
                 ("uv", Spec("pingpong", "uv", count=n_p)),
                 ("uv stream", Spec("pingpong", "uv", variant="stream", count=n_p))],
                "Ir/round trip (user space)"))
    if opt.only:
        out = [c for c in out if c[0].split()[0] in opt.only]
    return out


# ---------------------------------------------------------------- running

class Runner:
    def __init__(self, opt):
        self.opt = opt
        self.results = {}  # spec key -> list of figure dicts
        self.loads = {}    # spec key -> list of loadavg at run start
        self.psis = {}     # spec key -> list of CPU pressure (some avg10) at run start
        self.failures = []
        self.env = dict(os.environ)
        self.env["UV_THREADPOOL_SIZE"] = "4"  # libuv's default, weft's default

    def timeout(self, spec):
        """Seconds after which a run counts as hung."""
        if self.opt.smoke:
            return 120
        big = spec.args.get("n", 0) >= 5000000
        return 900 if big else 4 * self.opt.duration + 90

    def strace_calls(self, spec, count):
        """(syscalls, round trips) of one run under strace -f -c, or None."""
        fd, path = tempfile.mkstemp(prefix="weft-strace-")
        os.close(fd)
        try:
            argv = ["strace", "-f", "-c", "-o", path] + spec.argv(self.opt.runner) + [
                "--count", str(count)]
            p = subprocess.run(argv, capture_output=True, text=True, env=spec.env(self.env),
                               timeout=self.timeout(spec))
            if p.returncode != 0:
                self.failures.append("%s: exit %d: %s" % (spec.name(), p.returncode,
                                                          p.stderr.strip()[-400:]))
                return None
            rts = json.loads(p.stdout.strip().splitlines()[-1])["figures"]["roundtrips"]
            with open(path) as fh:
                for line in fh:
                    f = line.split()
                    if f and f[-1] == "total":  # % seconds usecs/call calls [errors] total
                        return int(f[3]), rts
        except (OSError, ValueError, IndexError, KeyError, subprocess.SubprocessError) as e:
            self.failures.append("%s: %s" % (spec.name(), e))
            return None
        finally:
            os.unlink(path)
        self.failures.append("%s: no total in strace -c output" % spec.name())
        return None

    def run_spec(self, spec):
        if isinstance(spec, SyscallSpec):
            a = self.strace_calls(spec, spec.count)
            b = self.strace_calls(spec, 2 * spec.count)
            if a and b and b[1] > a[1]:
                fig = {"syscalls_per_roundtrip": (b[0] - a[0]) / (b[1] - a[1])}
                self.results.setdefault(spec.key(), []).append(fig)
                self.loads.setdefault(spec.key(), []).append(loadavg())
                if self.opt.verbose:
                    print("  %-50s %s" % (spec.name(), json.dumps(fig)), file=sys.stderr)
            return
        argv = spec.argv(self.opt.runner)
        load, psi = loadavg(), cpu_pressure()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=spec.env(self.env))
        try:
            out, err = p.communicate(timeout=self.timeout(spec))
        except subprocess.TimeoutExpired:
            # A hang is a finding: keep every thread's stack for the report.
            stacks = thread_stacks(p.pid)
            p.kill()
            p.communicate()
            self.failures.append("%s: timed out after %.0f s (hung)%s" % (
                spec.name(), self.timeout(spec), ("; stacks:\n" + stacks) if stacks else ""))
            return
        if p.returncode != 0:
            self.failures.append("%s: exit %d: %s" % (spec.name(), p.returncode,
                                                      err.strip()[-400:]))
            return
        try:
            rec = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.failures.append("%s: no JSON figures in output" % spec.name())
            return
        self.results.setdefault(spec.key(), []).append(rec["figures"])
        self.loads.setdefault(spec.key(), []).append(load)
        if psi is not None:
            self.psis.setdefault(spec.key(), []).append(psi)
        if self.opt.verbose:
            print("  %-50s %s" % (spec.name(), json.dumps(rec["figures"])), file=sys.stderr)

    def run_group(self, name, specs):
        """Rounds; in each round every spec once, the order reversed on odd
        rounds, so that weft and libuv alternate and neither always goes
        first."""
        for r in range(self.opt.runs):
            order = specs if r % 2 == 0 else list(reversed(specs))
            for s in order:
                self.run_spec(s)

    def median(self, spec, metric):
        vals = [f[metric] for f in self.results.get(spec.key(), []) if metric in f]
        vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        return statistics.median(vals) if vals else None

    def load(self, spec):
        v = self.loads.get(spec.key())
        return max(v) if v else None

    def psi(self, spec):
        v = self.psis.get(spec.key())
        return max(v) if v else None


def thread_stacks(pid):
    """Every thread's backtrace of a hung process (gdb), else kernel wait
    channels; '' if neither is available."""
    if shutil.which("gdb"):
        try:
            g = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                               capture_output=True, text=True, timeout=60)
            lines = [l for l in g.stdout.splitlines() if l.startswith(("#", "Thread"))]
            if lines:
                return "\n".join(lines[:200])
        except (OSError, subprocess.SubprocessError):
            pass
    out = []
    for t in sorted(glob.glob("/proc/%d/task/*" % pid)):
        try:
            with open(t + "/wchan") as f:
                out.append("%s wchan=%s" % (os.path.basename(t), f.read().strip()))
        except OSError:
            pass
    return "\n".join(out)


def run_micro(opt, failures):
    """Google Benchmark: medians of repetitions, randomly interleaved."""
    if opt.no_micro or not opt.micro:
        return {}
    args = [opt.micro, "--benchmark_format=json",
            "--benchmark_enable_random_interleaving=true",
            "--benchmark_report_aggregates_only=true"]
    if opt.smoke:
        args += ["--benchmark_repetitions=1", "--benchmark_min_time=0.001"]
    else:
        args += ["--benchmark_repetitions=%d" % max(3, opt.runs), "--benchmark_min_time=0.5"]
    load = loadavg()
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        failures.append("micro: timed out")
        return {}
    if p.returncode != 0:
        failures.append("micro: exit %d: %s" % (p.returncode, p.stderr.strip()[-400:]))
        return {}
    data = json.loads(p.stdout)
    out = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg not in (None, "median"):
            continue
        if agg is None and name in out:
            continue  # plain runs only when no median (repetitions=1)
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        out[name] = {"cpu_ns": b["cpu_time"] * scale, "real_ns": b["real_time"] * scale,
                     "load": load}
    return out


def run_callgrind(opt, failures):
    if opt.no_callgrind:
        return []
    if not shutil.which("valgrind"):
        if opt.require_callgrind:
            failures.append("callgrind: valgrind not found")
        return []
    rows = []
    for label, div, phases, runs, unit in callgrind_plan(opt):
        got = {}
        for lib, spec in runs:
            with tempfile.TemporaryDirectory(prefix="weft-cg-") as tmp:
                argv = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--collect-jumps=no",
                        "--callgrind-out-file=%s/cg.%%p" % tmp] + spec.argv(opt.runner)
                try:
                    p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
                except subprocess.TimeoutExpired:
                    failures.append("callgrind %s %s: timed out" % (label, lib))
                    continue
                if p.returncode != 0:
                    failures.append("callgrind %s %s: exit %d: %s" % (
                        label, lib, p.returncode, p.stderr.strip()[-400:]))
                    continue
                per = {}
                for f in glob.glob(os.path.join(tmp, "cg.*")):
                    trig, total = None, None
                    with open(f) as fh:
                        for line in fh:
                            if line.startswith("desc: Trigger: Client Request: "):
                                trig = line.split(": ", 3)[3].strip()
                            elif line.startswith("summary:") or line.startswith("totals:"):
                                total = int(line.split()[1])
                                break
                    if trig is not None and total is not None:
                        per[trig] = total
                got[lib] = {ph: per[ph] / div for ph in phases if ph in per}
                if len(got[lib]) != len(phases):
                    failures.append("callgrind %s %s: phases missing" % (label, lib))
        rows.append((label, unit, phases, got))
    return rows


# ---------------------------------------------------------------- reports

def ratio(weft, ref, better):
    if weft is None or ref is None or weft <= 0 or ref <= 0:
        return None
    return ref / weft if better == "lower" else weft / ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runner", required=True, help="path of weft-bench-run")
    ap.add_argument("--micro", help="path of weft-bench-micro (Google Benchmark)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes, one run: checks that everything runs and gives figures")
    ap.add_argument("--runs", type=int, default=3, help="runs per library (median), >= 1")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per timed run")
    ap.add_argument("--only", help="comma-separated groups: timers,loop_count,pingpong,pingpong_pairs,pingpong_syscalls,"
                    "to_thread,posts,handles,tasks,backends (micro and callgrind stay on unless disabled)")
    ap.add_argument("--no-macro", action="store_true", help="skip weft-bench-run's table")
    ap.add_argument("--no-micro", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--require-callgrind", action="store_true")
    ap.add_argument("--json", help="write every figure and the table here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each run's figures")
    opt = ap.parse_args()
    opt.only = set(opt.only.split(",")) if opt.only else None
    if opt.smoke:
        opt.runs, opt.duration = 1, 0.05

    t_start = time.time()
    uptime0 = open("/proc/loadavg").read().strip()
    print("weft vs libuv %s -- %s; %d run(s) per library, alternated, medians; "
          "timed runs %.2f s" % (libuv_version(), time.strftime("%Y-%m-%d %H:%M"),
                                 opt.runs, opt.duration), flush=True)
    print("load (/proc/loadavg) at start: %s; CPU pressure (PSI some avg10): %s%%; %d CPUs"
          % (uptime0, cpu_pressure(), os.cpu_count()), flush=True)

    R = Runner(opt)
    groups = [] if opt.no_macro else plan(opt)
    for name, specs, rows in groups:
        print("... %s (load %.2f)" % (name, loadavg()), file=sys.stderr, flush=True)
        R.run_group(name, specs)
    print("... micro (Google Benchmark)", file=sys.stderr, flush=True)
    micro = run_micro(opt, R.failures)
    print("... callgrind", file=sys.stderr, flush=True)
    cg = run_callgrind(opt, R.failures)

    # ------------------------------------------------------------ main table
    table = []
    hdr = "%-48s %-13s %10s %10s %8s %-10s %7s %5s  %s" % (
        "workload", "unit", "weft", "libuv", "ratio", "target", "load", "psi%", "note")
    missing = []
    if groups:
        print()
        print(hdr)
        print("-" * len(hdr))
    for name, specs, rows in groups:
        for row in rows:
            wv = R.median(row.weft, row.metric)
            def worst(f):
                vals = [f(x) for x in (row.weft, row.ref) if isinstance(x, Spec)]
                vals = [v for v in vals if v is not None]
                return max(vals) if vals else None
            load, psi = worst(R.load), worst(R.psi)
            rv = R.median(row.ref, row.ref_metric) if isinstance(row.ref, Spec) else row.ref
            rt = ratio(wv, rv, row.better) if rv is not None else None
            if wv is None or (isinstance(row.ref, Spec) and rv is None):
                missing.append(row.label)
            tgt, verdict = "", ""
            if row.target:
                tgt = ">=%gx" % row.target
                verdict = "" if rt is None else ("ok" if rt >= row.target else "MISS")
            elif row.abs_target:
                tgt = ">=%s" % fmt_num(row.abs_target)
                verdict = "" if wv is None else ("ok" if wv >= row.abs_target else "MISS")
            rv_s = fmt_num(rv) + (" (%s)" % row.ref_label if row.ref_label and rv else "")
            print("%-48s %-13s %10s %10s %8s %-10s %7s %5s  %s" % (
                row.label, row.unit, fmt_num(wv), rv_s if rv is not None else "-",
                ("%.2fx" % rt) if rt else "-", (tgt + " " + verdict).strip(),
                "%.2f" % load if load is not None else "-",
                "%.0f" % psi if psi is not None else "-", row.note))
            table.append({"workload": row.label, "unit": row.unit, "weft": wv, "libuv": rv,
                          "libuv_is_anchor": not isinstance(row.ref, Spec) and rv is not None,
                          "ratio": rt, "target": row.target, "abs_target": row.abs_target,
                          "verdict": verdict, "load": load, "cpu_psi": psi,
                          "note": row.note})

    # ------------------------------------------------------------ micro
    if micro:
        print()
        hdr2 = "%-48s %-13s %10s %10s %8s" % ("micro (Google Benchmark, median)", "unit",
                                              "weft", "libuv", "ratio")
        print(hdr2)
        print("-" * len(hdr2))
        ops = sorted({name.rsplit("_", 1)[0] for name in micro},
                     key=lambda op: (op + "_uv" not in micro, op))
        for op in ops:
            w = micro.get(op + "_weft", {}).get("cpu_ns")
            u = micro.get(op + "_uv", {}).get("cpu_ns")
            rt = ratio(w, u, "lower") if u is not None else None
            print("%-48s %-13s %10s %10s %8s" % (op, "CPU ns/op", fmt_num(w), fmt_num(u),
                                                ("%.2fx" % rt) if rt else "-"))
            if w is None:
                missing.append("micro " + op)
            table.append({"workload": "micro " + op, "unit": "CPU ns/op", "weft": w,
                          "libuv": u, "ratio": rt})

    # ------------------------------------------------------------ callgrind
    if cg:
        print()
        hdr3 = "%-48s %-27s %10s %10s %8s" % ("callgrind instructions (Ir)", "unit", "weft",
                                              "libuv", "ratio")
        print(hdr3)
        print("-" * len(hdr3))
        for label, unit, phases, got in cg:
            uvf = got.get("uv", {})
            for lib in [k for k in got if k != "uv"]:
                for ph in phases:
                    w, u = got[lib].get(ph), uvf.get(ph)
                    rt = ratio(w, u, "lower")
                    lab = "%s: %s%s" % (label, lib, "" if ph == "run" else " " + ph)
                    print("%-48s %-27s %10s %10s %8s" % (lab, unit, fmt_num(w), fmt_num(u),
                                                        ("%.2fx" % rt) if rt else "-"))
                    if w is None or u is None:
                        missing.append("callgrind " + lab)
                    table.append({"workload": "callgrind " + lab, "unit": unit, "weft": w,
                                  "libuv": u, "ratio": rt})

    uptime1 = open("/proc/loadavg").read().strip()
    print()
    print("load at end: %s; CPU pressure %s%%; wall %.0f s" % (uptime1, cpu_pressure(),
                                                              time.time() - t_start))
    print("columns: ratio > 1 means weft is better; load = 1-min loadavg and psi% = CPU "
          "pressure (share of the last 10 s some task waited for a CPU), worst over the "
          "row's runs")
    for f in R.failures:
        print("FAILED: " + f)
    for m in missing:
        print("NO FIGURE: " + m)

    if opt.json:
        with open(opt.json, "w") as fh:
            json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": opt.runs,
                       "duration": opt.duration, "smoke": opt.smoke,
                       "load_start": uptime0, "load_end": uptime1, "table": table,
                       "raw": [{"spec": s.name(), "figures": R.results.get(s.key(), []),
                                "loads": R.loads.get(s.key(), [])}
                               for _, specs, _ in groups for s in specs],
                       "micro": micro,
                       "callgrind": [{"label": l, "unit": u, "figures": g}
                                     for l, u, _, g in cg],
                       "failures": R.failures, "missing": missing}, fh, indent=1)
    return 1 if (R.failures or missing) else 0


def libuv_version():
    try:
        p = subprocess.run(["pkg-config", "--modversion", "libuv"], capture_output=True,
                           text=True, timeout=10)
        return p.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
