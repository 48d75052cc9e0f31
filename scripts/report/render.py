#!/usr/bin/env python3
"""Renders the merged comparison (merge.py's JSON) as charts and one HTML page.

  render.py build/compare/results.json --out-dir build/compare

writes OUT_DIR/charts/*.svg (one per chart; a chart whose data is absent is
not drawn) and OUT_DIR/report.html, a single self-contained page (the charts
are embedded as data: URIs, no scripts, no outside resources) with the seeds'
cost table as weft measured it and every chart. Needs matplotlib (Debian's
python3-matplotlib). Every chart carries the machine, the data's date and the
commit in its footer.
"""

import argparse
import base64
import html
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Reproducible SVG: no timestamp, fixed ids; glyphs as paths (no font needed to view).
plt.rcParams.update({"svg.hashsalt": "weft", "svg.fonttype": "path", "font.size": 9,
                     "axes.titlesize": 10, "legend.fontsize": 7.5, "figure.dpi": 100})

LANG_NAMES = {"c": "C", "c++": "C++", "go": "Go", "java": "Java", "lua": "Lua"}
LANG_ORDER = ["c", "c++", "lua", "go", "java"]
LANG_MARKERS = {"c": "o", "c++": "D", "go": "s", "java": "^", "lua": "v"}


# ---------------------------------------------------------------- formatting

def fmt_bytes(v):
    if v is None:
        return "-"
    for unit, f in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if abs(v) >= f:
            return f"{v / f:.1f} {unit}"
    return f"{v:.0f} B"


def fmt_ns(v):
    if v is None:
        return "-"
    for unit, f in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(v) >= f:
            return f"{v / f:.3g} {unit}" if v / f < 100 else f"{v / f:.0f} {unit}"
    return f"{v:.1f} ns"


# ---------------------------------------------------------------- data access

class Data:
    """Queries on the merged records."""

    def __init__(self, doc):
        self.doc = doc
        self.records = doc.get("records", [])

    def series(self, pred=lambda r: True):
        """The (language, model) pairs with a matching record, in a stable order."""
        seen = []
        for r in self.records:
            k = (r["language"], r["model"])
            if pred(r) and k not in seen:
                seen.append(k)
        return sorted(seen, key=lambda k: (LANG_ORDER.index(k[0]) if k[0] in LANG_ORDER else 99,
                                           seen.index(k)))

    def values(self, lang, model, figure, workload=None, n=None):
        """{n: median value} for one series and figure (median over duplicates)."""
        by = {}
        for r in self.records:
            if (r["language"], r["model"], r["figure"]) != (lang, model, figure):
                continue
            if workload is not None and r["workload"] != workload:
                continue
            if n is not None and r["n"] != n:
                continue
            by.setdefault(r["n"], []).append(r["value"])
        return {k: statistics.median(v) for k, v in sorted(by.items())}

    def one(self, lang, model, figure, workload=None, n=None, largest=False):
        v = self.values(lang, model, figure, workload, n)
        if not v:
            return None, None
        k = max(v) if largest else min(v)
        return k, v[k]

    def sources_for(self, pred):
        return sorted({r["source"] for r in self.records if pred(r)})


def label(lang, model):
    return f"{model} ({LANG_NAMES.get(lang, lang)})"


class Style:
    """One colour per series across every chart."""

    CHARTED = ("rss_per_waiter", "heap_per_waiter", "create_per_waiter", "switch", "wall", "round_trip")

    def __init__(self, data):
        allseries = data.series(lambda r: r["figure"] in self.CHARTED and not r["workload"].startswith("resp-"))
        cmap = plt.get_cmap("tab20")
        self.colors = {k: cmap(i % 20) for i, k in enumerate(allseries)}

    def __call__(self, key):
        return {"color": self.colors.get(key, "black"), "marker": LANG_MARKERS.get(key[0], "o")}


def footer(fig, data, sources):
    d, m = data.doc, data.doc.get("machine", {})
    dates = sorted({d["sources"][s]["date"][:10] for s in sources if s in d.get("sources", {})})
    when = " / ".join(dates) if dates else d.get("date", "?")[:10]
    text = (f"{m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, {m.get('kernel', '?')} (shared machine)  ·  "
            f"measured {when}  ·  weft {d.get('commit') or '?'}  ·  sources: {', '.join(sources)}")
    fig.text(0.01, 0.005, text, fontsize=6.5, color="#555", ha="left", va="bottom")


