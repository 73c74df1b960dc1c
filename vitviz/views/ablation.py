"""Ablation: the head picker (the layer × head overview with the switched-off heads marked), the
patch picker (the input with the switched-off patches hatched), what changed when they are off,
the rollout of the ablated model and the head-importance map."""
from __future__ import annotations

from typing import Collection, Protocol

import numpy as np
import torch

from vitviz import render as R
from vitviz.analysis.ablation import Ablated
from vitviz.analysis.analyze import Analysis
from vitviz.views.attention import overview_image, overview_mosaic
from vitviz.views.common import display_factor, frame, patch_at_display_pixel
from vitviz.views.inputs import grid_image
from vitviz.views.prediction import probabilities_label
from vitviz.views.text import tr
from vitviz.views.trust import hatch, what_if_image

OFF_COLOUR = np.array([200, 30, 30], dtype=np.float32)


class HasLogits(Protocol):
    """An ablated run: an `Ablated` or the `Analysis` of a forward pass with heads off."""

    logits: np.ndarray  # (K,)


def _boxes(a: Analysis) -> list[tuple[int, int, int, int]]:
    return overview_mosaic(a)[1]


def head_picker_image(a: Analysis, off: set[tuple[int, int]]) -> np.ndarray:
    """The layer × head overview; heads switched off are tinted red and crossed."""
    out = overview_image(a)
    H = a.info.num_heads
    for layer, head in off:
        y0, x0, y1, x1 = _boxes(a)[layer * H + head]
        tile = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = (0.45 * tile + 0.55 * OFF_COLOUR).astype(np.uint8)
        n = min(y1 - y0, x1 - x0)
        idx = np.arange(n)
        for w in range(-1, 2):
            out[y0 + idx, np.clip(x0 + idx + w, x0, x1 - 1)] = 255
            out[y0 + idx, np.clip(x1 - 1 - idx + w, x0, x1 - 1)] = 255
    return out


def head_at_pixel(a: Analysis, x: float, y: float) -> tuple[int, int] | None:
    """(layer, head) of the picker tile under display pixel (x, y), or None between tiles."""
    H = a.info.num_heads
    for i, (y0, x0, y1, x1) in enumerate(_boxes(a)):
        if y0 <= y < y1 and x0 <= x < x1:
            return divmod(i, H)
    return None


def _patch_tile(a: Analysis, big: np.ndarray, index: int) -> np.ndarray:
    """The pixels of patch `index` (row-major) in a picture enlarged by `display_factor` (a view)."""
    f, (ph, pw) = display_factor(a), a.info.patch_size
    r, c = divmod(int(index), a.info.grid[1])
    return big[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f]


def patch_picker_image(a: Analysis, off: set[int]) -> np.ndarray:
    """The model's input with its patch grid; switched-off patches hatched grey, as removed
    patches are everywhere, and framed red like the head picker's (same geometry as `grid_image`:
    clicks map back with `patch_at_pixel`)."""
    out = grid_image(a)
    for index in off:
        tile = _patch_tile(a, out, index)
        hatch(tile)
        frame(tile, colour=tuple(int(v) for v in OFF_COLOUR), width=2)
    return out


def patch_at_pixel(a: Analysis, x: float, y: float) -> int:
    """Row-major index of the patch under display pixel (x, y) of the patch picker."""
    row, col = patch_at_display_pixel(a, x, y)
    return row * a.info.grid[1] + col


def heads_label(off: set[tuple[int, int]]) -> str:
    return ", ".join(f"L{l + 1} h{h + 1}" for l, h in sorted(off)) or "—"


def patches_label(a: Analysis, off: set[int], most: int = 8) -> str:
    """The switched-off patches as (row, col), the first `most` of them, then how many more."""
    gw = a.info.grid[1]
    shown = ", ".join(f"({i // gw}, {i % gw})" for i in sorted(off)[:most]) or "—"
    return shown + (f", … (+{len(off) - most})" if len(off) > most else "")


