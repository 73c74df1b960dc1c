"""Benchmark the in-browser explorer (vitviz/views/explorer.js) in headless Chromium, with real input.

    python benchmarks/browser.py                                   # every model, writes benchmarks/browser.json
    python benchmarks/browser.py --models vitviz-shapes --out /tmp/b.json

For every model it starts the app (`python app.py` in a subprocess, on a free port; random weights
for the timm models), drives Debian's Chromium through Playwright with real mouse and keyboard
events (CDP input, as a user would: `page.mouse.move` over the patches, ArrowRight/ArrowLeft on the
focused layer and discard ranges, ArrowDown/ArrowUp on the focused head and fusion selects) and
times in the page, with `performance.now()`:

    latency = (first requestAnimationFrame callback after the explorer's "vvx-drawn" event)
              − (event.timeStamp of the input event that caused it)

The input's timestamp is taken by capturing listeners on `document` (pointermove, keydown, input,
change); the harness is armed before each input, so only the first event of a gesture counts and
every sample belongs to exactly one draw. Each sample is split into "queued" (input → its listeners
run) and "handler" (→ the explorer has drawn). Each input waits a random 0–16.7 ms first, so it
lands anywhere in the frame as a person's does (not in step with Playwright's polling), and each
sample notes whether it was shown in the first frame after the input ("first frame": the harness
keeps a requestAnimationFrame loop that records every frame). A control page whose listeners draw
nothing is measured the same way first ("floor": what Chromium's frame clock costs by itself).
`--chromium-arg=--disable-frame-rate-limit` runs it all without the 60 Hz frame clock.

Measured after `data-all-layers="1"` (every layer's data is in the tab), so nothing is fetched:
the requests from the first input to the last draw are counted with `page.on("request")` (read at
once, before the explorer's 600 ms idle report can fire) and, once the page is quiet again, with
the page's resource timing (entries that started in that window); then the distinct selection
reports that followed are counted (one expected: gradio posts it once per listening section).

Also measured: the time from setting the image (the file input's change event) to the explorer's
`data-ready="1"` and to the server's neuron picture (#vv-neuron) being shown, the server's own
analysis time (vitviz.analyze, timed inside the app process), the size of the explorer's data
(`component_server` response bodies) and the tab's JS heap after scrubbing through every layer.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
EXAMPLES = ROOT / "vitviz" / "assets" / "examples"
TIMED_IMAGE = EXAMPLES / "chelsea_cat.jpg"
OTHER_IMAGE = EXAMPLES / "coffee.jpg"  # uploaded in between, so every timed upload is a new image
MODELS = ["vitviz-fashion", "vitviz-shapes", "vit_base_patch16_224"]  # the offline default first
TARGETS_MS = {"hover": 16.0, "layer": 50.0, "head": 50.0, "fusion": 50.0, "discard": 50.0}
COUNTS = {"hover": 240, "layer": 44, "head": 44, "fusion": 24, "discard": 76}
UPLOAD_ROUNDS = 3
FRAME_MS = 1000 / 60  # headless Chromium's frame clock

# The app, with vitviz.analyze timed in the server process (one line per analysis on stdout).
SERVER = """
import os, sys, tempfile, time
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="vitviz-mpl-"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import vitviz
_analyze = vitviz.analyze
def timed_analyze(*args, **kwargs):
    t = time.perf_counter()
    try:
        return _analyze(*args, **kwargs)
    finally:
        print(f"VVBENCH analyze {(time.perf_counter() - t) * 1000:.1f}", flush=True)
