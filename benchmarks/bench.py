"""Benchmark vitviz against a bare timm forward pass of the same model, in the same run.

    python benchmarks/bench.py                 # everything; writes benchmarks/results.json
    python benchmarks/bench.py --quick         # fewer repeats, no server tests

Every time is the median of --repeats runs after a warm-up, on one image, batch 1, on the CPU.
Ratios are against the bare forward pass (fused attention on, no hooks) of a separate model
instance holding the same weights.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import vitviz  # noqa: E402
from vitviz.core.capture import capture  # noqa: E402
from vitviz.core.model import embedded_model_available, is_embedded  # noqa: E402
from vitviz.views import pictures as V  # noqa: E402
from vitviz.ui.page import SESSION_ATTENTION_DTYPE  # noqa: E402

EXAMPLE = ROOT / "vitviz" / "assets" / "examples" / "chelsea_cat.jpg"
TARGETS = {
    "capture": 1.10,
    "analysis": 1.5,
    "relevance": 3.5,
    "render_all": 0.5,
}
RERENDER_MS = 50.0
COLD_START_S = 10.0
PEAK_RSS_GB = 2.5
STATE_MB = 30.0


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, caches, lazy imports
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved_median_seconds(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, timed round-robin (a, b, c, a, b, c, ...) so that a slow
    drift of the machine (clock, other load) affects every function alike and cancels in ratios."""
    for fn in fns.values():
        fn()  # warm-up
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def bare_twin(loaded: vitviz.LoadedModel) -> torch.nn.Module:
    """A separate instance with the same weights and timm's default (fused) attention."""
    if is_embedded(loaded.name):  # any embedded model: its card has the architecture
        from timm.models.vision_transformer import VisionTransformer
        twin = VisionTransformer(**loaded.extra["card"]["model_args"])
    else:
        twin = timm.create_model(loaded.name, pretrained=False)
    twin.load_state_dict(loaded.model.state_dict())
    assert all(b.attn.fused_attn for b in twin.blocks) == timm.layers.use_fused_attn()
    return twin.eval()


def load(name: str) -> vitviz.LoadedModel:
    return vitviz.load_model(name, pretrained=False) if name != vitviz.EMBEDDED_MODEL else vitviz.load_model(name)


def bench_model(name: str, repeats: int) -> dict:
    loaded = load(name)
    twin = bare_twin(loaded)
    image = Image.open(EXAMPLE).convert("RGB")
    x = loaded.transform(image).unsqueeze(0)
    def bare_forward():
        with torch.no_grad():
            twin(x)

    med = interleaved_median_seconds({
        "bare": bare_forward,
        "capture": lambda: capture(loaded.model, x),
        "analysis": lambda: vitviz.analyze(loaded, image),
        "relevance": lambda: vitviz.analyze(loaded, image, relevance_class="top"),
    }, repeats)
    bare = med["bare"]
    row = {"model": name, "bare_forward_ms": bare * 1e3}
    row.update({k: med[k] / bare for k in ("capture", "analysis", "relevance")})
    result = vitviz.analyze(loaded, image)
    state = vitviz.analyze(loaded, image, attention_dtype=SESSION_ATTENTION_DTYPE)  # as the app keeps it
    model = loaded.model
    s = V.ViewSettings(patch=V.default_patch(loaded.info))
    row["render_all"] = median_seconds(lambda: render_new_image(model, state, s), repeats) / bare
    row["rerender_ms"] = {label: median_seconds(fn, repeats) * 1e3
                          for label, fn in interaction_renders(model, state, s).items()}
    # What-if (issue: drop the tokens you choose): one forward of the reduced sequence per change.
    from vitviz.analysis.faithfulness import what_if
    dropped = list(range(0, loaded.info.num_patches, 3))
    row["what_if_ms"] = median_seconds(lambda: what_if(loaded, result.input, drop=dropped), repeats) * 1e3
    row["state_mb"] = arrays_megabytes(state)
    row["analysis_f32_mb"] = arrays_megabytes(result)
    return row


