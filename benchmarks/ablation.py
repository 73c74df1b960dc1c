"""Benchmark head importance (section 7: every head alone switched off) against a bare timm forward.

    python benchmarks/ablation.py                        # ViT-B/16 + the embedded models; writes benchmarks/ablation.json
    python benchmarks/ablation.py --models vitviz-shapes --repeats 5 --out /tmp/a.json

`vitviz.analysis.ablation.head_importance` on one image (chelsea_cat.jpg through the model's own
transform: 224×224 for every model here), target = the top class, zero-ablation, the default batch,
torch threads = 2, random weights for the timm models. Each repeat times --bare bare forwards (batch 1,
a separate instance with the same weights and timm's fused attention, as benchmarks/bench.py), then
head importance once, then --bare bare forwards again; the reference is the median of both sets, so
slow drift of a shared machine during the run falls on both sides of the ratio. Every repeat is
reported, with the load average before and after it (the 1-minute figure of /proc/loadavg).
Targets: ViT-B/16 ≤ 60 s, the embedded models ≤ 2 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench import EXAMPLE, ROOT, bare_twin, load, machine  # benchmarks/ is sys.path[0] for a script here; bench adds ROOT

import timm
import torch
from PIL import Image

import vitviz
from vitviz.analysis.ablation import batch_rows, head_importance
from vitviz.core.model import is_embedded

TARGET_S = {"vit_base_patch16_224": 60.0, "vitviz-fashion": 2.0, "vitviz-shapes": 2.0}


def load_any(name: str) -> vitviz.LoadedModel:
    return vitviz.load_model(name) if is_embedded(name) else load(name)


def bare_times(twin: torch.nn.Module, x: torch.Tensor, n: int) -> list[float]:
    """Seconds of n bare forwards of x (1, 3, H, W), after one warm-up."""
    times = []
    with torch.inference_mode():
        for _ in range(n + 1):
            t = time.perf_counter()
            twin(x)
            times.append(time.perf_counter() - t)
    return times[1:]


def bench_model(name: str, repeats: int, bare_n: int) -> dict:
    loaded = load_any(name)
    twin = bare_twin(loaded)
    x = loaded.transform(Image.open(EXAMPLE).convert("RGB")).float()  # 3, H, W
    info = loaded.info
    with torch.inference_mode():  # warm-up: the allocator at the batch head importance runs, lazy imports
        loaded.model(x.expand(min(batch_rows(info), info.depth * info.num_heads), -1, -1, -1))
    runs = []
    for _ in range(repeats):
        load_before = os.getloadavg()[0]
        before = bare_times(twin, x.unsqueeze(0), bare_n)
        t = time.perf_counter()
        head_importance(loaded, x)
        seconds = time.perf_counter() - t
        bare = statistics.median(before + bare_times(twin, x.unsqueeze(0), bare_n))
        runs.append({"seconds": seconds, "bare_forward_ms": bare * 1e3, "ratio": seconds / bare,
                     "load_before": load_before, "load_after": os.getloadavg()[0]})
    return {"model": name, "input": list(x.shape), "layers": info.depth, "heads": info.num_heads,
            "ablations": info.depth * info.num_heads, "batch": batch_rows(info), "target_s": TARGET_S.get(name),
            "runs": runs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="vit_base_patch16_224,vitviz-fashion,vitviz-shapes")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--bare", type=int, default=5, help="bare forwards before and after each run (the median of both is the reference)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "ablation.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report = {"machine": machine(), "models": []}
    print(f"{'model':24s} {'L×H':>6s} {'batch':>5s} {'run':>4s} {'bare ms':>8s} {'importance':>11s} {'ratio':>7s} {'load':>10s}")
    for name in args.models.split(","):
        row = bench_model(name, args.repeats, args.bare)
        report["models"].append(row)
        for i, r in enumerate(row["runs"], 1):
            verdict = "" if row["target_s"] is None else ("OK" if r["seconds"] <= row["target_s"] else "MISSED")
            print(f"{name:24s} {row['layers']:>2d}×{row['heads']:<3d} {row['batch']:5d} {i:4d} {r['bare_forward_ms']:8.1f} "
                  f"{r['seconds']:10.2f}s {r['ratio']:6.1f}x {r['load_before']:4.1f}→{r['load_after']:4.1f}  {verdict}",
                  flush=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
