"""The data the in-browser attention explorer draws from (bertviz's split: a dict of numbers is
the only link between the maths and the view, `vitviz/views/explorer.js` draws it).

Maps travel as rows of uint8 with one affine scale per row: value = lo + q · (hi − lo) / 255,
so a decoded value is within (hi − lo) / 510 ≤ 0.2 % of the row's maximum (for the non-negative
maps here) of the analysis' float32 value. The bytes are deflated and base64-encoded; the browser
inflates them with its own `DecompressionStream`. The first view's parts, which come inside the
component's value with a new analysis (`first_view=True`), are not deflated and carry the image as raw
RGB instead of PNG: the browser decodes them synchronously, so the first view is drawn in the same
task the value arrives in, not after asynchronous decodes queued behind the page's other work
(deflate saves only ~13 % on attention codes; benchmarks/RESULTS.md, "Browser").

Parts, each one JSON-serialisable dict:
- `explorer_meta`: geometry, token names, the image, the colour map's LUT;
- `readout_part`: the readout row of every layer and head (the overview; the "CLS" query);
- `layer_part(layer)`: every query's attention in one layer (the hover view), sent per layer;
- `rollout_part`: the rollout for 3 fusions × 20 discard ratios, and the per-head rollouts
  (`own_rollout_part`: the analysis' own fusion and ratio only, for the first view).
"""
from __future__ import annotations

import base64
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vitviz import render as R
from vitviz.analysis import attention as att
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.neuron import AnalysisCache
from vitviz.views.text import TEXT

# The drawing code (runs in the browser: gr.HTML in the app, anywidget in notebooks) and its style.
SCRIPT = (Path(__file__).with_name("explorer.js")).read_text(encoding="utf-8")
CSS = """
.vvx {display: flex; flex-direction: column; gap: 8px; font-size: 15px; min-width: 0; max-width: 100%;}
.vvx-controls {display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center;}
.vvx-ctl {display: inline-flex; gap: 6px; align-items: center; min-width: 0; max-width: 100%;}
.vvx-ctl select, .vvx-ctl input, .vvx button {font-size: 15px; min-height: 32px;}
.vvx-ctl select {min-width: 0; max-width: 100%; flex: 0 1 auto; text-overflow: ellipsis;}
.vvx-ctl input[type=range] {width: 150px; min-width: 90px; flex: 0 1 150px;}
.vvx-ctl output {min-width: 2.2em; font-variant-numeric: tabular-nums;}
.vvx-body {display: flex; flex-wrap: wrap; gap: 16px;}
.vvx-main {flex: 1 1 320px; max-width: 448px; min-width: 0;}
.vvx-side {flex: 1 1 300px; min-width: 0; max-width: 560px;}
.vvx-canvas {display: block; width: 100%; max-width: 100%; touch-action: none; cursor: crosshair; border-radius: 4px;}
.vvx-mosaic {display: block; max-width: 100%; height: auto; cursor: pointer;}
.vvx-bar-canvas {display: block; width: 100%; height: 12px; image-rendering: pixelated;}
.vvx-bar-labels {display: flex; justify-content: space-between; font-size: 13px; font-variant-numeric: tabular-nums;}
.vvx-readout {min-height: 4.5em; margin: 4px 0; font-variant-numeric: tabular-nums;}
.vvx-help, .vvx-mosaic-title {font-size: 14px; margin: 2px 0; opacity: 0.85;}
.vvx :focus-visible {outline: 3px solid #1f6feb; outline-offset: 2px;}
.vvx-empty {opacity: 0.8;}
"""

PARTS = AnalysisCache(48)  # encoded parts per analysis: every tab asks once, the two explorers share


@dataclass(frozen=True)
class EncodedRows:
    """(..., K) float rows as uint8 codes with one (lo, hi) per row."""

    shape: tuple[int, ...]
    codes: str  # base64 of the uint8 codes, row-major, deflated unless codec is "raw"
    lo: list[float]
    hi: list[float]
    codec: str = "deflate"

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "codes": self.codes, "lo": self.lo, "hi": self.hi, "codec": self.codec}