def arrays_megabytes(result) -> float:
    """Bytes of the arrays of one Analysis (what a browser tab keeps in gr.State)."""
    return sum(v.nbytes for v in vars(result).values() if isinstance(v, np.ndarray)) / 2**20


# What the app's handlers draw per interaction, as groups of view functions (vitviz/ui/sections/*).
def head_panels(model, a, s) -> None:
    V.query_image(a, s), V.query_heads_image(a, s), V.neuron_view(model, a, s)


def layer_panels(model, a, s) -> None:
    head_panels(model, a, s)
    V.layer_heads_image(a, s.layer), V.overview_image(a, s.layer), V.distance_image(a, s.layer)
    V.block_text(a, s, model), V.block_stats_image(a, s.layer)


def patch_panels(model, a, s) -> None:
    head_panels(model, a, s)
    V.grid_image(a, s.patch), V.position_patch_image(a, s.patch)


def render_new_image(model, a, s) -> None:
    """Every panel the app draws for a new image."""
    layer_panels(model, a, s)
    V.grid_image(a, s.patch), V.position_patch_image(a, s.patch), V.strip_image(a), V.filters_image(a)
    V.position_all_image(a), V.rollout_image(a, s.fusion, s.discard), V.head_rollout_image(a)
    V.relevance_image(a), V.shape_table(a.info, s.lang), V.prediction_label(a)


def interaction_renders(model, a, s) -> dict:
    """One callable per interaction: exactly what the app re-draws for it (no forward pass)."""
    last = a.info.depth - 1
    other = (0, min(1, a.info.grid[1] - 1))
    return {
        "layer slider": lambda: layer_panels(model, a, replace(s, layer=last)),
        "head": lambda: head_panels(model, a, replace(s, head=a.info.num_heads - 1)),
        "patch click": lambda: patch_panels(model, a, replace(s, patch=other)),
        "fusion": lambda: V.rollout_image(a, "max", s.discard),
        "discard": lambda: V.rollout_image(a, s.fusion, 0.9),
    }


PEAK_SCRIPT = """
import resource, sys, numpy as np
sys.path.insert(0, {root!r})
from vitviz.core.runtime import return_large_buffers_to_os
return_large_buffers_to_os()
import vitviz
loaded = vitviz.load_model({name!r}, pretrained=False)
after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
img = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
r = vitviz.analyze(loaded, img)
print(after_load / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, r.attention.dtype)
"""


def bench_peak_memory(name: str = "vit_large_patch16_384") -> dict:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(root=str(ROOT), name=name)],
                         capture_output=True, text=True, check=True, timeout=900).stdout.split()
    return {"model": name, "peak_rss_after_load_gb": float(out[0]), "peak_rss_gb": float(out[1]),
            "attention_dtype": out[2]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, env_extra: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1", **(env_extra or {}))
    return subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_client(port: int, deadline: float):
    from gradio_client import Client
    while time.time() < deadline:
        try:
            return Client(f"http://127.0.0.1:{port}/", verbose=False)
        except Exception:
            time.sleep(0.1)
    raise TimeoutError("app did not start")


def call_analyze(client, model: str):
    from gradio_client import handle_file
    return client.predict(handle_file(str(EXAMPLE)), model, False, api_name="/analyze")


def bench_cold_start(model: str) -> dict:
    port = free_port()
    t0 = time.time()
    proc = start_app(port, {"VITVIZ_MODEL": model})
    try:
        client = wait_for_client(port, t0 + 120)
        served = time.time() - t0
        call_analyze(client, model)
        first = time.time() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"model": model, "server_up_s": served, "first_analysis_s": first}