def save(fig, path):
    # "tight": the saved area grows to every label, legend and the footer
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)


# ---------------------------------------------------------------- charts

def chart_memory(data, style, path):
    mem = lambda r: r["figure"] in ("rss_per_waiter", "heap_per_waiter") and r["workload"] in ("fanout", "waiters")
    series = data.series(mem)
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for key in series:
        v = data.values(*key, "rss_per_waiter")
        kind = "RSS"
        if not v:
            v, kind = data.values(*key, "heap_per_waiter"), "heap"
        v = {n: x for n, x in v.items() if n >= 1000 and x > 0}
        if not v:
            continue
        ax.plot(list(v), list(v.values()), label=f"{label(*key)}" + (" [heap]" if kind == "heap" else ""),
                linestyle="-" if kind == "RSS" else "--", **style(key))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N waiters alive at once")
    ax.set_ylabel("bytes per waiter")
    ax.set_title("Memory per waiter against N (RSS growth / N; dashed: language heap only)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.subplots_adjust(left=0.09, right=0.68, bottom=0.16, top=0.92)
    footer(fig, data, data.sources_for(mem))
    save(fig, path)
    return "Memory per waiter against N"


def creation_value(data, key):
    """Creation per waiter at the largest N measured (fan-out; Java switch parties otherwise)."""
    for workload in ("fanout", "switch"):
        n, v = data.one(*key, "create_per_waiter", workload, largest=True)
        if v is not None:
            return n, v
    return None, None


def switch_value(data, key):
    n, v = data.one(*key, "switch", "switch", n=2)
    return v


def hbars(ax, rows, style, xlabel):
    """rows: (series, value, note); a bar per row, log scale, the value written at its end."""
    rows = [r for r in rows if r[1] is not None and r[1] > 0]
    ys = range(len(rows))
    ax.barh(list(ys), [r[1] for r in rows], color=[style(r[0])["color"] for r in rows])
    ax.set_yticks(list(ys))
    ax.set_yticklabels([label(*r[0]) + (f", {r[2]}" if r[2] else "") for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    for y, r in zip(ys, rows):
        ax.text(r[1], y, " " + fmt_ns(r[1]), va="center", fontsize=7)
    return len(rows)


def chart_costs(data, style, path):
    pred = lambda r: r["figure"] in ("create_per_waiter", "switch")
    series = data.series(pred)
    create = [(k, v, f"N={n:,}" if n else "") for k in series for n, v in [creation_value(data, k)]]
    switch = []
    for k in series:
        across = data.one(*k, "switch_across_cpus", "switch", n=2)[1]
        switch.append((k, switch_value(data, k), "one CPU" if across else ""))
        if across:
            switch.append((k, across, "across CPUs"))
    if not any(r[1] for r in create + switch):
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.32 * len(series) + 2.2))
    hbars(a1, create, style, "ns per waiter (log)")
    a1.set_title("Creation per waiter (until it waits; at the largest N)")
    hbars(a2, switch, style, "ns per switch (log)")
    a2.set_title("Switch: two parties hand a turn back and forth")
    fig.subplots_adjust(left=0.2, right=0.97, wspace=0.9, bottom=0.13, top=0.92)
    footer(fig, data, data.sources_for(pred))
    save(fig, path)
    return "Creation and switch cost per model"


def chart_fanout(data, style, path):
    pred = lambda r: r["workload"] == "fanout" and r["figure"] == "wall"
    series = data.series(pred)
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.8))
    sleeps = set()
    for key in series:
        v = data.values(*key, "wall", "fanout")
        ax.plot(list(v), list(v.values()), label=label(*key), **style(key))
    for r in data.records:
        if pred(r):
            sleeps.add(r.get("params", {}).get("sleep_ms"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    for s in sorted(x for x in sleeps if x):
        ax.axhline(s, color="#888", linestyle=":", linewidth=1)
        ax.text(0.01, s, f"ideal: {s:g} ms (the sleep)", transform=ax.get_yaxis_transform(),
                fontsize=7, color="#555", va="bottom")
    ax.set_xlabel("N waiters, each sleeping at once")
    ax.set_ylabel("wall time, first creation to last wake-up (ms)")
    ax.set_title("Fan-out sleep: wall time against N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.subplots_adjust(left=0.1, right=0.7, bottom=0.16, top=0.92)
    footer(fig, data, data.sources_for(pred))
    save(fig, path)
    return "Fan-out wall time against N"


def chart_pingpong(data, style, path):
    pred = lambda r: r["workload"] == "pingpong" and r["figure"] == "round_trip"
    series = data.series(pred)
    if not series:
        return None
    one = [(k, data.values(*k, "round_trip", "pingpong").get(1), "") for k in series]
    one = [r for r in one if r[1]]
    many = [k for k in series if any(n > 1 for n in data.values(*k, "round_trip", "pingpong"))]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, max(4.2, 0.3 * len(one) + 2.2)),
                                 gridspec_kw={"width_ratios": [1, 1.3]})
    if one:
        hbars(a1, one, style, "ns per round trip (log)")
        a1.set_title("One socket pair")
    else:
        a1.set_axis_off()
        a1.text(0.5, 0.5, "no one-pair runs", ha="center")
    for key in many:
        v = {n: x for n, x in data.values(*key, "round_trip", "pingpong").items() if n > 1}
        a2.plot(list(v), list(v.values()), label=label(*key), **style(key))
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("socket pairs, all bouncing at once")
    a2.set_ylabel("ns per round trip (wall / round trips)")
    a2.set_title("Many pairs")
    a2.grid(True, which="both", alpha=0.3)
    if many:
        a2.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("fd ping-pong: cost of one round trip (two messages, two wake-ups)", fontsize=10)
    fig.subplots_adjust(left=0.17, right=0.78, wspace=0.75, bottom=0.17, top=0.88)
    footer(fig, data, data.sources_for(pred))
    save(fig, path)
    return "fd ping-pong round-trip cost"


SERVER_TESTS = ["resp-ping_inline", "resp-ping_mbulk", "resp-set", "resp-get"]


def chart_servers(data, style, path):
    pred = lambda r: r["workload"].startswith("resp-") and r["figure"] in ("requests_per_s", "cpu_per_request")
    recs = [r for r in data.records if pred(r)]
    if not recs:
        return None
    conns = sorted({r["n"] for r in recs})
    tests = [t for t in SERVER_TESTS if any(r["workload"] == t for r in recs)]
    tests += sorted({r["workload"] for r in recs} - set(tests))
    series = data.series(pred)
    fig, axes = plt.subplots(2, len(conns), figsize=(5.2 * len(conns) + 1.5, 0.28 * len(series) * 2 + 5),
                             squeeze=False)
    cmap = plt.get_cmap("Set2")
    for col, c in enumerate(conns):
        for row, (fig_name, xl, t) in enumerate(
                (("requests_per_s", "requests/s", "requests/s"),
                 ("cpu_per_request", "server CPU µs per request", "server CPU per request"))):
            ax = axes[row][col]
            h = 0.8 / max(1, len(tests))
            for ti, test in enumerate(tests):
                ys, xs = [], []
                for si, key in enumerate(series):
                    v = data.values(*key, fig_name, test, n=c).get(c)
                    if v is not None:
                        ys.append(si + ti * h - 0.4 + h / 2)
                        xs.append(v)
                ax.barh(ys, xs, height=h, color=cmap(ti), label=test[5:].upper())
            ax.set_yticks(range(len(series)))
            ax.set_yticklabels([f"{m} ({LANG_NAMES.get(lg, lg)})" for lg, m in series])
            ax.invert_yaxis()
            ax.set_xlabel(xl)
            ax.set_title(f"{t}, {c:,} connections")
            ax.grid(True, axis="x", alpha=0.3)
            if row == 0 and col == len(conns) - 1:
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="test")
    srcs = data.sources_for(pred)
    meta = data.doc.get("sources", {}).get("servers", {})
    fig.suptitle("Servers: RESP judged by redis-benchmark, medians of "
                 f"{meta.get('rounds', '?')} rounds, {meta.get('requests', '?')} requests per test", fontsize=10)
    fig.subplots_adjust(left=0.15, right=0.86, wspace=0.6, hspace=0.35, bottom=0.08, top=0.92)
    footer(fig, data, srcs)
    save(fig, path)
    return "Servers: requests/s and CPU per request"