def encode_rows(values: np.ndarray, deflate: bool = True) -> EncodedRows:
    """Quantise every row (last axis) of `values` to 256 levels between its min and max."""
    v = np.asarray(values, dtype=np.float32)
    rows = v.reshape(-1, v.shape[-1])
    lo = rows.min(axis=1)
    hi = rows.max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    codes = np.round((rows - lo[:, None]) / span[:, None] * 255).astype(np.uint8)
    raw = codes.tobytes()
    packed = base64.b64encode(zlib.compress(raw, 6) if deflate else raw).decode("ascii")
    return EncodedRows(tuple(v.shape), packed, _floats(lo), _floats(hi), "deflate" if deflate else "raw")


def decode_rows(encoded: dict) -> np.ndarray:
    """The inverse of `encode_rows(...).to_dict()` (as the browser computes it) → float32."""
    shape = tuple(encoded["shape"])
    data = base64.b64decode(encoded["codes"])
    codes = np.frombuffer(data if encoded.get("codec") == "raw" else zlib.decompress(data), dtype=np.uint8)
    rows = codes.reshape(-1, shape[-1]).astype(np.float32)
    lo = np.asarray(encoded["lo"], dtype=np.float32)[:, None]
    hi = np.asarray(encoded["hi"], dtype=np.float32)[:, None]
    return (lo + rows * (hi - lo) / 255).reshape(shape)


def _floats(x: np.ndarray) -> list[float]:
    return [float(f"{v:.7g}") for v in x.tolist()]


def image_data_url(image: np.ndarray) -> str:
    """A PNG data URL, zlib level 1: the lesson's 15 figures encode in 136 ms instead of 265, 9 % larger."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def lut_hex(cmap: str = R.MAP_CMAP) -> str:
    """The server figures' 256-entry colour table as one hex string (6 digits per level)."""
    return R.colormap_lut(cmap).tobytes().hex()


def image_pixels(image: np.ndarray) -> dict:
    """(h, w, 3) uint8 → {"width", "height", "rgb": base64 of the raw bytes}: decoded synchronously."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return {"width": int(image.shape[1]), "height": int(image.shape[0]),
            "rgb": base64.b64encode(image.tobytes()).decode("ascii")}


def explorer_meta(a: Analysis, first_view: bool = False) -> dict:
    """What the explorer needs before any map: geometry, token names, the image and the LUT (the
    image as raw RGB `pixels` for the first view, else a PNG data URL)."""
    info = a.info
    _, h, w = info.input_size
    picture = {"pixels": image_pixels(a.image)} if first_view else {"image": image_data_url(a.image)}
    return {
        "model": info.name, "grid": list(info.grid), "patch": list(info.patch_size), "input": [h, w],
        "depth": info.depth, "heads": info.num_heads, "tokens": info.num_tokens,
        "prefix": list(info.prefix_names), "readout": info.readout, **picture,
        "lut": lut_hex(), "fusions": list(att.FUSIONS), "discards": list(att.discard_steps()),
        "fusion": a.fusion, "discard": a.discard_ratio,
    }


def readout_part(a: Analysis, first_view: bool = False) -> dict:
    """The readout row of every layer and head over the patches: (L, H, P)."""
    L, H = a.cls_attention.shape[:2]
    return {"readout": encode_rows(a.cls_attention.reshape(L, H, -1), deflate=not first_view).to_dict()}


RAW_CODES_MAX = 2**21  # a first view's layer with more codes (ViT-L/16 at 384: 5.3 M) stays deflated


def layer_part(a: Analysis, layer: int, first_view: bool = False) -> dict:
    """Every query token's attention in block `layer`: over the patch keys (H, N, P), each row on
    its own scale, and over the prefix keys (H, N, prefix) separately, so a CLS key holding most
    of a row does not flatten the patch map's 256 levels."""
    rows = np.asarray(a.attention[layer], dtype=np.float32)  # H, N, N
    p0 = a.info.num_prefix_tokens
    deflate = not first_view or rows.size > RAW_CODES_MAX
    part = {"layer": layer, "patches": encode_rows(rows[..., p0:], deflate=deflate).to_dict()}
    if p0:
        part["prefix"] = encode_rows(rows[..., :p0], deflate=deflate).to_dict()
    return part