vitviz.analyze = timed_analyze  # the app looks vitviz.analyze up at call time
from vitviz.ui.app import main
main()
"""

# In the page before any of its scripts: the timing harness (window.__vvb).
HARNESS = """
(() => {
  const H = window.__vvb = { armed: false, start: null, expect: null, samples: [], resources: [],
                             marks: {}, watched: new WeakSet() };
  const onInput = (ev) => {
    if (!H.armed) return;
    H.armed = false; H.start = ev.timeStamp; H.startType = ev.type; H.dispatched = performance.now();
  };
  for (const type of ["pointermove", "keydown", "input", "change"]) document.addEventListener(type, onInput, true);
  H.arm = (expect) => { H.expect = expect; H.start = null; H.armed = true; };
  // every frame's time (performance.now() in a rAF callback), the last second of them
  H.frames = [];
  const tick = () => { const t = performance.now(); H.frames.push(t);
                       while (H.frames[0] < t - 1000) H.frames.shift(); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  H.watch = (el) => {  // the explorer's own element: "vvx-drawn" does not bubble
    if (H.watched.has(el)) return;
    H.watched.add(el);
    el.addEventListener("vvx-drawn", (ev) => {
      if (H.start === null || (H.expect && ev.detail.kind !== H.expect)) return;
      const start = H.start, kind = ev.detail.kind, loading = ev.detail.loading, type = H.startType;
      const dispatched = H.dispatched, drawn = performance.now();
      H.start = null;
      // ms: input → the first animation frame callback after the draw; queued: input → its
      // listeners run (Chromium holds pointermove until the next frame); handler: → the draw is done
      requestAnimationFrame(() => {
        const shown = performance.now();
        // frames the page produced between the input and the one that shows it (0: the first)
        const missed = H.frames.filter((t) => t > start && t < shown - 1).length;
        H.samples.push({ kind, loading, type, at: start, ms: shown - start, queued: dispatched - start,
                         handler: drawn - dispatched, missed });
      });
    });
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) H.resources.push({ name: e.name, start: e.startTime });
  }).observe({ type: "resource", buffered: false });
  // upload timing: the file input's change, the explorers' data-ready, the neuron picture
  document.addEventListener("change", (ev) => {
    if (ev.target && ev.target.type === "file") H.marks = { set: performance.now() };
  }, true);
  H.observeReady = () => {
    for (const id of ["vv-explorer", "vv-rollout-explorer"]) {
      const el = document.querySelector("#" + id + " .vvx").parentElement;
      new MutationObserver(() => {
        if (H.marks.set === undefined) return;
        if (el.dataset.ready === "" && H.marks[id + ":cleared"] === undefined) H.marks[id + ":cleared"] = performance.now();
        if (el.dataset.ready === "1" && H.marks[id + ":cleared"] !== undefined && H.marks[id + ":ready"] === undefined)
          H.marks[id + ":ready"] = performance.now();
        if (el.dataset.allLayers === "1" && H.marks[id + ":ready"] !== undefined && H.marks[id + ":all"] === undefined)
          H.marks[id + ":all"] = performance.now();
      }).observe(el, { attributes: true, attributeFilter: ["data-ready", "data-all-layers"] });
    }
    const neuron = document.querySelector("#vv-neuron");  // the server's picture: its new src is in the page
    const check = () => {
      const img = neuron.querySelector("img");
      if (H.marks.set === undefined || H.marks.neuron !== undefined || !img || img.src === H.neuronSrc) return;
      H.marks.neuron = performance.now(); H.neuronSrc = img.src;
    };
    new MutationObserver(check).observe(neuron, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"] });
    H.neuronSrc = (neuron.querySelector("img") || {}).src;
  };
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(model: str) -> tuple[subprocess.Popen, str, Path]:
    """`python app.py` for `model` (random weights unless embedded) → (process, url, its log file)."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="vitviz-browser-bench-", suffix=".log")[1])
    env = dict(os.environ, VITVIZ_MODEL=model, VITVIZ_RANDOM_WEIGHTS="0" if model.startswith("vitviz-") else "1",
               GRADIO_SERVER_PORT=str(port), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    end = time.time() + 180
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start within 180 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def analyze_times(log: Path) -> list[float]:
    return [float(line.split()[-1]) for line in log.read_text().splitlines() if line.startswith("VVBENCH analyze")]


def stats(values: list[float]) -> dict:
    v = sorted(values)
    pick = lambda q: v[max(0, math.ceil(q * len(v)) - 1)]  # nearest rank
    return {"n": len(v), "p50": round(statistics.median(v), 2), "p95": round(pick(0.95), 2), "max": round(v[-1], 2),
            "mean": round(statistics.fmean(v), 2)}



class Bench:
    """One page of the app, with every request and explorer-data response it makes recorded."""

    def __init__(self, page):
        self.page = page
        self.requests: list = []  # page.on("request")
        self.responses: list = []  # the explorer's data: component_server responses
        page.on("request", lambda r: self.requests.append(r))
        page.on("response", lambda r: self.responses.append(r) if "component_server" in r.url else None)

    def wait_ready(self, timeout_ms: float = 180_000) -> None:
        """Both explorers hold every layer's data; their "vvx-drawn" events are watched."""
        for elem_id in ("vv-explorer", "vv-rollout-explorer"):
            self.page.wait_for_function(
                f"""() => {{ const e = document.querySelector('#{elem_id} .vvx');
                    return e && e.parentElement.dataset.allLayers === '1'; }}""", timeout=timeout_ms)
        self.page.evaluate("""() => { for (const id of ['vv-explorer', 'vv-rollout-explorer'])
            window.__vvb.watch(document.querySelector('#' + id + ' .vvx').parentElement); }""")

    def settle(self, quiet_s: float = 2.0, timeout_s: float = 60.0) -> None:
        """Wait until the page made no request for `quiet_s` (lazy images, a report and its pictures)."""
        end = time.time() + timeout_s
        seen, since = len(self.requests), time.time()
        while time.time() < end:
            self.page.wait_for_timeout(100)
            if len(self.requests) != seen:
                seen, since = len(self.requests), time.time()
            elif time.time() - since >= quiet_s:
                return

    def measured(self, kind: str, act, n: int, report: bool = True) -> dict:
        """Run `act(i)` for i < n (each one real input that changes what is drawn), timing each in the
        page; count the requests made from the first input to the last draw, then the report after."""
        page = self.page
        t0 = page.evaluate("() => { window.__vvb.samples = []; return performance.now(); }")
        before = len(self.requests)
        rng = random.Random(f"{kind}:{n}")
        for i in range(n):
            page.evaluate("(k) => window.__vvb.arm(k)", kind)
            # a person's input comes at any moment of the frame, not in step with the page's polling
            page.wait_for_timeout(rng.uniform(0, FRAME_MS))
            act(i)
            page.wait_for_function("(n) => window.__vvb.samples.length >= n", arg=i + 1, timeout=20_000)
        t1 = page.evaluate("() => performance.now()")
        in_window = self.requests[before:]  # read at once: the report can only follow 600 ms later
        samples = page.evaluate("() => window.__vvb.samples")
        assert all(s["kind"] == kind and not s["loading"] for s in samples), samples[:3]
        out = stats([s["ms"] for s in samples])
        out["target_p95"] = TARGETS_MS.get(kind)
        out["first_frame"] = round(sum(s["missed"] == 0 for s in samples) / len(samples), 3)
        for part in ("queued", "handler"):
            out[part] = {k: v for k, v in stats([s[part] for s in samples]).items() if k in ("p50", "p95")}
        starts = [s["at"] for s in samples]
        out["longest_gap_ms"] = round(max((b - a for a, b in zip(starts, starts[1:])), default=0), 1)
        out["requests"] = len(in_window)
        out["request_urls"] = [r.url for r in in_window][:5]
        self.settle()  # resource timing lists a request once it has finished
        out["resources_in_window"] = page.evaluate(
            f"() => window.__vvb.resources.filter((r) => r.start >= {t0} && r.start <= {t1}).length")
        if report:
            sent = {json.dumps(json.loads(r.post_data)["event_data"]["value"]["selection"], sort_keys=True)
                    for r in self.requests[before + len(in_window):]
                    if r.method == "POST" and "/queue/join" in r.url and '"selection"' in (r.post_data or "")}
            out["reports_after"] = len(sent)  # 1: one report (gradio sends it once per listening section)
        return out

    def upload(self, path: Path) -> dict:
        """Set the image; ms from the file input's change to each explorer's data-ready and #vv-neuron."""
        page = self.page
        page.evaluate("() => { window.__vvb.marks = {}; }")
        page.set_input_files("#vv-input input[type=file]", str(path))
        page.wait_for_function("""() => { const m = window.__vvb.marks;
            return m['vv-explorer:all'] !== undefined && m['vv-rollout-explorer:ready'] !== undefined
                   && m.neuron !== undefined; }""", timeout=180_000)
        m = page.evaluate("() => window.__vvb.marks")
        return {"explorer_value_ms": round(m["vv-explorer:cleared"] - m["set"], 1),  # the new token arrived
                "explorer_ready_ms": round(m["vv-explorer:ready"] - m["set"], 1),
                "rollout_ready_ms": round(m["vv-rollout-explorer:ready"] - m["set"], 1),
                "all_layers_ms": round(m["vv-explorer:all"] - m["set"], 1),
                "neuron_image_ms": round(m["neuron"] - m["set"], 1)}

    def payload(self) -> dict:
        """Bytes of the explorer's data by part since `responses` was cleared: the first view's parts
        that came inside the value with the analysis (JSON characters, as the explorer measured
        them), then the data responses it fetched (JSON bodies)."""
        sizes: dict[tuple[int, str], int] = {}
        for r in self.responses:
            body = json.loads(r.request.post_data or "{}")
            sizes[(int(body["component_id"]), str(body["data"][1]))] = len(r.body())
        attention_id = min(c for c, _ in sizes)  # the attention explorer is built first
        att = {part: n for (c, part), n in sizes.items() if c == attention_id}
        roll = {part: n for (c, part), n in sizes.items() if c != attention_id}
        inline = self.page.evaluate("""() => ['vv-explorer', 'vv-rollout-explorer'].map((id) =>
            JSON.parse(document.querySelector('#' + id + ' .vvx').parentElement.dataset.inlineSizes || '{}'))""")
        att.update(inline[0])
        roll.update(inline[1])
        layers = [n for part, n in att.items() if part.startswith("layer:")]
        first = [p for p in att if p in ("meta", "readout")] + [min(p for p in att if p.startswith("layer:"))]
        return {"attention_first": sum(att[p] for p in first), "meta": att["meta"],
                "readout": att["readout"], "layer_mean": round(statistics.fmean(layers)), "layer_max": max(layers),
                "layers": len(layers), "rollout_first": roll["meta"] + roll["rollout"], "rollout": roll["rollout"],
                "inline": sorted(inline[0]) + sorted(inline[1]),
                "total": sum(att.values()) + sum(roll.values())}

    def heap(self) -> dict:
        """The tab's JS heap (CDP Runtime.getHeapUsage) as it is and after a full GC, in MiB."""
        cdp = self.page.context.new_cdp_session(self.page)
        used = cdp.send("Runtime.getHeapUsage")
        cdp.send("HeapProfiler.collectGarbage")
        after_gc = cdp.send("Runtime.getHeapUsage")
        cdp.detach()
        mb = lambda usage, key: round(usage.get(key, 0) / 2**20, 1)
        # usedSize: the V8 heap; backingStorageSize: ArrayBuffer contents (the decoded layers live there)
        return {"used_mb": mb(used, "usedSize"), "used_after_gc_mb": mb(after_gc, "usedSize"),
                "array_buffers_mb": mb(after_gc, "backingStorageSize"), "total_mb": mb(after_gc, "totalSize")}

    def geometry(self) -> dict:
        return self.page.evaluate("""() => { const e = document.querySelector('#vv-explorer .vvx');
            const r = document.querySelector('#vv-rollout-explorer .vvx');
            return { grid: e.dataset.grid.split('x').map(Number), depth: +e.querySelector('.vvx-layer').max,
                     heads: e.querySelectorAll('.vvx-head option').length - 2,
                     fusions: r.querySelectorAll('.vvx-fusion option').length,
                     discards: +r.querySelector('.vvx-discard').max + 1 }; }""")

    # ------------------------------------------------------------------ real input
    def hover_all(self, n: int) -> dict:
        """n mouse moves over the attention explorer's canvas, each onto the next patch."""
        page = self.page
        canvas = page.locator("#vv-explorer .vvx-canvas")
        canvas.scroll_into_view_if_needed()
        self.settle()
        box, (gh, gw) = canvas.bounding_box(), self.geometry()["grid"]
        path = hover_path((gh, gw), n)
        page.mouse.move(box["x"] - 20, box["y"] - 20)  # start outside the canvas

        def move(i):
            r, c = path[i]
            page.mouse.move(box["x"] + (c + 0.5) * box["width"] / gw, box["y"] + (r + 0.5) * box["height"] / gh)
        out = self.measured("hover", move, n, report=False)
        page.mouse.move(box["x"] - 20, box["y"] - 20)
        return out

    def scrub(self, kind: str, selector: str, forward: str, back: str, positions: int, n: int) -> dict:
        """n key presses on the focused control, sweeping its `positions` to the end and back."""
        page = self.page
        page.locator(selector).focus()
        for _ in range(positions):  # to its first position (unmeasured), then let that report pass
            page.keyboard.press(back)
        self.settle()
        keys = back_and_forth(forward, back, positions - 1, n)
        return self.measured(kind, lambda i: page.keyboard.press(keys[i]), n)


def hover_path(grid: tuple[int, int], n: int) -> list[tuple[int, int]]:
    """n patches in serpentine order (each next to the previous one, so every move changes patch)."""
    gh, gw = grid
    cells = [(r, c if r % 2 == 0 else gw - 1 - c) for r in range(gh) for c in range(gw)]
    path = cells + cells[::-1][1:]
    while len(path) < n:
        path += path[1:]
    return path[:n]


def back_and_forth(forward: str, back: str, steps: int, n: int) -> list[str]:
    """n key presses that sweep a control of `steps + 1` positions from its first to its last and back."""
    sweep = [forward] * steps + [back] * steps
    return (sweep * (n // len(sweep) + 1))[:n]


FLOOR_PAGE = """<!doctype html><meta charset="utf-8"><body style="margin:0">
<div id="owner"><canvas id="c" width="448" height="448" style="display:block"></canvas>
<input id="r" type="range" min="1" max="12" value="1"></div>
<script>
  const owner = document.getElementById("owner"), drawn = (kind) =>
    owner.dispatchEvent(new CustomEvent("vvx-drawn", { detail: { kind, loading: false } }));
  let last = -1;
  document.getElementById("c").addEventListener("pointermove", (ev) => {
    const p = Math.floor(ev.offsetY / 32) * 14 + Math.floor(ev.offsetX / 32);
    if (p !== last) { last = p; drawn("hover"); }
  });
  document.getElementById("r").addEventListener("input", () => drawn("layer"));
</script>"""


def bench_floor(browser) -> dict:
    """The same measurement on a page whose handlers draw nothing: what Chromium itself costs
    (pointermove is held until the next frame, a key press waits for the frame after it)."""
    page = browser.new_page(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
    page.set_content(f"<script>{HARNESS}</script>{FLOOR_PAGE}")
    page.evaluate("() => window.__vvb.watch(document.getElementById('owner'))")
    b = Bench(page)
    box = page.locator("#c").bounding_box()
    path = hover_path((14, 14), COUNTS["hover"])
    page.mouse.move(box["x"] + 600, box["y"] + 600)  # start outside the canvas

    def move(i):
        r, c = path[i]
        page.mouse.move(box["x"] + (c + 0.5) * 32, box["y"] + (r + 0.5) * 32)
    out = {"hover": b.measured("hover", move, COUNTS["hover"], report=False)}
    page.locator("#r").focus()
    keys = back_and_forth("ArrowRight", "ArrowLeft", 11, COUNTS["layer"])
    out["key"] = b.measured("layer", lambda i: page.keyboard.press(keys[i]), COUNTS["layer"], report=False)
    out["frame_interval_ms"] = page.evaluate(
        "() => { const f = window.__vvb.frames, d = f.slice(1).map((t, i) => t - f[i]).sort((a, b) => a - b);"
        " return Math.round(d[d.length >> 1] * 100) / 100; }")
    page.close()
    return out


def bench_model(browser, model: str, upload_only: bool = False) -> dict:
    proc, url, log = start_app(model)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
        page.add_init_script(HARNESS)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        b = Bench(page)
        t = time.time()
        page.goto(url)
        b.wait_ready()
        result: dict = {"model": model, "first_page_load_s": round(time.time() - t, 1)}
        page.evaluate("() => window.__vvb.observeReady()")
        b.settle()

        # the image is set → the explorers are ready, the server's pictures are shown; the data sent
        uploads = []
        for _ in range(UPLOAD_ROUNDS):
            b.upload(OTHER_IMAGE)
            b.wait_ready()
            b.settle()
            b.responses.clear()
            uploads.append(b.upload(TIMED_IMAGE))
            b.wait_ready()
            b.settle()
        timed = analyze_times(log)[-2 * UPLOAD_ROUNDS + 1::2]  # the analyses of TIMED_IMAGE
        result["upload"] = {k: round(statistics.median(u[k] for u in uploads), 1) for k in uploads[0]}
        result["upload"]["server_analyze_ms"] = round(statistics.median(timed), 1)
        result["upload"]["rounds"] = uploads
        result["payload_bytes"] = b.payload()
        g = result["geometry"] = b.geometry()
        result["heap_before"] = b.heap()
        if upload_only:
            return result

        result["hover"] = b.hover_all(COUNTS["hover"])
        result["layer"] = b.scrub("layer", "#vv-explorer .vvx-layer", "ArrowRight", "ArrowLeft", g["depth"],
                                  COUNTS["layer"])
        result["heap_after_all_layers"] = b.heap()
        result["head"] = b.scrub("head", "#vv-explorer .vvx-head", "ArrowDown", "ArrowUp", g["heads"] + 2,
                                 COUNTS["head"])
        page.locator("#vv-rollout-explorer .vvx").scroll_into_view_if_needed()
        b.settle()
        result["fusion"] = b.scrub("fusion", "#vv-rollout-explorer .vvx-fusion", "ArrowDown", "ArrowUp",
                                   g["fusions"], COUNTS["fusion"])
        result["discard"] = b.scrub("discard", "#vv-rollout-explorer .vvx-discard", "ArrowRight", "ArrowLeft",
                                    g["discards"], COUNTS["discard"])
        result["heap_end"] = b.heap()
        result["page_errors"] = errors
        page.close()
        return result
    finally:
        stop_app(proc)


def summary(r: dict) -> str:
    lines = [f"--- {r['model']}"]
    for kind in (k for k in TARGETS_MS if k in r):
        s = r[kind]
        lines.append(f"{kind:8s} n={s['n']:4d} p50={s['p50']:6.2f} p95={s['p95']:6.2f} max={s['max']:6.2f} ms "
                     f"(target p95 <= {s['target_p95']:.0f}; first frame {s['first_frame']:.1%}; handler p95 {s['handler']['p95']}, queued p95 "
                     f"{s['queued']['p95']})  requests={s['requests']} resources={s.get('resources_in_window', '-')} "
                     f"reports_after={s.get('reports_after', '-')}")
    lines += [f"upload  {({k: v for k, v in r['upload'].items() if k != 'rounds'})}",
              f"payload {r['payload_bytes']}", f"heap    before {r['heap_before']}"]
    if "heap_end" in r:
        lines += [f"        after every layer {r['heap_after_all_layers']}", f"        end {r['heap_end']}"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "browser.json"))
    p.add_argument("--chromium-arg", action="append", default=[], metavar="FLAG",
                   help="an extra Chromium flag, e.g. --disable-frame-rate-limit (repeatable)")
    p.add_argument("--upload-only", action="store_true", help="only the upload timings and payload sizes")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS + args.chromium_arg)
        try:
            floor = bench_floor(browser)
            print(f"floor   frame {floor['frame_interval_ms']} ms  hover p50={floor['hover']['p50']} p95={floor['hover']['p95']}  "
                  f"key p50={floor['key']['p50']} p95={floor['key']['p95']} ms", flush=True)
            for model in args.models:
                results.append(bench_model(browser, model, args.upload_only))
                print(summary(results[-1]), flush=True)
            version = browser.version
        finally:
            browser.close()
    out = {"date": time.strftime("%Y-%m-%d"), "chromium": version, "python": platform.python_version(),
           "cpus": os.cpu_count(), "machine": platform.machine(), "chromium_args": ARGS + args.chromium_arg,
           "load_average_before": load_before,
           "load_average_after": os.getloadavg(), "command": " ".join(["python", *sys.argv]),
           "floor": floor, "results": results}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