def bench_concurrency(model: str, clients: int, workers: int, requests_per_client: int = 3) -> dict:
    port = free_port()
    proc = start_app(port, {"VITVIZ_MODEL": model, "VITVIZ_CONCURRENCY": str(workers)})
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        wait_for_client(port, time.time() + 120)
        call_analyze(wait_for_client(port, time.time() + 60), model)  # warm the model cache

        def user() -> None:
            client = wait_for_client(port, time.time() + 60)
            for _ in range(requests_per_client):
                t = time.perf_counter()
                try:
                    call_analyze(client, model)
                    with lock:
                        latencies.append(time.perf_counter() - t)
                except Exception as exc:  # counted, reported
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")

        threads = [threading.Thread(target=user) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = sorted(latencies)
    return {
        "model": model, "clients": clients, "workers": workers, "requests": len(lat), "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "requests_per_s": len(lat) / wall if wall else 0.0,
        "p50_s": lat[len(lat) // 2] if lat else None,
        "p95_s": lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else None,
    }


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "fused_attention_default": timm.layers.use_fused_attn(),
    }


def verdict(value: float | None, limit: float) -> str:
    return "n/a" if value is None else ("OK" if value <= limit else "MISSED")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="vit_base_patch16_224,vit_tiny_patch16_224,vit_small_patch16_224,vitviz-shapes")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="3 repeats; skip memory and server benchmarks")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = p.parse_args()
    repeats = 3 if args.quick else args.repeats
    from vitviz.core.runtime import return_large_buffers_to_os
    return_large_buffers_to_os()  # as the app does

    names = [n for n in args.models.split(",") if n != vitviz.EMBEDDED_MODEL or embedded_model_available()]
    report = {"machine": machine(), "models": [], "targets": TARGETS}
    print(f"{'model':28s} {'bare ms':>8s} {'capture':>8s} {'analysis':>9s} {'relevance':>10s} {'render':>7s} {'state MB':>9s}")
    for name in names:
        row = bench_model(name, repeats)
        report["models"].append(row)
        print(f"{name:28s} {row['bare_forward_ms']:8.1f} {row['capture']:7.2f}x {row['analysis']:8.2f}x "
              f"{row['relevance']:9.2f}x {row.get('render_all', float('nan')):6.2f}x {row['state_mb']:9.1f}")
        print("    re-render ms: " + ", ".join(f"{k} {v:.1f}" for k, v in row["rerender_ms"].items())
              + f"; what-if (drop 1/3 of the patches) {row['what_if_ms']:.1f} ms")

    if not args.quick:
        report["peak_memory"] = bench_peak_memory()
        m = report["peak_memory"]
        print(f"peak RSS, {m['model']}: {m['peak_rss_gb']:.2f} GB (after load {m['peak_rss_after_load_gb']:.2f} GB), "
              f"attention kept as {m['attention_dtype']} [{verdict(m['peak_rss_gb'], PEAK_RSS_GB)}]")
        served = vitviz.EMBEDDED_MODEL if embedded_model_available() else "vit_tiny_patch16_224"
        report["cold_start"] = bench_cold_start(served)
        c = report["cold_start"]
        print(f"cold start ({served}): server up {c['server_up_s']:.1f} s, first analysis {c['first_analysis_s']:.1f} s "
              f"[{verdict(c['first_analysis_s'], COLD_START_S)}]")
        # one client alone gives the per-request latency; then 8 and 32 clients per worker count
        runs = [(1, 1, 20)] + [(clients, workers, 3) for workers in (1, 2, 4) for clients in (8, 32)]
        report["concurrency"] = []
        for clients, workers, per_client in runs:
            c = bench_concurrency(served, clients, workers, per_client)
            report["concurrency"].append(c)
            print(f"{c['clients']:3d} clients, {workers} workers: {c['requests']} requests, {c['errors']} errors, "
                  f"{c['requests_per_s']:.2f} req/s, p50 {c['p50_s']:.2f} s, p95 {c['p95_s']:.2f} s")

    base = next((r for r in report["models"] if r["model"] == "vit_base_patch16_224"), None)
    if base:
        print("\ntargets (vit_base_patch16_224):")
        for key, limit in TARGETS.items():
            print(f"  {key:11s} {base.get(key, float('nan')):6.2f}x  (≤ {limit}x)  {verdict(base.get(key), limit)}")
        worst = max(base.get("rerender_ms", {"n/a": float("nan")}).values())
        print(f"  re-render   {worst:6.1f} ms (≤ {RERENDER_MS} ms)  {verdict(worst, RERENDER_MS)}")
        print(f"  state       {base['state_mb']:6.1f} MB (≤ {STATE_MB} MB)  {verdict(base['state_mb'], STATE_MB)}")
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
