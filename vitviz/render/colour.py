"""Colour maps (256-entry lookup tables), heatmaps, resizing and overlays."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

from vitviz.render.style import DISPLAY_MIN_SIDE, MAP_CMAP


@lru_cache(maxsize=8)
def colormap_lut(name: str = MAP_CMAP) -> np.ndarray:
    """The matplotlib colormap `name` sampled at 256 levels → (256, 3) uint8 (read-only)."""
    from matplotlib import colormaps

    rgb = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = np.round(rgb * 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def normalise(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Scale values to [0, 1] between vmin and vmax (default: their min and max) → float32."""
    v = np.asarray(values, dtype=np.float32)
    lo = float(np.nanmin(v)) if vmin is None else float(vmin)
    hi = float(np.nanmax(v)) if vmax is None else float(vmax)
    if not math.isfinite(lo) or not math.isfinite(hi) or hi - lo <= 1e-12:
        return np.zeros_like(v)
    return np.clip(np.nan_to_num((v - lo) / (hi - lo)), 0.0, 1.0)


def heatmap_rgb(values: np.ndarray, vmin: float | None = None, vmax: float | None = None,
                cmap: str = MAP_CMAP) -> np.ndarray:
    """Colour a (h, w) map through the colormap's LUT → (h, w, 3) uint8."""
    idx = np.round(normalise(values, vmin, vmax) * 255).astype(np.uint8)
    return colormap_lut(cmap)[idx]


# --------------------------------------------------------------------------- resizing
def display_scale(size: int, min_side: int = DISPLAY_MIN_SIDE) -> int:
    """Integer enlargement factor that brings `size` pixels to at least `min_side`."""
    return max(1, math.ceil(min_side / max(1, size)))


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor: (H, W, ...) → (H·f, W·f, ...)."""
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def upsample(values: np.ndarray, size: tuple[int, int], smooth: bool = False) -> np.ndarray:
    """Resize a (h, w) map to size (H, W) → float32 (H, W).

    smooth=False repeats each cell (every patch keeps a crisp square; exact when H, W are
    multiples of h, w); smooth=True interpolates bilinearly between cell centres.
    """
    v = np.asarray(values, dtype=np.float32)
    h, w = v.shape
    big_h, big_w = size
    if not smooth and big_h % h == 0 and big_w % w == 0:
        return np.repeat(np.repeat(v, big_h // h, 0), big_w // w, 1)
    resample = Image.BILINEAR if smooth else Image.NEAREST
    return np.asarray(Image.fromarray(v, mode="F").resize((big_w, big_h), resample), dtype=np.float32)


def overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.6, *, vmin: float | None = None,
            vmax: float | None = None, cmap: str = MAP_CMAP, smooth: bool = False,
            min_side: int = DISPLAY_MIN_SIDE) -> np.ndarray:
    """Blend a (gh, gw) map over an (H, W, 3) uint8 image → (H·f, W·f, 3) uint8.

    The image is enlarged by the integer factor f = display_scale(H) first, the map is
    upsampled to that size and coloured, and out = (1 − alpha)·image + alpha·colour.
    """
    image = np.asarray(image, dtype=np.uint8)
    values = np.asarray(values, dtype=np.float32)
    f = display_scale(min(image.shape[:2]), min_side)
    vmin = vmin if vmin is not None else float(np.min(values))
    vmax = vmax if vmax is not None else float(np.max(values))
    (h, w), (gh, gw) = image.shape[:2], values.shape
    if not smooth and h % gh == 0 and w % gw == 0:
        # Patches stay squares: colour the small map, blend at the image's size, enlarge last
        # (the same pixels as blending after enlarging, for f² less work).
        colour = heatmap_rgb(values, vmin, vmax, cmap)
        colour = np.repeat(np.repeat(colour, h // gh, axis=0), w // gw, axis=1)
        return enlarge(_blend(image, colour, alpha), f)
    base = enlarge(image, f)
    big = upsample(values, base.shape[:2], smooth=smooth)
    return _blend(base, heatmap_rgb(big, vmin=vmin, vmax=vmax, cmap=cmap), alpha)


def _blend(base: np.ndarray, colour: np.ndarray, alpha: float) -> np.ndarray:
    """round((1 − alpha)·base + alpha·colour) for uint8 arrays → uint8."""
    out = (1.0 - alpha) * base.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
