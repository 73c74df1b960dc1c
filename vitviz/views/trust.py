"""Section 7, can we trust it?: explanation maps side by side, faithfulness curves and the what-if picture."""
from __future__ import annotations

import math

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.views.common import WIDE, display_factor, frame, labelled_colorbar
from vitviz.views.text import tr

RANDOM_BASELINE = "random"
HATCH = (150, 150, 150)


def explanations_text(lang: str = "en") -> str:
    """Heading and explanation of section 7."""
    return tr("sec_g", lang) + "\n\n" + tr("expl_g", lang)


def explanations_image(a: Analysis, maps: dict[str, np.ndarray], seconds: dict[str, float] | None = None,
                       lang: str = "en") -> np.ndarray:
    """One tile per method ({method: (gh, gw) map in [0, 1]}) over the image, one shared colour bar."""
    names = list(maps)
    if not names:
        raise ValueError("no explanation maps to show")
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    tiles = R.map_tiles(np.stack([maps[n] for n in names]), size=min(200, WIDE // cols), image=a.image,
                        vmin=0.0, vmax=1.0)
    seconds = seconds or {}
    # method names and seconds read the same in every language (and a Chinese label, drawn in the
    # wider CJK font, would not fit over its tile)
    labels = [f"{n} ({seconds[n]:.2f}s)" if n in seconds else n for n in names]
    mosaic = R.tile_grid(tiles, rows, cols, labels=labels, label_size=11)
    return labelled_colorbar(mosaic, 0.0, 1.0, tr("fig_importance", R.figure_lang(lang)), lang)


def random_map(a: Analysis, seed: int = 0) -> np.ndarray:
    """The random baseline: a fixed random ranking of the patches, (gh, gw) in [0, 1]."""
    return np.random.default_rng(seed).random(a.info.grid).astype(np.float32)


def faithfulness_image(curves, lang: str = "en") -> np.ndarray:
    """Deletion and insertion curves of every method (vitviz.analysis.faithfulness.Curve list), side by side."""
    lang = R.figure_lang(lang)
    panels = []
    for kind, axis in (("deletion", "fig_removed"), ("insertion", "fig_revealed")):
        series = {f"{c.method} ({c.auc:.3g})": c.probs for c in curves if c.kind == kind}
        x = next((c.fractions for c in curves if c.kind == kind), None)
        if not series:
            continue
        fig = R.line_figure(series, title=tr(f"fig_{kind}", lang), xlabel=tr(axis, lang),
                            ylabel=tr("fig_class_probability", lang), x=x, width=4.6, height=3.4)
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


def hatch(tile: np.ndarray, step: int = 6) -> None:
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
        hatch(big[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f])
    for idx in selected:
        r, c = divmod(int(idx), gw)
        frame(big[r * ph * f:(r + 1) * ph * f, c * pw * f:(c + 1) * pw * f], colour=(255, 80, 80), width=2)
    return big

