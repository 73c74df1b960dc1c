"""Colour bars: horizontal under a picture (cached), vertical beside a plot."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

from vitviz.render.colour import colormap_lut
from vitviz.render.plot import Axes, Canvas, nice_ticks
from vitviz.render.style import DISPLAY_MIN_SIDE, MAP_CMAP


def vertical_colorbar(c: Canvas, box: tuple[int, int, int, int], vmin: float, vmax: float, cmap: str,
                       label: str = "") -> None:
    """A colour bar in box (x0, y0, x1, y1), vmax at the top, ticks on the right."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    levels = np.round((1.0 - (np.arange(h) + 0.5) / h) * 255).astype(np.intp)
    c.put(x0, y0, np.repeat(colormap_lut(cmap)[levels][:, None], x1 - x0, axis=1))
    ax = Axes(c, box, (0, 1), (vmin, vmax))
    ax.frame()
    ax.yticks(nice_ticks(vmin, vmax, 5), right=True)
    if label:
        c.text(x1 + 44, (y0 + y1) / 2, label, 9, rotate=True)


@lru_cache(maxsize=32)
def _colorbar_cached(vmin: float, vmax: float, cmap: str, label: str, width: int, constant_label: str) -> np.ndarray:
    lo, hi = (vmin, vmax) if math.isfinite(vmin) and math.isfinite(vmax) else (0.0, 1.0)
    constant = not hi - lo > 1e-12 * max(1.0, abs(lo), abs(hi))
    c = Canvas(width, 62 if label else 44)
    margin = min(20, width // 8)
    ax = Axes(c, (margin, 4, width - margin, 22), (lo, hi if not constant else lo + 1.0), (0.0, 1.0))
    w = ax.x1 - ax.x0
    levels = np.zeros(w, np.intp) if constant else np.round((np.arange(w) + 0.5) / w * 255).astype(np.intp)
    c.put(ax.x0, ax.y0, np.repeat(colormap_lut(cmap)[levels][None], ax.y1 - ax.y0, axis=0))
    ax.frame()
    if constant:  # normalise() maps a constant map to the lowest colour
        c.text(width / 2, ax.y1 + 5, f"{constant_label} {lo:.4g}", 10, anchor="ma")
    else:
        ax.xticks(nice_ticks(lo, hi, max(3, width // 110) + 1))
    if label:
        ax.xlabel(label, offset=20)
    out = c.rgb()
    out.setflags(write=False)
    return out


def colorbar(vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "", width: int = DISPLAY_MIN_SIDE,
             constant_label: str = "every value =") -> np.ndarray:
    """A horizontal colour bar from vmin to vmax, ticks and label below → (h, width, 3) uint8 (cached, read-only).

    constant_label: written before the value instead of ticks when vmin == vmax.
    """
    return _colorbar_cached(round(float(vmin), 6), round(float(vmax), 6), cmap, label, int(width), constant_label)


def with_colorbar(image: np.ndarray, vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "",
                  constant_label: str = "every value =") -> np.ndarray:
    """Stack a colour bar (as wide as the image) under an (H, W, 3) image → uint8."""
    bar = colorbar(vmin, vmax, cmap, label, width=image.shape[1], constant_label=constant_label)
    if bar.shape[1] != image.shape[1]:
        bar = np.asarray(Image.fromarray(bar).resize((image.shape[1], bar.shape[0]), Image.BILINEAR))
    return np.concatenate([np.asarray(image, dtype=np.uint8), bar], axis=0)
