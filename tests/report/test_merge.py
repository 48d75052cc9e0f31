#!/usr/bin/env python3
"""report.merge: scripts/report/merge.py on real outputs of each language's
comparison (tests/report/fixtures: small runs, --quick where there is one).

  python3 tests/report/test_merge.py -v
Regenerate fixtures/results.json after changing a fixture or the merge:
  python3 tests/report/test_merge.py --regenerate
"""

import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "report"))
import merge  # noqa: E402

INPUTS = {"c": "compare-c.json", "lua": "compare-lua.txt", "go": "compare-go.txt",
          "java": "compare-java.txt", "servers": "compare-servers.json"}
# Fixed metadata, so that the committed results.json does not depend on where it is made.
FIXED = {"date": "2026-12-05T02:00:00Z", "rev": "fixture",
         "mach": {"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2, "kernel": "Linux 6.18.44 x86_64"}}


def read(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return f.read()


def merged():
    doc = merge.merge({k: os.path.join(FIX, v) for k, v in INPUTS.items()}, **FIXED)
    for s in doc["sources"].values():  # file dates and paths differ between checkouts
        s["date"] = FIXED["date"]
        s["path"] = os.path.basename(s["path"])
    return doc


def find(recs, **kw):
    out = [r for r in recs if all(r.get(k) == v for k, v in kw.items())]
    return out


class Units(unittest.TestCase):
    def test_conversions(self):
        self.assertEqual(merge.to_ns("1.41 us"), 1410.0)
        self.assertEqual(merge.to_ns("20.7 ms"), 20.7e6)
        self.assertEqual(merge.to_ns("1.16 s"), 1.16e9)
        self.assertEqual(merge.to_bytes("1.37 KiB"), 1.37 * 1024)
        self.assertEqual(merge.to_bytes("0.15 KB"), 0.15 * 1024)
        self.assertEqual(merge.to_int("5,000*"), 5000)
        with self.assertRaises(KeyError):
            merge.to_ns("3 fortnights")

    def test_unknown_figure_refused(self):
        with self.assertRaises(ValueError):
            merge.record("m", "m", "c", "w", 1, "speed", 1.0, "c")


class C(unittest.TestCase):
    def setUp(self):
        self.recs, self.meta = merge.parse_c(json.loads(read("compare-c.json")))

    def test_fanout(self):
        r = find(self.recs, model_id="weft", workload="fanout", n=1000, figure="rss_per_waiter")
        self.assertEqual(len(r), 1)
        self.assertAlmostEqual(r[0]["value"], 53248 / 1000)
        self.assertEqual((r[0]["model"], r[0]["language"], r[0]["unit"]), ("weft tasks", "c", "bytes"))
        r = find(self.recs, model_id="threads", n=1000, figure="kernel_stack_per_waiter")
        self.assertAlmostEqual(r[0]["value"], 16367616 / 1000)
        wall = find(self.recs, model_id="libuv", n=1000, figure="wall")[0]
        self.assertAlmostEqual(wall["value"], 100.433619)
        self.assertEqual(wall["unit"], "ms")
        # per-waiter memory only from 1,000 waiters up
        self.assertFalse(find(self.recs, n=3, figure="rss_per_waiter"))

    def test_cpp_is_its_own_language(self):
        r = find(self.recs, model_id="weft-cpp", figure="switch")
        self.assertEqual((r[0]["language"], r[0]["model"], r[0]["n"]), ("c++", "C++ coroutines", 2))
        self.assertAlmostEqual(r[0]["value"], 37.827)

    def test_switch_and_pingpong(self):
        # threads: the switch is the one-CPU figure, as weft-compare's own table has it
        self.assertAlmostEqual(find(self.recs, model_id="threads", figure="switch")[0]["value"], 2084)
        self.assertAlmostEqual(find(self.recs, model_id="threads", figure="switch_across_cpus")[0]["value"], 25345.6)
        self.assertAlmostEqual(find(self.recs, model_id="libuv", figure="switch")[0]["value"], 90.9555)
        doc = json.loads(read("compare-c.json"))
        for k, t in doc["table"].items():
            got = find(self.recs, model_id=k, figure="switch")
            if t["switch_ns"] is not None:
                self.assertAlmostEqual(got[0]["value"], t["switch_ns"], msg=k)
        r = find(self.recs, model_id="weft-sock", workload="pingpong", n=1, figure="round_trip")
        self.assertAlmostEqual(r[0]["value"], 3068.11)
        self.assertEqual(r[0]["params"], {"round_trips": 2000})
        self.assertEqual(len(find(self.recs, workload="pingpong", figure="round_trip")), 12)

    def test_block(self):
        r = find(self.recs, model_id="weft", workload="block", figure="late_worst")
        self.assertEqual(sorted(x["params"]["mode"] for x in r), ["inline", "offload"])

    def test_meta(self):
        self.assertTrue(self.meta["quick"])
        self.assertEqual(self.meta["cpus"], 2)

    def test_failed_results_are_left_out(self):
        doc = json.loads(read("compare-c.json"))
        for r in doc["results"]:
            r["ok"] = False
        self.assertEqual(merge.parse_c(doc)[0], [])

    def test_wrong_document(self):
        with self.assertRaises(merge.ParseError):
            merge.parse_c(json.loads(read("compare-servers.json")))


class Lua(unittest.TestCase):
    def setUp(self):
        self.recs, self.meta = merge.parse_lua(read("compare-lua.txt"))

    def test_fanout(self):
        r = find(self.recs, model="weft coroutines", workload="fanout", n=1000)
        by = {x["figure"]: x for x in r}
        self.assertAlmostEqual(by["create_per_waiter"]["value"], 821.5)
        self.assertAlmostEqual(by["heap_per_waiter"]["value"], 1.37 * 1024)
        self.assertAlmostEqual(by["wall"]["value"], 20.7)
        self.assertEqual(by["wall"]["params"], {"sleep_ms": 20.0})
        self.assertEqual(len(find(self.recs, workload="fanout")), 12)

    def test_switch_handoff_crossing(self):
        self.assertAlmostEqual(find(self.recs, model="luv coroutines", figure="switch")[0]["value"], 354.4)
        self.assertAlmostEqual(find(self.recs, model="weft Queue(1)", figure="handoff")[0]["value"], 586.6)
        self.assertAlmostEqual(find(self.recs, figure="crossing")[0]["value"], 28.9)

    def test_round_trip_is_two_messages(self):
        r = find(self.recs, model="weft callbacks", workload="pingpong")[0]
        self.assertEqual((r["n"], r["params"]["round_trips"]), (10, 200))
        self.assertAlmostEqual(r["value"], 2e9 / 752801)  # printed: 1.33 us per message

    def test_wrong_document(self):
        with self.assertRaises(merge.ParseError):
            merge.parse_lua(read("compare-java.txt"))


class Go(unittest.TestCase):
    def setUp(self):
        self.recs, self.meta = merge.parse_go(read("compare-go.txt"))

    def test_figures(self):
        for fig in ("wall", "switch", "handoff", "round_trip", "rss_per_waiter", "heap_per_waiter"):
            for model in ("weft tasks", "goroutines"):
                self.assertTrue(find(self.recs, model=model, language="go", figure=fig), (model, fig))
        sw = find(self.recs, model="goroutines", figure="switch")
        self.assertTrue(all(r["n"] == 2 and r["params"]["switches"] >= 1000 for r in sw))
        self.assertEqual(len(find(self.recs, figure="crossing")), 2)
        self.assertIn("cpu", self.meta)

    def test_values_match_the_lines(self):
        text = read("compare-go.txt")
        for r in self.recs:
            self.assertGreater(r["value"], 0, r)
        line = next(ln for ln in text.splitlines() if ln.startswith("BenchmarkPingPong/pairs=1000/weft"))
        toks = line.split()
        want = float(toks[toks.index("ns/roundtrip") - 1])
        got = find(self.recs, model="weft tasks", workload="pingpong", n=1000)[0]["value"]
        self.assertEqual(got, want)

    def test_wrong_document(self):
        with self.assertRaises(merge.ParseError):
            merge.parse_go(read("compare-lua.txt"))


class Java(unittest.TestCase):
    def setUp(self):
        self.recs, self.meta = merge.parse_java(read("compare-java.txt"))

    def test_figures(self):
        for model in ("weft tasks", "platform threads", "virtual threads"):
            for fig in ("create_per_waiter", "rss_per_waiter", "heap_per_waiter", "wall", "switch",
                        "handoff", "round_trip"):
                self.assertTrue(find(self.recs, model=model, language="java", figure=fig), (model, fig))
        self.assertEqual(len(find(self.recs, figure="crossing")), 1)
        self.assertTrue(self.meta["quick"])

    def test_values_match_the_lines(self):
        text = read("compare-java.txt")
        line = next(ln for ln in text.splitlines() if ln.startswith("virtual") and " KB " in ln)
        toks = line.split()
        n = merge.to_int(toks[1])
        got = {r["figure"]: r["value"] for r in find(self.recs, model="virtual threads", workload="fanout", n=n)}
        self.assertAlmostEqual(got["create_per_waiter"], float(toks[2]) * 1000)
        self.assertAlmostEqual(got["rss_per_waiter"], float(toks[4]) * 1024)
        self.assertAlmostEqual(got["heap_per_waiter"], float(toks[6]))

    def test_wrong_document(self):
        with self.assertRaises(merge.ParseError):
            merge.parse_java(read("compare-lua.txt"))


class Servers(unittest.TestCase):
    def test_records_kept_as_they_are(self):
        doc = json.loads(read("compare-servers.json"))
        recs, meta = merge.parse_servers(doc)
        self.assertEqual(len(recs), len(doc["results"]))
        for src, r in zip(doc["results"], recs):
            for k in ("model", "language", "workload", "n", "figure", "value", "unit"):
                self.assertEqual(r[k], src[k], k)
        self.assertEqual(meta["requests"], doc["requests"])


class Merge(unittest.TestCase):
    def test_schema(self):
        doc = merged()
        self.assertEqual(doc["schema"], merge.SCHEMA)
        self.assertEqual(sorted(doc["sources"]), sorted(INPUTS))
        self.assertEqual(doc["missing"], [])
        langs = {r["language"] for r in doc["records"]}
        self.assertEqual(langs, {"c", "c++", "lua", "go", "java"})
        for r in doc["records"]:
            self.assertEqual(r["unit"], merge.FIGURES[r["figure"]], r)
            self.assertIsInstance(r["n"], int)
            self.assertIn(r["source"], INPUTS)

    def test_colour_escapes_are_dropped(self):
        # scripts/compare captures mvn's output too: its escapes can prefix the report's first line
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("\x1b[0m\x1b[0m" + read("compare-java.txt"))
            f.flush()
            doc = merge.merge({"java": f.name}, **FIXED)
        self.assertEqual(len(doc["records"]), len(merge.parse_java(read("compare-java.txt"))[0]))

    def test_missing_input_is_noted(self):
        doc = merge.merge({"c": os.path.join(FIX, INPUTS["c"]), "go": "/nonexistent/compare-go.txt"}, **FIXED)
        self.assertEqual(doc["missing"], [{"source": "go", "path": "/nonexistent/compare-go.txt"}])
        self.assertEqual(list(doc["sources"]), ["c"])

    def test_unreadable_input_is_an_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write("{not json")
            f.flush()
            with self.assertRaises(merge.ParseError):
                merge.merge({"c": f.name}, **FIXED)
            self.assertEqual(merge.main(["--out", f.name + ".out", "--servers", f.name]), 1)

    def test_committed_results_are_the_merge_of_the_fixtures(self):
        with open(os.path.join(FIX, "results.json"), encoding="utf-8") as f:
            committed = json.load(f)
        self.assertEqual(committed, merged(),
                         "fixtures/results.json is stale: python3 tests/report/test_merge.py --regenerate")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        with open(os.path.join(FIX, "results.json"), "w", encoding="utf-8") as f:
            merge.dump(merged(), f)
        sys.exit(0)
    unittest.main()
