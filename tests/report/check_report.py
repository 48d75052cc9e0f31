#!/usr/bin/env python3
"""report.html: renders the report from fixtures/results.json and loads it in
headless Chromium. Fails when a chart image does not decode, the seeds' table
or a chart is missing, a script error is raised, or the page refers to
anything outside itself. A deliberately broken copy of the page must be caught
by the same check (so the check cannot pass vacuously). Exit 77 (skip) only
when chromium is not installed.

  check_report.py --out-dir DIR [--results fixtures/results.json]
"""

import argparse
import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "report"))
import render  # noqa: E402

# Recorded into the DOM, which --dump-dom prints: errors from the start (in
# <head>), the state of every image once the page has loaded.
PROBE_HEAD = """<script>
window.__weftErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__weftErrors.push(t && t.tagName ? ('failed to load ' + t.tagName + ' ' + (t.alt || t.src || '').slice(0, 80))
                                         : String(e.message));
}, true);
</script>"""
PROBE_BODY = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0); })
                .map(function (i) { return i.alt; }),
    figures: Array.prototype.map.call(document.querySelectorAll('figure'), function (f) {
      return f.id + ':' + f.querySelectorAll('img').length; }),
    tables: document.querySelectorAll('#seeds-table').length,
    rows: Array.prototype.map.call(document.querySelectorAll('#seeds-table tbody th'), function (t) {
      return t.textContent; }),
    cells: document.querySelectorAll('#seeds-table tbody td').length,
    errors: window.__weftErrors
  };
  var pre = document.createElement('pre');
  pre.id = 'weft-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

SEED_ROWS = [r[0] for r in render.SEED_ROWS]


class Refs(html.parser.HTMLParser):
    """Every URL-bearing attribute and every script/link element."""

    def __init__(self):
        super().__init__()
        self.urls, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "srcset", "data", "poster", "action") and v is not None:
                self.urls.append((tag, k, v))


def self_contained(text):
    """Problems that make the page depend on anything outside itself."""
    p = Refs()
    p.feed(text)
    bad = [f"<{t} {k}={v[:60]}>" for t, k, v in p.urls if not v.startswith(("data:", "#"))]
    bad += [f"<{t}> element" for t in p.tags if t in ("script", "link", "iframe", "object", "embed")]
    if re.search(r"url\((?!['\"]?data:)", text):
        bad.append("a CSS url() that is not a data: URI")
    return bad


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def load(browser, page, tmp):
    """The probe's findings for PAGE, loaded in headless Chromium."""
    argv = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp}/profile", "--virtual-time-budget=10000", "--dump-dom",
            "file://" + os.path.abspath(page)]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="weft-check">(.*?)</pre>', p.stdout, re.S)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"chromium exit {p.returncode}, no probe result in its DOM dump\n"
                           f"stderr (tail): {p.stderr[-2000:]}")
    return json.loads(html.unescape(m.group(1)))


def problems(found, expected_charts, expected_columns):
    bad = []
    if found["images"] != len(expected_charts):
        bad.append(f"{found['images']} images in the page, {len(expected_charts)} charts rendered")
    bad += [f"image did not load or decode: {b}" for b in found["broken"]]
    for name in expected_charts:
        if f"chart-{name}:1" not in found["figures"]:
            bad.append(f"no figure chart-{name} with one image (figures: {found['figures']})")
    if found["tables"] != 1:
        bad.append(f"{found['tables']} seeds' tables")
    if found["rows"] != SEED_ROWS:
        bad.append(f"seeds' table rows {found['rows']}, want {SEED_ROWS}")
    want_cells = len(SEED_ROWS) * (2 + expected_columns)
    if found["cells"] != want_cells:
        bad.append(f"seeds' table has {found['cells']} cells, want {want_cells}")
    bad += [f"page error: {e}" for e in found["errors"]]
    return bad


def probe_copy(src, dst, corrupt=False):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    if corrupt:  # the first chart's bytes are not an image
        text = re.sub(r'src="data:image/svg\+xml;base64,[^"]*"',
                      'src="data:image/svg+xml;base64,bm90IGFuIGltYWdl"', text, count=1)
    text = text.replace("</head>", PROBE_HEAD + "</head>", 1).replace("</body>", PROBE_BODY + "</body>", 1)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--results", default=os.path.join(HERE, "fixtures", "results.json"))
    a = ap.parse_args()
    with open(a.results, encoding="utf-8") as f:
        doc = json.load(f)
    shutil.rmtree(a.out_dir, ignore_errors=True)
    report, paths = render.render(doc, a.out_dir)
    charts = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    print(f"rendered {report} with {len(charts)} charts: {', '.join(charts)}")
    failures = []
    if len(charts) != len(render.CHARTS):
        failures.append(f"the fixture should draw all {len(render.CHARTS)} charts, drew {charts}")
    with open(report, encoding="utf-8") as f:
        text = f.read()
    failures += [f"not self-contained: {b}" for b in self_contained(text)]
    for name in charts:
        with open(os.path.join(a.out_dir, "charts", name + ".svg"), encoding="utf-8") as f:
            svg = f.read()
        # every chart names the machine and the date (matplotlib keeps each text as a comment
        # next to its glyph paths)
        m = re.search(r"<!-- ([^>]*) measured ([^>]*)-->", svg)
        if not m or doc["machine"]["cpu"] not in m.group(1) or doc["machine"]["kernel"] not in m.group(1):
            failures.append(f"{name}.svg: no footer with the machine")
        elif not re.match(r"\d{4}-\d\d-\d\d", m.group(2)):
            failures.append(f"{name}.svg: no date in its footer: {m.group(2)[:60]}")
    columns = len(render.Data(doc).series(
        lambda r: r["figure"] in ("rss_per_waiter", "heap_per_waiter", "create_per_waiter", "switch")))

    browser = chromium()
    if browser is None:
        print("SKIP: chromium is not installed (apt-get install chromium; scripts/deps does)")
        return 77
    with tempfile.TemporaryDirectory(prefix="weft-report-") as tmp:
        good = os.path.join(tmp, "report.html")
        probe_copy(report, good)
        found = load(browser, good, tmp)
        print("chromium:", json.dumps(found))
        failures += problems(found, charts, columns)
        # The check itself: a page with a corrupt chart must fail it.
        broken = os.path.join(tmp, "broken.html")
        probe_copy(report, broken, corrupt=True)
        caught = problems(load(browser, broken, tmp), charts, columns)
        if not any("did not load" in c for c in caught):
            failures.append(f"the check missed a corrupt chart image (found: {caught})")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"report.html: {len(charts)} charts decoded, the seeds' table has {columns} measured columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
