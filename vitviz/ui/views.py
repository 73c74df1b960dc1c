"""What each section of the app shows, computed from an `Analysis` (no gradio import).

Every function takes the analysis plus the view settings and returns pictures as (H, W, 3)
uint8 arrays and texts as Markdown. Nothing here runs the model forward again except
`neuron_view` (which recomputes one head's q and k from the captured block input).
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

from .. import render as R
from ..analyze import Analysis
from ..embeddings import PosLocality
from ..model import ModelInfo
from ..neuron import attention_computation, attention_entropy, token_norms
from .text import tr

WIDE = 560  # target width in px of the mosaics
T = TypeVar("T")


class AnalysisCache:
    """A small thread-safe LRU of values derived from one `Analysis`, keyed by its identity.

    gradio keeps each tab's Analysis object as is between events, so what depends only on
    the analysis is computed once per image instead of on every interaction. An entry holds
    a weak reference to its analysis, counts only while that same object is alive (an id
    can be reused after an object is freed) and is dropped soon after the analysis is
    freed. Callers must not modify the values.
    """

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, str], tuple[weakref.ref, object]] = OrderedDict()
        self._dead: list[tuple[int, str]] = []  # appended to by weakref callbacks (any thread, no lock)

    def get(self, a: Analysis, name: str, compute: Callable[[], T]) -> T:
        key = (id(a), name)
        with self._lock:
            self._purge()
            hit = self._items.get(key)
            if hit is not None and hit[0]() is a:
                self._items.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = compute()  # outside the lock: other tabs are not held up
        dead = self._dead
        ref = weakref.ref(a, lambda _, key=key: dead.append(key))
        with self._lock:
            self._items[key] = (ref, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def _purge(self) -> None:
        while self._dead:
            key = self._dead.pop()
            hit = self._items.get(key)
            if hit is not None and hit[0]() is None:
                del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._items)


DERIVED = AnalysisCache(24)  # per analysis: depth measurements, the overview mosaic (~1–2 MB)
ROLLOUTS = AnalysisCache(64)  # (gh, gw) rollout maps for other fusion / discard settings


def _depth_measurements(a: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """(L+1,) mean token norm and (L,) mean attention entropy through the depth (cached per analysis)."""
    def compute():
        norms = token_norms(a.tokens)
        ent = attention_entropy(a.attention).mean(-1)
        for v in (norms, ent):
            v.setflags(write=False)
        return norms, ent

    return DERIVED.get(a, "depth_measurements", compute)


@dataclass(frozen=True)
class ViewSettings:
    """Per-tab view state: everything that re-draws without running the model."""

    lang: str = "en"
    layer: int = 0  # 0-based
    head: int = 0  # 0-based
    patch: tuple[int, int] = (0, 0)
    query: str = "patch"  # "patch" or the name of a prefix token
    fusion: str = "mean"
    discard: float = 0.0


def default_patch(info: ModelInfo) -> tuple[int, int]:
    return info.grid[0] // 2, info.grid[1] // 2


def query_token(a: Analysis, s: ViewSettings) -> int:
    if s.query != "patch" and s.query in a.info.prefix_names:
        return a.info.prefix_names.index(s.query)
    return a.grid.token_index(*s.patch)


def token_label(a: Analysis, token: int) -> str:
    pos = a.grid.token_position(token)
    if pos is None:
        return a.info.prefix_names[token]
    return f"patch ({pos[0]}, {pos[1]})"


def _fmt(info: ModelInfo) -> dict:
    _, h, w = info.input_size
    gh, gw = info.grid
    ph, pw = info.patch_size
    return dict(h=h, w=w, gh=gh, gw=gw, ph=ph, pw=pw, c=info.embed_dim, p=info.num_patches, n=info.num_tokens,
                depth=info.depth, heads=info.num_heads, d=info.head_dim, hidden=info.mlp_hidden, k=info.num_classes,
                names=" + ".join(info.prefix_names) or "—")


def _readout_name(info: ModelInfo, lang: str) -> str:
    return tr("readout_name_cls" if info.readout == "cls" else "readout_name_avg", lang)


# --------------------------------------------------------------------------- 1. input
def shape_table(info: ModelInfo, lang: str) -> str:
    """The shape walkthrough, input → head, with this model's numbers (Markdown table)."""
    f = _fmt(info)
    readout_what = tr("readout_cls", lang) if info.readout == "cls" else tr("readout_avg", lang, **f)
    rows = [tr("shape_input", lang, **f), tr("shape_conv", lang, **f), tr("shape_flat", lang, **f)]
    if info.num_prefix_tokens:
        rows.append(tr("shape_prefix", lang, **f))
    rows += [tr("shape_pos", lang, **f), tr("shape_blocks", lang, **f),
             tr("shape_norm", lang, readout="CLS" if info.readout == "cls" else "mean", readout_what=readout_what, **f),
             tr("shape_head_row" if info.num_classes else "shape_no_head", lang, **f)]
    lines = [tr("shape_table_title", lang), "", tr("shape_head", lang)]
    lines += [f"| {r} |" for r in rows]
    steps = [f"({f['h']}, {f['w']}, 3)", f"({f['gh']}, {f['gw']}, {f['c']})", f"({f['p']}, {f['c']})",
             f"({f['n']}, {f['c']})", f"({f['c']},)"] + ([f"({f['k']},)"] if info.num_classes else [])
    chain = " → ".join(steps)
    lines += ["", f"`{chain}`"]
    return "\n".join(lines)


