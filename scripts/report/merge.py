#!/usr/bin/env python3
"""Merges the comparison's outputs, one per language, into one JSON file.

scripts/compare runs the comparison from C and C++ (weft-compare, JSON), Lua
(examples/lua/compare.lua, text), Go (go test -bench, the standard benchmark
lines), Java (dev.weft.Compare, text) and the server section
(tests/servers/servers.py, JSON). This module reads each as it is and writes
one document with one schema (see scripts/report/README.md):

  {"schema": "weft-compare-results/1",
   "date": "2026-12-05T02:30:00Z",        # when merged (UTC)
   "commit": "da5f843", "machine": {"cpu": ..., "cpus": 2, "kernel": ...},
   "sources": {"c": {"path": ..., "date": ..., "tool": ..., ...}, ...},
   "records": [{"model": "weft tasks", "model_id": "weft", "language": "c",
                "workload": "fanout", "n": 1000, "figure": "rss_per_waiter",
                "value": 53.2, "unit": "bytes", "params": {...},
                "source": "c"}, ...]}

Usage:
  merge.py --out build/compare/results.json [--c FILE] [--lua FILE] [--go FILE]
           [--java FILE] [--servers FILE]
A missing input is noted in the document's "missing" list and skipped; an
input that cannot be parsed is an error (exit 1).
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

SCHEMA = "weft-compare-results/1"

# Canonical figures: name -> unit. Every record's figure is one of these.
FIGURES = {
    "create_per_waiter": "ns",       # creation until the waiter waits, per waiter
    "spawn_per_waiter": "ns",        # weft_task_spawn alone (C)
    "wall": "ms",                    # fan-out: first creation to last wake-up
    "rss_per_waiter": "bytes",       # RSS growth per waiter, all waiting
    "heap_per_waiter": "bytes",      # language heap (Go heap+stacks, Java heap, Lua malloc)
    "kernel_stack_per_waiter": "bytes",
    "address_space_per_waiter": "bytes",
    "switch": "ns",                  # one switch between two (or n) parties
    "switch_across_cpus": "ns",      # OS threads from C: the two threads on two CPUs
    "switch_queue": "ns",
    "switch_timer": "ns",
    "handoff": "ns",                 # a value handed between two parties
    "round_trip": "ns",              # fd ping-pong: wall / (pairs x round trips)
    "rss_per_pair": "bytes",
    "late_worst": "ns",              # blocking the loop: worst ticker lateness
    "late_mean": "ns",
    "crossing": "ns",                # one callback from C into the language
    "requests_per_s": "requests/s",  # server section
    "cpu_per_request": "us",
    "rss_per_connection": "bytes",
    "idle_rss": "bytes",
}

LANGUAGES = {"c": "C", "c++": "C++", "go": "Go", "java": "Java", "lua": "Lua"}


class ParseError(Exception):
    """An input that is not in the format its parser reads."""


def record(model, model_id, language, workload, n, figure, value, source, params=None):
    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure}")
    r = {"model": model, "model_id": model_id, "language": language, "workload": workload,
         "n": int(n), "figure": figure, "value": float(value), "unit": FIGURES[figure],
         "source": source}
    if params:
        r["params"] = params
    return r


# ---------------------------------------------------------------- units

_TIME_NS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}
_BYTES = {"B": 1.0, "KB": 1024.0, "KiB": 1024.0, "MB": 1024.0 ** 2, "MiB": 1024.0 ** 2,
          "GB": 1024.0 ** 3, "GiB": 1024.0 ** 3}


def to_ns(text):
    """'1.41 us' -> 1410.0 (nanoseconds)."""
    v, u = text.split()
    return float(v.replace(",", "")) * _TIME_NS[u]


def to_bytes(text):
    """'1.37 KiB' -> 1402.88 (bytes; KB as printed by the Java comparison is 1024)."""
    v, u = text.split()
    return float(v.replace(",", "")) * _BYTES[u]


def to_int(text):
    return int(text.replace(",", "").rstrip("*"))


# ---------------------------------------------------------------- C (JSON)

# C metric -> (figure, factor to the figure's unit)
_C_FANOUT = {"create_ns": ("create_per_waiter", 1.0), "spawn_ns": ("spawn_per_waiter", 1.0),
             "wall_ns": ("wall", 1e-6)}
_C_PER_N = {"rss_delta": "rss_per_waiter", "vm_delta": "address_space_per_waiter",
            "kstack_delta": "kernel_stack_per_waiter"}
_C_SWITCH = {"switch_ns": "switch", "switch_queue_ns": "switch_queue", "switch_timer_ns": "switch_timer"}


def parse_c(doc, source="c"):
    """weft-compare --json: weft tasks, callbacks, C++ coroutines, threads, libuv."""
    if doc.get("tool") != "weft-compare" or "results" not in doc:
        raise ParseError("not a weft-compare JSON document")
    titles = {k: v.get("title", k) for k, v in doc.get("table", {}).items()}
    sleep_ms = doc.get("options", {}).get("fanout_sleep_ms", 100)
    out = []
    for r in doc["results"]:
        if not r.get("ok"):
            continue
        mid = r["model"]
        lang = "c++" if mid.endswith("-cpp") else "c"
        model = titles.get(mid, mid)
        m = r["metrics"]
        w = r["workload"]

        def add(workload, n, fig, v, params=None):
            if v is not None:
                out.append(record(model, mid, lang, workload, n, fig, v, source, params))

        if w == "fanout":
            n = m.get("created", r["n"])  # threads stop at the cap
            params = {"sleep_ms": sleep_ms}
            if n != r["n"]:
                params["asked"] = r["n"]
            for k, (fig, f) in _C_FANOUT.items():
                if m.get(k) is not None:
                    add("fanout", n, fig, m[k] * f, params)
            # per-waiter memory from 1,000 up: below, allocation chunks dominate
            if n >= 1000:
                for k, fig in _C_PER_N.items():
                    if m.get(k) is not None:
                        alive = m.get("kstack_sampled_alive", n) if k == "kstack_delta" else n
                        if alive:
                            add("fanout", n, fig, m[k] / alive, params)
        elif w == "switch":
            if m.get("switch_1cpu_ns") is not None:
                # threads: weft-compare's table takes both pinned to one CPU as the switch (a
                # context switch proper); across two CPUs it is a cross-CPU wake-up
                m = dict(m, switch_ns=m["switch_1cpu_ns"])
                add("switch", 2, "switch_across_cpus", r["metrics"].get("switch_ns"))
            for k, fig in _C_SWITCH.items():
                add("switch", 2, fig, m.get(k))
        elif w == "fdpp":
            params = {"round_trips": r.get("k", m.get("k"))}
            add("pingpong", r["n"], "round_trip", m.get("rtt_ns"), params)
            if r["n"] >= 100 and m.get("rss_delta") is not None:
                add("pingpong", r["n"], "rss_per_pair", m["rss_delta"] / r["n"], params)
        elif w == "block":
            for mode in ("inline", "offload", "onecpu"):
                for k, fig in (("worst_ns", "late_worst"), ("mean_ns", "late_mean")):
                    add("block", 0, fig, m.get(f"{mode}_{k}"), {"mode": mode})
    meta = {"tool": "weft-compare", "weft_version": doc.get("weft_version"),
            "libuv_version": doc.get("libuv_version"), "quick": doc.get("quick"),
            "kernel": doc.get("machine", {}).get("kernel"),
            "cpus": doc.get("machine", {}).get("cpus"),
            "load": [doc.get("machine", {}).get("loadavg_start"),
                     doc.get("machine", {}).get("loadavg_end")]}
    return out, meta


# ---------------------------------------------------------------- Lua (text)

_LUA_NUM_UNIT = r"[\d.,]+ [a-zA-Zµ]+"


def parse_lua(text, source="lua"):
    """examples/lua/compare.lua's report: weft coroutines/callbacks vs luv."""
    lines = text.splitlines()
    if not any("Lua binding vs luv" in ln for ln in lines):
        raise ParseError("not the output of examples/lua/compare.lua")
    out, meta = [], {"tool": "examples/lua/compare.lua"}
    section, sleep_ms = None, None
    for ln in lines:
        if "Lua binding vs luv" in ln:
            meta["header"] = ln.strip()
            meta["quick"] = "quick mode" in ln
            continue
        m = re.match(r"fan-out sleep: N waiters each sleep ([\d.]+) (ms|s)", ln)
        if m:
            section = "fanout"
            sleep_ms = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
            continue
        if ln.startswith("switch:"):
            section = "switch"
            continue
        if ln.startswith("fd ping-pong:"):
            section = "pingpong"
            continue
        if ln.startswith("C->Lua crossing"):
            section = "crossing"
            continue
        if not ln.strip() or ln.startswith("model "):
            continue
        if section == "fanout":
            m = re.match(rf"^(.+?)\s+(\d+)\s+({_LUA_NUM_UNIT})\s+({_LUA_NUM_UNIT})\s+({_LUA_NUM_UNIT})\s*$", ln)
            if m:
                model, n = m.group(1).strip(), int(m.group(2))
                p = {"sleep_ms": sleep_ms}
                out.append(record(model, model, "lua", "fanout", n, "create_per_waiter", to_ns(m.group(3)), source, p))
                # malloc'd bytes (Lua heap included), not RSS
                out.append(record(model, model, "lua", "fanout", n, "heap_per_waiter", to_bytes(m.group(4)), source, p))
                out.append(record(model, model, "lua", "fanout", n, "wall", to_ns(m.group(5)) / 1e6, source, p))
        elif section == "switch":
            m = re.match(rf"^(.+?)\s+(\d+)\s+({_LUA_NUM_UNIT})(.*)$", ln)
            if m:
                model = m.group(1).strip()
                p = {"switches": int(m.group(2))}
                if "hand-off" in m.group(4):
                    out.append(record(model, model, "lua", "handoff", 2, "handoff", to_ns(m.group(3)), source, p))
                else:
                    out.append(record(model, model, "lua", "switch", 2, "switch", to_ns(m.group(3)), source, p))
        elif section == "pingpong":
            m = re.match(r"^(.+?)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+" + _LUA_NUM_UNIT + r"\s*$", ln)
            if m:
                model = m.group(1).strip()
                # a round trip is two messages: 2e9 / (messages per second) ns
                rt = 2e9 / float(m.group(4))
                out.append(record(model, model, "lua", "pingpong", int(m.group(2)), "round_trip", rt, source,
                                  {"round_trips": int(m.group(3))}))
        elif section == "crossing":
            m = re.match(r"^\s*crossing C->Lua:\s+([\d.]+ \S+) per callback", ln)
            if m:
                out.append(record("weft callbacks", "weft", "lua", "crossing", 1, "crossing", to_ns(m.group(1)), source))
    if not out:
        raise ParseError("no figures found in the Lua report")
    return out, meta