def _summary(a: Analysis, heads: set[tuple[int, int]], patches: Collection[int], mode: str, lang: str,
             **change) -> str:
    """The sentence naming what was switched off and how the top class's probability moved
    (`change`: name, before, after, delta)."""
    n, p = len(patches), a.info.num_patches
    if not patches:
        return tr("ablation_summary", lang, heads=heads_label(heads), mode=tr(f"ablation_mode_{mode}", lang), **change)
    if not heads:
        return tr("ablation_summary_patches", lang, n=n, p=p, **change)
    return tr("ablation_summary_both", lang, heads=heads_label(heads), mode=tr(f"ablation_mode_{mode}", lang),
              n=n, p=p, **change)


def ablation_text(a: Analysis, ablated: HasLogits, off: set[tuple[int, int]], mode: str, lang: str,
                  patches: Collection[int] = ()) -> str:
    """Markdown: which heads and patches were off, the top class's probability before and after
    (Δ), both top-5s."""
    if not a.predictions:
        return tr("no_head", lang, c=a.info.embed_dim)
    top = a.predictions[0]
    probs = _softmax(ablated.logits)
    after = float(probs[top.index])
    rows = [tr("ablation_head_patches" if patches else "ablation_head", lang), "|---|---|"]
    for on, i in zip(a.predictions, np.argsort(-probs, kind="stable")):
        rows.append(f"| {on.name} {on.probability:.1%} | {_class_name(a, int(i))} {probs[i]:.1%} |")
    summary = _summary(a, off, patches, mode, lang, name=top.name, before=top.probability, after=after,
                       delta=after - top.probability)
    return summary + "\n\n" + "\n".join(rows)


def _class_name(a: Analysis, index: int) -> str:
    return a.class_names[index] if index < len(a.class_names) else str(index)


def ablated_label(a: Analysis, ablated: HasLogits) -> dict[str, float]:
    """The ablated run's top-5 as a label, named like the analysis' own."""
    return probabilities_label(a, _softmax(ablated.logits))


def _softmax(z: np.ndarray) -> np.ndarray:
    return torch.from_numpy(np.asarray(z, dtype=np.float32)).softmax(-1).numpy()


def ablated_rollout_image(a: Analysis, ablated: Ablated, lang: str = "en") -> np.ndarray:
    """The rollout of the ablated run over the input, on the kept patches' min..max scale, removed
    patches hatched grey (as in the what-if), with a colour bar."""
    kept = ablated.kept & np.isfinite(ablated.rollout)
    lo, hi = (float(ablated.rollout[kept].min()), float(ablated.rollout[kept].max())) if kept.any() else (0.0, 1.0)
    label = tr("fig_ablated_rollout_bar", R.figure_lang(lang))
    return R.with_colorbar(what_if_image(a, ablated.rollout, ablated.kept), lo, hi, label=label)


def importance_image(a: Analysis, drops: np.ndarray, lang: str = "en") -> np.ndarray:
    """L × H: Δ log-probability of the top class when each head alone is switched off."""
    L, H = drops.shape
    lang = R.figure_lang(lang)
    lim = float(np.abs(drops).max()) or 1.0
    fig = R.new_figure(1.4 + 0.42 * H, 1.0 + 0.34 * L)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(drops, cmap=R.DIVERGING_CMAP, vmin=-lim, vmax=lim, aspect="auto")
    if L * H <= 200:
        for l in range(L):
            for h in range(H):
                ax.text(h, l, f"{drops[l, h]:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if abs(drops[l, h]) > 0.6 * lim else "black")
    ax.set_xticks(range(H), [f"h{h + 1}" for h in range(H)], fontsize=7)
    ax.set_yticks(range(L), [f"L{l + 1}" for l in range(L)], fontsize=7)
    ax.set_title(tr("fig_importance_title", lang, name=a.predictions[0].name if a.predictions else ""), fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label=tr("fig_importance_bar", lang))
    return R.figure_rgb(fig)


def importance_text(a: Analysis, drops: np.ndarray, lang: str, patches_off: int = 0) -> str:
    flat = np.argsort(-drops, axis=None)[:3]
    H = drops.shape[1]
    top = ", ".join(f"L{i // H + 1} h{i % H + 1} ({drops.flat[i]:+.2f})" for i in flat)
    text = tr("importance_summary", lang, top=top, n=drops.size, helpful=int((drops > 0.05).sum()),
              harmful=int((drops < -0.05).sum()))
    if patches_off:
        text += " " + tr("importance_patches_off", lang, n=patches_off, p=a.info.num_patches)
    return text