def input_text(info: ModelInfo, lang: str) -> str:
    f = _fmt(info)
    if info.prefix_names == ("CLS",):
        prefix = tr("prefix_cls", lang)
    elif info.prefix_names:
        prefix = tr("prefix_many", lang, names=", ".join(info.prefix_names))
    else:
        prefix = ""
    if info.readout == "avg":
        prefix += tr("prefix_avg", lang)
    return tr("sec_a", lang) + "\n\n" + tr("expl_a", lang, prefix_sentence=prefix, **f)


def grid_image(a: Analysis, patch: tuple[int, int] | None) -> np.ndarray:
    return R.draw_patch_grid(a.image, a.grid, highlight=patch)


def strip_image(a: Analysis) -> np.ndarray:
    return R.patch_sequence_strip(a.image, a.grid, a.info.prefix_names)


def filters_image(a: Analysis) -> np.ndarray:
    return R.filter_components_image(a.filter_components, cols=7, tile=48)


def display_factor(a: Analysis) -> int:
    """The enlargement of every clickable picture (pixel (x, y) there is (x/f, y/f) in the input)."""
    return R.display_scale(min(a.image.shape[:2]))


def patch_at_display_pixel(a: Analysis, x: float, y: float) -> tuple[int, int]:
    f = display_factor(a)
    return a.grid.patch_at_pixel(x / f, y / f)


# --------------------------------------------------------------------------- 2. position
def position_text(info: ModelInfo, lang: str, locality: PosLocality | None = None) -> str:
    """The section's explanation, then what `locality` (the loaded model's embeddings) shows."""
    text = tr("sec_b", lang) + "\n\n" + tr("expl_b", lang, **_fmt(info))
    if locality is None or locality.far_cos is None:
        return text
    loc = locality

    def cos(x: float | None) -> float | None:
        return None if x is None else round(x, 2) + 0.0  # no "-0.00"

    text += "\n\n" + tr(f"pos_measured_{loc.pattern}", lang, near=cos(loc.neighbour_cos), far=loc.far,
                        farv=cos(loc.far_cos), ring=cos(loc.same_ring_far_cos))
    # rows and columns (ViT paper, fig. 7): worth saying only when they stand out from other far pairs
    if loc.pattern == "grid" and loc.same_line_far_cos is not None and loc.same_line_far_cos > loc.far_cos + 0.1:
        text += tr("pos_measured_lines", lang, line=cos(loc.same_line_far_cos))
    return text


def position_all_image(a: Analysis) -> np.ndarray:
    return R.with_colorbar(R.position_similarity_image(a.pos_similarity), -1.0, 1.0, cmap=R.SIGNED_CMAP,
                           label="cosine similarity")