# ---------------------------------------------------------------- Go (go test -bench)

_GO_MODELS = {"weft": "weft tasks", "goroutines": "goroutines"}
# benchmark name -> workload; metric unit -> (figure, factor)
_GO_BENCH = {"FanOutSleep": "fanout", "Switch": "switch", "HandOff": "handoff",
             "PingPong": "pingpong", "Memory": "waiters", "Crossing": "crossing",
             "Callbacks": "callbacks"}
_GO_METRICS = {"wall-ms": ("wall", 1.0), "ns/switch": ("switch", 1.0), "ns/hand-off": ("handoff", 1.0),
               "ns/roundtrip": ("round_trip", 1.0), "rss-B/waiter": ("rss_per_waiter", 1.0),
               "go-B/waiter": ("heap_per_waiter", 1.0), "ns/crossing": ("crossing", 1.0)}


def parse_go(text, source="go"):
    """The standard benchmark lines of bindings/go/weft_bench_test.go's run."""
    out, meta = [], {"tool": "go test -bench (bindings/go/weft_bench_test.go)"}
    for ln in text.splitlines():
        if ln.startswith("cpu: "):
            meta["cpu"] = ln[5:].strip()
            continue
        m = re.match(r"^weft tasks vs goroutines \((.*)\)", ln)
        if m:
            meta["header"] = m.group(1)
            continue
        m = re.match(r"^Benchmark(\w+)/(\S+?)(?:-\d+)?\s+\d+\s+(.*)$", ln)
        if not m:
            continue
        bench, name, rest = m.group(1), m.group(2), m.group(3)
        workload = _GO_BENCH.get(bench)
        if workload is None:
            continue
        metrics, toks = {}, rest.split()
        for v, u in zip(toks[0::2], toks[1::2]):  # "101.7 wall-ms" pairs
            try:
                metrics[u] = float(v)
            except ValueError:
                raise ParseError(f"not a benchmark line: {ln}") from None
        parts = name.split("/")
        if workload in ("crossing",):
            where = parts[0]  # loop-thread, pool-thread
            if "ns/crossing" in metrics:
                out.append(record("weft callbacks", "weft", "go", "crossing", 1, "crossing",
                                  metrics["ns/crossing"], source, {"thread": where}))
            continue
        if workload == "callbacks" or len(parts) != 2:
            continue
        size, mid = parts
        sm = re.match(r"(N|pairs)=(\d+)", size)
        if not sm or mid not in _GO_MODELS:
            continue
        n = int(sm.group(2))
        params = None
        if workload in ("switch", "handoff"):
            params, n = {"switches": n}, 2  # two parties, n hand-offs
        elif workload == "fanout":
            params = {"sleep_ms": 100}
        elif workload == "pingpong":
            params = {"round_trips": 10}
        for unit, (fig, f) in _GO_METRICS.items():
            if unit in metrics:
                out.append(record(_GO_MODELS[mid], mid, "go", workload, n, fig, metrics[unit] * f, source, params))
    if not out:
        raise ParseError("no benchmark lines found in the Go output")
    return out, meta