def rollout_part(a: Analysis, first_view: bool = False) -> dict:
    """Rollout maps for every fusion × discard step (F, D, P) and the per-head rollouts (L, H, P);
    `fusions` and `steps` (discard ratio / 0.05) name the maps' axes."""
    gh, gw = a.info.grid
    variants = att.rollout_variants(torch.from_numpy(np.asarray(a.attention)), a.info)  # F, D, N
    maps = att.patch_columns(variants, (gh, gw)).reshape(*variants.shape[:2], -1).numpy()
    return _rollout_rows(a, list(att.FUSIONS), list(range(len(att.discard_steps()))), maps, first_view)


def own_rollout_part(a: Analysis, first_view: bool = True) -> dict:
    """`rollout_part` for the analysis' own fusion and discard ratio only, (1, 1, P): the map the
    analysis computed already, so the first view waits for no other."""
    steps = att.discard_steps()
    step = min(range(len(steps)), key=lambda d: abs(steps[d] - a.discard_ratio))
    own = a.rollout if steps[step] == a.discard_ratio else a.rollout_map(a.fusion, steps[step])
    return _rollout_rows(a, [a.fusion], [step], own.reshape(1, 1, -1), first_view)


def _rollout_rows(a: Analysis, fusions: list[str], steps: list[int], maps: np.ndarray, first_view: bool) -> dict:
    L, H = a.head_rollout.shape[:2]
    return {"fusions": fusions, "steps": steps, "rollout": encode_rows(maps, deflate=not first_view).to_dict(),
            "head_rollout": encode_rows(a.head_rollout.reshape(L, H, -1), deflate=not first_view).to_dict()}


def explorer_part(a: Analysis, name: str, first_view: bool = False) -> dict:
    """One named part ("meta", "readout", "rollout", "rollout:own" or "layer:<l>"), computed
    once per analysis (and once more in the first view's form, `first_view`)."""
    key = name + (" first view" if first_view else "")
    if name.startswith("layer:"):
        layer = int(name.split(":", 1)[1])
        if not 0 <= layer < a.info.depth:
            raise ValueError(f"layer {layer} is outside 0..{a.info.depth - 1}")
        return PARTS.get(a, key, lambda: layer_part(a, layer, first_view))
    builders = {"meta": explorer_meta, "readout": readout_part, "rollout": rollout_part, "rollout:own": own_rollout_part}
    if name not in builders:
        raise ValueError(f"unknown explorer part {name!r}")
    return PARTS.get(a, key, lambda: builders[name](a, first_view))


def first_parts(mode: str, layer: int) -> tuple[str, ...]:
    """The parts an explorer needs before it can draw its first view (the rest follow lazily): for
    the rollout explorer, the analysis' own map; all 60 take 0.13-0.23 s to compute on 2 cores
    for ViT-B/16 (benchmarks/RESULTS.md, session 22)."""
    return ("meta", "rollout:own") if mode == "rollout" else ("meta", "readout", f"layer:{layer}")


TEXT_KEYS = ("layer", "head", "query", "query_patch", "all_mean", "all_max", "head_n", "opacity", "fusion",
             "discard", "mean", "max", "min", "full_rollout", "patch_label", "attention_of", "rollout_of",
             "head_rollout_of", "strongest", "under_pointer", "mosaic", "mosaic_rollout", "help", "help_rollout",
             "loading", "empty", "failed")


def explorer_texts(lang: str) -> dict[str, str]:
    """The explorer's strings in `lang` ({placeholders} are filled in the browser)."""
    return {key: TEXT[f"x_{key}"][lang if lang in TEXT[f"x_{key}"] else "en"] for key in TEXT_KEYS}