def position_patch_image(a: Analysis, patch: tuple[int, int]) -> np.ndarray:
    idx = patch[0] * a.info.grid[1] + patch[1]
    sim = a.pos_similarity[idx]
    big = R.overlay(a.image, sim, alpha=0.8, vmin=-1.0, vmax=1.0, cmap=R.SIGNED_CMAP)
    big = R.mark_patch(big, a.grid, patch, display_factor(a), mark=(255, 80, 80))
    return R.with_colorbar(big, -1.0, 1.0, cmap=R.SIGNED_CMAP, label="cosine similarity")


# --------------------------------------------------------------------------- 3. attention
def attention_text(info: ModelInfo, lang: str) -> str:
    return tr("sec_c", lang) + "\n\n" + tr("expl_c", lang, readout=_readout_name(info, lang), **_fmt(info))


def _head_cols(heads: int) -> int:
    if heads <= 4:
        return heads
    return min(6, math.ceil(heads / math.ceil(heads / 6)))


def layer_heads_image(a: Analysis, layer: int) -> np.ndarray:
    """The readout token's attention in one layer, one tile per head, over the image."""
    maps = a.cls_attention[layer]
    H = maps.shape[0]
    cols = _head_cols(H)
    size = min(200, WIDE // cols)
    tiles = R.map_tiles(maps, size=size, image=a.image)
    return R.tile_grid(tiles, math.ceil(H / cols), cols, labels=[f"head {h + 1}" for h in range(H)])


def overview_image(a: Analysis, layer: int | None = None) -> np.ndarray:
    """Layer × head overview of the readout attention (each tile on its own scale).

    The mosaic depends only on the analysis (drawn once, cached); the chosen layer's row is
    framed on a copy.
    """
    L, H = a.cls_attention.shape[:2]

    def compute():
        size = int(np.clip(WIDE // H, 24, 72))
        tiles = R.map_tiles(a.cls_attention.reshape(L * H, *a.info.grid), size=size)
        mosaic = R.tile_grid(tiles, L, H, row_labels=[f"L{i + 1}" for i in range(L)],
                             col_labels=[f"h{h + 1}" for h in range(H)], pad=2, label_size=11)
        boxes = R.tile_grid_boxes(tiles[0].shape[:2], L, H, row_labels=True, col_labels=True, pad=2, label_size=11)
        mosaic.setflags(write=False)
        return mosaic, boxes

    mosaic, boxes = DERIVED.get(a, "overview", compute)
    out = mosaic.copy()
    if layer is not None and 0 <= layer < L:
        for y0, x0, y1, x1 in boxes[layer * H:(layer + 1) * H]:
            _frame(out[y0:y1, x0:x1], colour=(255, 215, 0), width=2)
    return out


def query_image(a: Analysis, s: ViewSettings) -> np.ndarray:
    """What the query token attends to in the chosen layer and head, over the image, with a colour bar."""
    token = query_token(a, s)
    m = a.query_attention(token)[s.layer, s.head]
    lo, hi = float(m.min()), float(m.max())
    big = R.overlay(a.image, m, alpha=0.65, vmin=lo, vmax=hi)
    if a.grid.token_position(token) is not None:
        big = R.mark_patch(big, a.grid, s.patch, display_factor(a))
    return R.with_colorbar(big, lo, hi, label="attention weight (over patch tokens)")


def query_heads_image(a: Analysis, s: ViewSettings) -> np.ndarray:
    maps = a.query_attention(query_token(a, s))[s.layer]
    H = maps.shape[0]
    cols = _head_cols(H)
    tiles = R.map_tiles(maps, size=min(160, WIDE // cols), image=a.image)
    _frame(tiles[s.head])
    return R.tile_grid(tiles, math.ceil(H / cols), cols,
                       labels=[f"head {h + 1}" + (" (chosen)" if h == s.head else "") for h in range(H)])


def _frame(tile: np.ndarray, colour=(0, 230, 255), width: int = 3) -> None:
    """Draw a frame inside a tile, in place."""
    tile[:width] = colour
    tile[-width:] = colour
    tile[:, :width] = colour
    tile[:, -width:] = colour


def distance_image(a: Analysis, layer: int) -> np.ndarray:
    return R.attention_distance_image(a.attention_distance, a.info.patch_size, highlight_layer=layer)


def distance_text(info: ModelInfo, lang: str) -> str:
    return tr("distance_expl", lang, **_fmt(info))


def neuron_text(model, a: Analysis, s: ViewSettings, comp=None) -> str:
    """Markdown explaining q, keys, scores and softmax for the query token (chosen layer/head)."""
    token = query_token(a, s)
    comp = comp or attention_computation(model, a.tokens, s.layer, s.head, token)
    top = int(np.argmax(comp.probs))
    return tr("sub_neuron", s.lang) + "\n\n" + tr(
        "expl_neuron", s.lang, query=token_label(a, token), layer=s.layer + 1, head=s.head + 1, d=comp.head_dim,
        n=a.info.num_tokens, scale=comp.scale, top=token_label(a, top), top_p=float(comp.probs[top]),
        entropy=comp.entropy, max_entropy=math.log(a.info.num_tokens))


def neuron_view(model, a: Analysis, s: ViewSettings) -> tuple[str, np.ndarray]:
    """Markdown + figure of q, keys, scores and softmax for the query token (chosen layer/head)."""
    token = query_token(a, s)
    comp = attention_computation(model, a.tokens, s.layer, s.head, token)
    labels = [token_label(a, i) for i in range(a.info.num_tokens)]
    text = neuron_text(model, a, s, comp)
    image = R.attention_computation_image(comp.query, comp.keys, comp.scores, comp.probs, labels, labels[token],
                                          comp.scale, num_prefix=a.info.num_prefix_tokens, query_token=token)
    return text, image


def block_text(a: Analysis, s: ViewSettings, model=None) -> str:
    """The path through block `s.layer` with real shapes and one measurement per step."""
    info = a.info
    f = _fmt(info)
    lang = s.lang
    l = s.layer
    norms, ent = _depth_measurements(a)
    self_att = float(np.diagonal(a.attention[l].astype(np.float32), axis1=-2, axis2=-1).mean())
    scale = info.head_dim ** -0.5
    if model is not None:
        scale = float(model.blocks[l].attn.scale)
    values = dict(f, c3=3 * info.embed_dim, scale=scale, norm_in=float(norms[l]), norm_out=float(norms[l + 1]),
                  ent=float(ent[l]), ent_max=math.log(info.num_tokens), self_att=self_att,
                  gelu=float(a.gelu_near_zero[l]) if len(a.gelu_near_zero) > l else float("nan"))
    keys = ["blk_in", "blk_ln1", "blk_qkv", "blk_split", "blk_scores", "blk_softmax", "blk_av", "blk_merge",
            "blk_proj", "blk_res1", "blk_ln2", "blk_fc1", "blk_gelu", "blk_fc2", "blk_res2"]
    rows = [f"| {i + 1}. {tr(k, lang, **values)} |" for i, k in enumerate(keys)]
    head = tr("sub_block", lang) + "\n\n" + tr("expl_block", lang, layer=l + 1, depth=info.depth)
    return head + "\n\n" + tr("block_head", lang) + "\n" + "\n".join(rows)


def block_stats_image(a: Analysis, layer: int) -> np.ndarray:
    """Token norm, attention entropy and near-zero GELU share through the depth."""
    L = a.info.depth
    norms, ent = _depth_measurements(a)
    x = np.arange(1, L + 1)
    return R.line_panels_image([
        R.LinePanel(np.arange(0, L + 1), norms, "mean token norm", "after block (0 = input)", (59, 82, 139)),
        R.LinePanel(x, ent, "attention entropy (nats)", "block", (33, 145, 140), reference=math.log(a.info.num_tokens)),
        R.LinePanel(x, a.gelu_near_zero[:L] * 100, "GELU outputs ≈ 0 (%)", "block", (230, 85, 13)),
    ], highlight=layer + 1)


# --------------------------------------------------------------------------- 4. rollout
def rollout_text(info: ModelInfo, lang: str) -> str:
    return tr("sec_d", lang) + "\n\n" + tr("expl_d", lang, readout=_readout_name(info, lang), **_fmt(info))


def rollout_image(a: Analysis, fusion: str, discard: float) -> np.ndarray:
    if fusion == a.fusion and abs(discard - a.discard_ratio) < 1e-9:
        m = a.rollout
    else:
        m = ROLLOUTS.get(a, f"{fusion}:{discard:.6g}", lambda: a.rollout_map(fusion, discard))
    lo, hi = float(m.min()), float(m.max())
    return R.with_colorbar(R.overlay(a.image, m, alpha=0.65, vmin=lo, vmax=hi), lo, hi, label="rollout weight")


def head_rollout_image(a: Analysis) -> np.ndarray:
    L, H = a.head_rollout.shape[:2]
    size = int(np.clip(WIDE // H, 24, 72))
    tiles = R.map_tiles(a.head_rollout.reshape(L * H, *a.info.grid), size=size, image=a.image, alpha=0.75)
    return R.tile_grid(tiles, L, H, row_labels=[f"L{i + 1}" for i in range(L)],
                       col_labels=[f"h{h + 1}" for h in range(H)], pad=2, label_size=11)


def relevance_image(a: Analysis) -> np.ndarray | None:
    if a.relevance is None:
        return None
    m = a.relevance
    lo, hi = float(m.min()), float(m.max())
    return R.with_colorbar(R.overlay(a.image, m, alpha=0.65, vmin=lo, vmax=hi), lo, hi, label="relevance")


# --------------------------------------------------------------------------- 5. prediction
def prediction_text(info: ModelInfo, lang: str, random_weights: bool = False) -> str:
    what = tr("expl_e_cls" if info.readout == "cls" else "expl_e_avg", lang)
    if not info.num_classes:
        return tr("sec_e", lang) + "\n\n" + tr("no_head", lang, **_fmt(info))
    text = tr("sec_e", lang) + "\n\n" + tr("expl_e", lang, readout_what=what, **_fmt(info))
    if "DIST" in info.prefix_names:
        text += " " + tr("dist_note", lang)
    if random_weights:
        text += "\n\n" + tr("random_note", lang)
    return text


def prediction_label(a: Analysis) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in a.predictions:
        name = p.name if p.name not in out else f"{p.name} ({p.index})"
        out[name] = float(p.probability)
    return out


def class_choices(a: Analysis) -> list[tuple[str, int]]:
    return [(f"{p.name} ({p.probability:.1%})", int(p.index)) for p in a.predictions]


# --------------------------------------------------------------------------- 7. can we trust it?
RANDOM_BASELINE = "random"
HATCH = (150, 150, 150)


def explanations_text(lang: str = "en") -> str:
    """Heading and explanation of section 7."""
    return tr("sec_g", lang) + "\n\n" + tr("expl_g", lang)


def explanations_image(a: Analysis, maps: dict[str, np.ndarray], seconds: dict[str, float] | None = None) -> np.ndarray:
    """One tile per method ({method: (gh, gw) map in [0, 1]}) over the image, one shared colour bar."""
    names = list(maps)
    if not names:
        raise ValueError("no explanation maps to show")
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    tiles = R.map_tiles(np.stack([maps[n] for n in names]), size=min(200, WIDE // cols), image=a.image,
                        vmin=0.0, vmax=1.0)
    seconds = seconds or {}
    labels = [f"{n} ({seconds[n]:.2f}s)" if n in seconds else n for n in names]
    mosaic = R.tile_grid(tiles, rows, cols, labels=labels, label_size=11)
    return R.with_colorbar(mosaic, 0.0, 1.0, label="importance (normalised per map)")


def random_map(a: Analysis, seed: int = 0) -> np.ndarray:
    """The random baseline: a fixed random ranking of the patches, (gh, gw) in [0, 1]."""
    return np.random.default_rng(seed).random(a.info.grid).astype(np.float32)


def faithfulness_image(curves, lang: str = "en") -> np.ndarray:
    """Deletion and insertion curves of every method (vitviz.faithfulness.Curve list), side by side."""
    panels = []
    for kind in ("deletion", "insertion"):
        series = {f"{c.method} ({c.auc:.3g})": c.probs for c in curves if c.kind == kind}
        x = next((c.fractions for c in curves if c.kind == kind), None)
        if not series:
            continue
        xlabel = "share of patches removed" if kind == "deletion" else "share of patches revealed"
        better = "lower AUC is better" if kind == "deletion" else "higher AUC is better"
        fig = R.line_figure(series, title=f"{kind} ({better})", xlabel=xlabel, ylabel="class probability",
                            x=x, width=4.6, height=3.4)
        panels.append(R.figure_rgb(fig))  # draws and closes the figure
    if not panels:
        raise ValueError("no curves to draw")
    h = max(p.shape[0] for p in panels)
    panels = [np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels]
    return np.concatenate(panels, axis=1)


def auc_table(curves, class_name: str, mode: str, lang: str = "en") -> str:
    """Markdown table of AUCs per method (deletion ↓, insertion ↑); the best of each is bold."""
    auc: dict[str, dict[str, float]] = {}
    for c in curves:
        auc.setdefault(c.method, {})[c.kind] = float(c.auc)
    best_del = min((v["deletion"] for v in auc.values() if "deletion" in v), default=None)
    best_ins = max((v["insertion"] for v in auc.values() if "insertion" in v), default=None)

    def cell(v, best):
        if v is None:
            return "—"
        text = f"{v:.3f}" if v >= 0.01 else f"{v:.2g}"
        return f"**{text}**" if best is not None and abs(v - best) < 1e-12 else text

    mode_name = tr("faith_pixels" if mode == "pixels" else "faith_tokens", lang)
    lines = [tr("auc_title", lang, name=class_name, mode=mode_name), "", tr("auc_head", lang)]
    for method, v in auc.items():
        lines.append(f"| {method} | {cell(v.get('deletion'), best_del)} | {cell(v.get('insertion'), best_ins)} |")
    return "\n".join(lines)


def _hatch(tile: np.ndarray, step: int = 6) -> None:
    """Grey a tile out with diagonal hatching, in place."""
    h, w = tile.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    grey = (0.35 * tile.astype(np.float32) + 0.65 * 200).astype(np.uint8)
    grey[(xx + yy) % step < 2] = HATCH
    tile[:] = grey


def what_if_image(a: Analysis, rollout: np.ndarray, kept: np.ndarray, selected=()) -> np.ndarray:
    """The rollout of a (possibly reduced) sequence over the image; removed patches hatched grey,
    selected patches framed. Same pixel geometry as `grid_image` (clicks map back with
    `patch_at_display_pixel`); no colour bar so the whole picture is clickable."""
    rollout = np.asarray(rollout, dtype=np.float32)
    kept = np.asarray(kept, dtype=bool).reshape(a.info.grid)
    finite = rollout[kept & np.isfinite(rollout)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    filled = np.where(np.isfinite(rollout), rollout, lo)
    big = R.overlay(a.image, filled, alpha=0.65, vmin=lo, vmax=hi).copy()
    f = display_factor(a)
    ph, pw = a.info.patch_size
    gw = a.info.grid[1]
    for r, c in zip(*np.nonzero(~kept)):
        _hatch(big[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f])
    for idx in selected:
        r, c = divmod(int(idx), gw)
        _frame(big[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f], colour=(255, 80, 80), width=2)
    return big


def probabilities_label(a: Analysis, probs: np.ndarray, k: int = 5) -> dict[str, float]:
    """Top-k of a (K,) probability vector, named like `prediction_label`."""
    probs = np.asarray(probs, dtype=np.float64)
    out: dict[str, float] = {}
    for i in np.argsort(-probs, kind="stable")[:k]:
        name = a.class_names[i] if i < len(a.class_names) else str(int(i))
        out[name if name not in out else f"{name} ({int(i)})"] = float(probs[i])
    return out