# ---------------------------------------------------------------- Java (text)

_JAVA_MODELS = {"weft": "weft tasks", "platform": "platform threads", "virtual": "virtual threads"}


def parse_java(text, source="java"):
    """dev.weft.Compare's report: weft tasks vs platform and virtual threads."""
    lines = text.splitlines()
    if not any(re.match(r"^weft \S+ from Java", ln) for ln in lines):
        raise ParseError("not the output of dev.weft.Compare")
    out, meta = [], {"tool": "dev.weft.Compare"}
    section = None
    num = r"-?[\d.,]+"
    for ln in lines:
        if re.match(r"^weft \S+ from Java", ln):
            meta["header"] = ln.strip()
            meta["quick"] = "quick mode" in ln
            continue
        m = re.match(rf"^C->Java callback crossing: ({num}) ns", ln)
        if m:
            out.append(record("weft callbacks", "weft", "java", "crossing", 1, "crossing", float(m.group(1)), source))
            continue
        m = re.match(r"^\d\. (fan-out|switch|socket ping-pong)", ln)
        if m:
            section = {"fan-out": "fanout", "switch": "switch", "socket ping-pong": "pingpong"}[m.group(1)]
            continue
        parts = ln.split()
        if len(parts) < 3 or parts[0] not in _JAVA_MODELS or "skipped:" in ln or "failed:" in ln:
            continue
        mid, model = parts[0], _JAVA_MODELS[parts[0]]
        if section == "fanout":
            m = re.match(rf"^\S+\s+({num}\*?)\s+({num} us)\s+({num} KB)\s+({num}) B\s+({num}) ms\s*$", ln)
            if m:
                n = to_int(m.group(1))
                p = {"sleep_ms": 100}
                out.append(record(model, mid, "java", "fanout", n, "create_per_waiter", to_ns(m.group(2)), source, p))
                out.append(record(model, mid, "java", "fanout", n, "rss_per_waiter", to_bytes(m.group(3)), source, p))
                out.append(record(model, mid, "java", "fanout", n, "heap_per_waiter", float(m.group(4)), source, p))
                out.append(record(model, mid, "java", "fanout", n, "wall", float(m.group(5)), source, p))
        elif section == "switch":
            m = re.match(rf"^\S+\s+\S+\s+({num}) ns\s+-\s+({num})\s+\(per hand-off\)", ln)
            if m:
                out.append(record(model, mid, "java", "handoff", 2, "handoff", float(m.group(1)), source,
                                  {"switches": to_int(m.group(2))}))
                continue
            m = re.match(rf"^\S+\s+({num}\*?)\s+({num}) ns\s+({num} us)\s+({num})\s*$", ln)
            if m:
                n = to_int(m.group(1))
                out.append(record(model, mid, "java", "switch", n, "switch", float(m.group(2)), source,
                                  {"switches": to_int(m.group(4))}))
                out.append(record(model, mid, "java", "switch", n, "create_per_waiter", to_ns(m.group(3)), source))
        elif section == "pingpong":
            m = re.match(rf"^\S+\s+({num}\*?)\s+({num} us)\s+({num})\s+({num}) ms\s*$", ln)
            if m:
                out.append(record(model, mid, "java", "pingpong", to_int(m.group(1)), "round_trip",
                                  to_ns(m.group(2)), source))
    if not out:
        raise ParseError("no figures found in the Java report")
    return out, meta