CHARTS = [("memory", chart_memory), ("costs", chart_costs), ("fanout", chart_fanout),
          ("pingpong", chart_pingpong), ("servers", chart_servers)]


# ---------------------------------------------------------------- the seeds' table

# The seeds' table (/work/shared/seeds: "Cost Comparison: Thread vs Coroutine").
SEED_ROWS = [
    ("Memory", "1-2 MB (stack)", "~1 KB (state object)"),
    ("Creation time", "~50 µs (system call)", "~1 µs (Python object)"),
    ("Context switch", "~1-5 µs (OS scheduler)", "~0.1 µs (Python function call)"),
    ("Managed by", "OS kernel", "Python event loop"),
    ("At 10,000 concurrent", "~20 GB memory", "~10 MB memory"),
]

MANAGED_BY = {"weft tasks": "weft loop", "weft callbacks": "weft loop", "weft recv/send": "weft loop",
              "C++ coroutines": "weft loop", "weft coroutines": "weft loop", "OS threads": "OS kernel",
              "platform threads": "OS kernel", "virtual threads": "JVM scheduler", "goroutines": "Go runtime",
              "libuv": "libuv loop", "luv callbacks": "libuv loop", "luv coroutines": "libuv loop"}


def seed_cells(data, key):
    """The measured figures of one series for the seeds' rows."""
    rss = data.values(*key, "rss_per_waiter")
    heap = data.values(*key, "heap_per_waiter")
    mem_src, mark = (rss, "") if rss else (heap, " (heap)")
    cells = []
    if mem_src:
        n = max(mem_src)
        s = fmt_bytes(mem_src[n]) + mark
        ks = data.values(*key, "kernel_stack_per_waiter").get(n)
        if ks:
            s += f"<br>+ {fmt_bytes(ks)} kernel stack"
        cells.append(f"{s}<br><small>N = {n:,}</small>")
    else:
        cells.append("-")
    n, v = creation_value(data, key)
    cells.append(f"{fmt_ns(v)}<br><small>N = {n:,}</small>" if v is not None else "-")
    v = switch_value(data, key)
    across = data.one(*key, "switch_across_cpus", "switch", n=2)[1]
    cells.append((fmt_ns(v) if v is not None else "-") +
                 (f" (one CPU)<br><small>across CPUs: {fmt_ns(across)}</small>" if across else ""))
    cells.append(MANAGED_BY.get(key[1], "-"))
    v = mem_src.get(10000) if mem_src else None
    if v is not None:
        s = fmt_bytes(v * 10000) + mark
        ks = data.values(*key, "kernel_stack_per_waiter").get(10000)
        if ks:
            s += f"<br>+ {fmt_bytes(ks * 10000)} kernel stacks"
        cells.append(s)
    else:
        cells.append("not measured")
    return cells