# ---------------------------------------------------------------- servers (JSON)

_SERVER_FIGURES = {"requests_per_s", "cpu_per_request", "rss_per_connection", "idle_rss"}


def parse_servers(doc, source="servers"):
    """tests/servers/servers.py bench --json: records of (model, language, workload, n, figure)."""
    if doc.get("tool") != "compare-servers" or "results" not in doc:
        raise ParseError("not a compare-servers JSON document")
    out = []
    for r in doc["results"]:
        if r["figure"] not in _SERVER_FIGURES:
            continue
        out.append(record(r["model"], r["model"], r["language"], r["workload"], r["n"], r["figure"],
                          r["value"], source, {"rounds": r.get("rounds"), "requests": doc.get("requests")}))
    m = doc.get("machine", {})
    meta = {"tool": "tests/servers/servers.py", "client": doc.get("client"),
            "requests": doc.get("requests"), "rounds": doc.get("rounds"), "kernel": m.get("kernel"),
            "cpus": m.get("cpus"), "load": [m.get("loadavg_start"), m.get("loadavg_end")],
            "redis_server_version": doc.get("redis_server_version"),
            "skipped": doc.get("skipped", []), "errors": doc.get("errors", [])}
    return out, meta


# ---------------------------------------------------------------- merge

PARSERS = {"c": (parse_c, "json"), "lua": (parse_lua, "text"), "go": (parse_go, "text"),
           "java": (parse_java, "text"), "servers": (parse_servers, "json")}


def machine():
    """This machine: CPU model, CPU count, kernel."""
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = platform.uname()
    return {"cpu": cpu or u.machine, "cpus": os.cpu_count(),
            "kernel": f"{u.system} {u.release} {u.machine}"}


def commit(repo):
    try:
        c = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def merge(inputs, date=None, mach=None, rev=None):
    """inputs: {source: path}. Returns the merged document."""
    doc = {"schema": SCHEMA, "date": date or iso(datetime.datetime.now().timestamp()),
           "commit": rev, "machine": mach or machine(), "sources": {}, "missing": [], "records": []}
    for key, path in inputs.items():
        if not path:
            continue
        if not os.path.exists(path):
            doc["missing"].append({"source": key, "path": path})
            continue
        parse, kind = PARSERS[key]
        with open(path, encoding="utf-8") as f:
            data = f.read()
        if kind == "text":
            # captured through a terminal-minded tool (ninja, mvn): drop colour escapes
            data = ANSI.sub("", data)
        if kind == "json":
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise ParseError(f"{path}: {e}") from e
        try:
            recs, meta = parse(data, key)
        except ParseError as e:
            raise ParseError(f"{path}: {e}") from e
        meta.update({"path": path, "date": iso(os.path.getmtime(path)), "records": len(recs)})
        doc["sources"][key] = meta
        doc["records"].extend(recs)
    return doc


def dump(doc, f):
    """Writes DOC as JSON with one record per line (diffable, compact)."""
    head = {k: v for k, v in doc.items() if k != "records"}
    text = json.dumps(head, indent=1)
    assert text.endswith("\n}")
    recs = ",\n  ".join(json.dumps(r, ensure_ascii=False) for r in doc.get("records", []))
    f.write(text[:-2] + ',\n "records": [\n  ' + recs + "\n ]\n}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the merged JSON file to write")
    for key in PARSERS:
        ap.add_argument(f"--{key}", help=f"the {key} comparison's output")
    ap.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                    help="the checkout whose commit is recorded")
    a = ap.parse_args(argv)
    try:
        doc = merge({k: getattr(a, k) for k in PARSERS}, rev=commit(a.repo))
    except ParseError as e:
        print(f"merge.py: {e}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        dump(doc, f)
    srcs = ", ".join(f"{k} {v['records']}" for k, v in doc["sources"].items()) or "none"
    print(f"merge.py: {len(doc['records'])} records ({srcs}) -> {a.out}")
    for m in doc["missing"]:
        print(f"merge.py: no {m['source']} results ({m['path']} missing): skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