def seeds_table(data):
    pred = lambda r: r["figure"] in ("rss_per_waiter", "heap_per_waiter", "create_per_waiter", "switch")
    series = data.series(pred)
    groups = []
    for key in series:
        if groups and groups[-1][0] == key[0]:
            groups[-1][1].append(key)
        else:
            groups.append((key[0], [key]))
    cols = {key: seed_cells(data, key) for key in series}
    h = ['<table id="seeds-table">', "<thead><tr><th rowspan=2></th><th colspan=2>the seeds say</th>"]
    h += [f'<th colspan={len(ks)}>measured from {LANG_NAMES.get(lg, lg)}</th>' for lg, ks in groups]
    h.append("</tr><tr><th>OS thread</th><th>coroutine</th>")
    h += [f"<th>{html.escape(m)}</th>" for _, m in series]
    h.append("</tr></thead><tbody>")
    for i, (name, thread, coro) in enumerate(SEED_ROWS):
        h.append(f'<tr><th scope="row">{name}</th><td class="seed">{html.escape(thread)}</td>'
                 f'<td class="seed">{html.escape(coro)}</td>')
        h += [f"<td>{cols[k][i]}</td>" for k in series]
        h.append("</tr>")
    h.append("</tbody></table>")
    return "\n".join(h), len(series)


# ---------------------------------------------------------------- the page

CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
#seeds-table td { white-space: nowrap; }
#seeds-table td.seed { white-space: normal; min-width: 7em; }
thead th { background: #f0f0f0; text-align: center; }
tbody th { text-align: left; background: #fafafa; }
td.seed { background: #fff8e0; font-style: italic; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
.meta td, .meta th { text-align: left; }
.scroll { overflow-x: auto; }
small { color: #666; }
"""


def page(data, charts):
    d = data.doc
    m = d.get("machine", {})
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>weft: the comparison of concurrency models</title>", f"<style>{CSS}</style></head><body>",
           "<h1>weft: the comparison of concurrency models</h1>",
           "<p>Every figure below comes from one run of <code>scripts/compare</code> (or its parts), "
           "merged by <code>scripts/report/merge.py</code>; the tables with every column are in "
           "<code>docs/BENCHMARKS.md</code>. The machine is shared with other work: read the figures as "
           "ratios of things measured side by side, not as absolutes.</p>",
           '<table class="meta" id="run-meta">',
           f"<tr><th>merged</th><td>{e(d.get('date', '?'))}</td></tr>",
           f"<tr><th>commit</th><td>{e(str(d.get('commit') or '?'))}</td></tr>",
           f"<tr><th>machine</th><td>{e(str(m.get('cpu')))}, {e(str(m.get('cpus')))} CPUs, "
           f"{e(str(m.get('kernel')))}</td></tr>"]
    for k, s in d.get("sources", {}).items():
        extra = []
        if s.get("quick") and "quick" not in s.get("header", ""):
            extra.append("quick mode")
        if s.get("header"):
            extra.append(s["header"])
        loads = [float(str(x).split()[0]) for x in s.get("load") or [] if x is not None]
        if loads:
            extra.append("load average " + " → ".join(f"{x:.2f}" for x in loads))
        out.append(f"<tr><th>source: {e(k)}</th><td>{e(s.get('date', '?'))}, {e(s.get('tool', '?'))}, "
                   f"{s.get('records', 0)} figures{(' (' + e('; '.join(extra)) + ')') if extra else ''}</td></tr>")
    for mi in d.get("missing", []):
        out.append(f"<tr><th>source: {e(mi['source'])}</th><td>not run ({e(mi['path'])} missing)</td></tr>")
    out.append("</table>")
    table, ncols = seeds_table(data)
    out += ["<h2>The seeds' cost table, as weft measured it</h2>",
            "<p>The rows of the seeds' “Thread vs Coroutine” table; the two shaded columns are the "
            "seeds' claims, the others measured here, each model in its own process. Memory: RSS growth per "
            "waiter with all waiting, at the largest N measured (“(heap)”: only what the language's allocator "
            "counted, where RSS was not measured; from Lua, weft's own pools are not in it); creation: "
            "until the waiter waits; switch: two parties taking turns.</p>",
            f'<div class="scroll">{table}</div>']
    out.append("<h2>Charts</h2>")
    if not charts:
        out.append("<p>No data to chart.</p>")
    for name, title, svg in charts:
        b64 = base64.b64encode(svg).decode("ascii")
        out.append(f'<figure id="chart-{name}"><figcaption>{e(title)}</figcaption>'
                   f'<img src="data:image/svg+xml;base64,{b64}" alt="{e(title)}"></figure>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(doc, out_dir):
    """Writes the charts and report.html; returns (report path, [chart paths])."""
    data = Data(doc)
    style = Style(data)
    cdir = os.path.join(out_dir, "charts")
    os.makedirs(cdir, exist_ok=True)
    charts, paths = [], []
    for name, fn in CHARTS:
        path = os.path.join(cdir, f"{name}.svg")
        title = fn(data, style, path)
        if title is None:
            if os.path.exists(path):
                os.remove(path)  # a stale chart of data no longer present
            continue
        with open(path, "rb") as f:
            charts.append((name, title, f.read()))
        paths.append(path)
    report = os.path.join(out_dir, "report.html")
    with open(report, "w", encoding="utf-8") as f:
        f.write(page(data, charts))
    return report, paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="merge.py's JSON")
    ap.add_argument("--out-dir", required=True, help="where charts/ and report.html go")
    a = ap.parse_args(argv)
    with open(a.results, encoding="utf-8") as f:
        doc = json.load(f)
    report, paths = render(doc, a.out_dir)
    for p in paths:
        print(f"render.py: chart {p}")
    print(f"render.py: report {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
