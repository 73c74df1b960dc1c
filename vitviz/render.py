"""Arrays → pictures: heatmaps, overlays, patch grids, tile mosaics and a few real plots.

No UI imports. Heatmaps go through a 256-entry colour lookup table (built once from
matplotlib's perceptually uniform colormaps), so rendering a map is one numpy indexing
operation. The plots the app redraws on every interaction (the neuron view, attention
distance, block measurements) are drawn with PIL into arrays in a few milliseconds
(`attention_computation_image`, `attention_distance_image`, `line_panels_image`).
Matplotlib is used only for the remaining plots and the cached colour bars, always through
`matplotlib.figure.Figure` objects on the Agg canvas (never pyplot's global state), and
`figure_rgb` / `figure_png` release each figure after drawing it.

All images are (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .geometry import PatchGrid

# Overlays and grids are enlarged by an integer factor to at least this many pixels,
# so a 14×14 map stays crisp on a 1280×800 screen and still fits a 390 px phone.
DISPLAY_MIN_SIDE = 448
MAP_CMAP = "inferno"  # attention-like maps over the image
SIGNED_CMAP = "viridis"  # similarities and other values with a meaningful scale
PREFIX_COLOURS = {"CLS": (230, 85, 13), "DIST": (49, 130, 189), "REG": (117, 107, 177)}
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (40, 40, 40)


# --------------------------------------------------------------------------- colour maps
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


# --------------------------------------------------------------------------- text
@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@lru_cache(maxsize=32)
def _plot_font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans (matplotlib's font, shipped with it: has − → × ≈), else Pillow's default."""
    try:
        import matplotlib

        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return _font(size)


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 12,
          fill=TEXT_COLOUR, anchor: str = "la", plot: bool = False) -> None:
    """Draw text; plot=True uses the plots' font (DejaVu Sans) instead of Pillow's default."""
    if text:
        mask, dx, dy = _text_mask(text, size, anchor, False, plot)
        draw.bitmap((round(xy[0]) + dx, round(xy[1]) + dy), mask, fill=fill)


@lru_cache(maxsize=2048)
def _text_mask(text: str, size: int, anchor: str = "la", rotate: bool = False,
               plot: bool = True) -> tuple[Image.Image, int, int]:
    """Rendered text as an 'L' mask and its offset from the anchor point (cached: labels and
    tick labels repeat from one picture to the next, and rendering glyphs is the slow part).

    rotate=True turns it 90° anticlockwise (read bottom to top), centred on the anchor point.
    """
    font = _plot_font(size) if plot else _font(size)
    x0, y0, x1, y1 = font.getbbox(text, anchor=anchor)
    mask = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(mask).text((-x0, -y0), text, fill=255, font=font, anchor=anchor)
    if rotate:
        mask = mask.rotate(90, expand=True)
        return mask, -(mask.width // 2), -(mask.height // 2)
    return mask, x0, y0


# --------------------------------------------------------------------------- patch pictures
def draw_patch_grid(image: np.ndarray, grid: PatchGrid, highlight: tuple[int, int] | None = None, *,
                    min_side: int = DISPLAY_MIN_SIDE, line=(255, 255, 255), mark=(255, 215, 0)) -> np.ndarray:
    """The (H, W, 3) image enlarged by display_scale(H) with the patch grid drawn on it.

    highlight: (row, col) of a patch to outline. Returns (H·f, W·f, 3) uint8.
    """
    f = display_scale(min(image.shape[:2]), min_side)
    out = enlarge(np.asarray(image, dtype=np.uint8), f).copy()
    ph, pw = grid.patch_size
    gh, gw = grid.grid
    # Lines at patch borders, blended so the picture stays visible beneath.
    line_arr = np.array(line, dtype=np.float32)
    for r in range(1, gh):
        y = r * ph * f
        out[y:y + 1] = (0.45 * out[y:y + 1] + 0.55 * line_arr).astype(np.uint8)
    for c in range(1, gw):
        x = c * pw * f
        out[:, x:x + 1] = (0.45 * out[:, x:x + 1] + 0.55 * line_arr).astype(np.uint8)
    if highlight is not None:
        out = mark_patch(out, grid, highlight, f, mark)
    return out


def mark_patch(image: np.ndarray, grid: PatchGrid, patch: tuple[int, int], factor: int,
               mark=(0, 230, 255)) -> np.ndarray:
    """Outline patch (row, col) on an already enlarged (by `factor`) image → a copy."""
    out = np.array(image, dtype=np.uint8, copy=True)
    ph, pw = grid.patch_size
    r, c = patch
    y0, x0 = r * ph * factor, c * pw * factor
    y1, x1 = min(out.shape[0], y0 + ph * factor), min(out.shape[1], x0 + pw * factor)
    t = max(2, factor)
    m = np.array(mark, dtype=np.uint8)
    out[y0:y0 + t, x0:x1] = m
    out[y1 - t:y1, x0:x1] = m
    out[y0:y1, x0:x0 + t] = m
    out[y0:y1, x1 - t:x1] = m
    return out


def patch_sequence_strip(image: np.ndarray, grid: PatchGrid, prefix_names: Sequence[str], *,
                         per_line: int | None = None, tile: int = 22, gap: int = 2,
                         margin: int = 34) -> np.ndarray:
    """The token sequence as a mosaic read left to right, line by line → (h, w, 3) uint8.

    Prefix tokens (CLS, DIST, REG…) come first as labelled coloured tiles, then every patch
    of the (H, W, 3) image in token order (row by row). Each line starts with the index of
    its first token, so one sees that the 2-D grid became a 1-D sequence.
    per_line: tokens per line (default: grid width + 6, so lines do not match image rows).
    """
    gh, gw = grid.grid
    ph, pw = grid.patch_size
    names = list(prefix_names)
    n = len(names) + gh * gw
    per_line = per_line or gw + 6
    lines = math.ceil(n / per_line)
    step = tile + gap
    width = margin + per_line * step + gap
    height = lines * step + gap
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    img = np.asarray(image, dtype=np.uint8)
    for i in range(n):
        line, pos = divmod(i, per_line)
        x, y = margin + pos * step, gap + line * step
        if pos == 0:
            _text(draw, (margin - 4, y + tile / 2), str(i), size=10, anchor="rm")
        if i < len(names):
            name = names[i]
            colour = PREFIX_COLOURS.get("REG" if name.startswith("REG") else name, (120, 120, 120))
            draw.rectangle([x, y, x + tile - 1, y + tile - 1], fill=colour)
            label = name if len(name) <= 4 else name[:4]
            _text(draw, (x + tile / 2, y + tile / 2), label.replace("REG", "R"), size=8 if len(label) > 3 else 9,
                  fill=(255, 255, 255), anchor="mm")
            continue
        r, c = divmod(i - len(names), gw)
        patch = img[r * ph:(r + 1) * ph, c * pw:(c + 1) * pw]
        canvas.paste(Image.fromarray(patch).resize((tile, tile), Image.NEAREST), (x, y))
    return np.asarray(canvas)


def tile_grid(tiles: Sequence[np.ndarray], rows: int, cols: int, labels: Sequence[str] | None = None, *,
              row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
              pad: int = 4, label_size: int = 12, background=BACKGROUND) -> np.ndarray:
    """Arrange equally sized (h, w, 3) uint8 tiles in a rows × cols mosaic → uint8 image.

    labels: one caption per tile, drawn above it; row_labels / col_labels: captions at the
    left of each row / on top of each column (e.g. "L3", "h1" for a layer × head overview).
    """
    if not tiles:
        raise ValueError("tile_grid needs at least one tile")
    h, w = tiles[0].shape[:2]
    cap, top, left = _tile_margins(bool(labels), bool(row_labels), bool(col_labels), label_size)
    width = left + cols * (w + pad) + pad
    height = top + rows * (h + cap + pad) + pad
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    boxes = tile_grid_boxes((h, w), rows, cols, labels=bool(labels), row_labels=bool(row_labels),
                            col_labels=bool(col_labels), pad=pad, label_size=label_size)
    for i, (tile, (y, x, _, _)) in enumerate(zip(tiles[: rows * cols], boxes)):
        if labels:
            _text(draw, (x + w / 2, y - cap / 2), str(labels[i]), size=label_size, anchor="mm")
        canvas.paste(Image.fromarray(np.asarray(tile, dtype=np.uint8)), (x, y))
    if col_labels:
        for c, text in enumerate(col_labels[:cols]):
            _text(draw, (left + pad + c * (w + pad) + w / 2, top / 2 + 1), str(text), size=label_size, anchor="mm")
    if row_labels:
        for r, text in enumerate(row_labels[:rows]):
            y = top + pad + r * (h + cap + pad) + cap + h / 2
            _text(draw, (left - 4, y), str(text), size=label_size, anchor="rm")
    return np.asarray(canvas)


def _tile_margins(labels: bool, row_labels: bool, col_labels: bool, label_size: int) -> tuple[int, int, int]:
    """(caption height above each tile, top margin, left margin) of `tile_grid`."""
    return (label_size + 4 if labels else 0, label_size + 6 if col_labels else 0,
            int(label_size * 2.6) if row_labels else 0)


def tile_grid_boxes(tile_shape: tuple[int, int], rows: int, cols: int, *, labels: bool = False,
                    row_labels: bool = False, col_labels: bool = False, pad: int = 4,
                    label_size: int = 12) -> list[tuple[int, int, int, int]]:
    """Where `tile_grid` (same arguments, label lists given as booleans) puts each tile's
    picture: (y0, x0, y1, x1) in tile order, so a cached mosaic can be marked afterwards."""
    h, w = tile_shape
    cap, top, left = _tile_margins(labels, row_labels, col_labels, label_size)
    boxes = []
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        x, y = left + pad + c * (w + pad), top + pad + r * (h + cap + pad) + cap
        boxes.append((y, x, y + h, x + w))
    return boxes


def map_tiles(maps: np.ndarray, *, size: int, image: np.ndarray | None = None, alpha: float = 0.65,
              vmin: float | None = None, vmax: float | None = None, cmap: str = MAP_CMAP,
              shared_scale: bool = False) -> list[np.ndarray]:
    """(T, gh, gw) maps → T tiles of about size × size px, each blended over `image` if given.

    Each map is scaled to its own min/max unless vmin/vmax are given or shared_scale=True.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if shared_scale and vmin is None and vmax is None:
        vmin, vmax = float(maps.min()), float(maps.max())
    gh, gw = maps.shape[-2:]
    f = max(1, round(size / max(gh, gw)))
    if maps.shape[0] == 0:
        return []
    # All maps at once: per-map limits, one LUT lookup, one enlargement, one blend.
    flat = maps.reshape(len(maps), -1)
    lo = flat.min(1) if vmin is None else np.full(len(maps), vmin, dtype=np.float32)
    hi = flat.max(1) if vmax is None else np.full(len(maps), vmax, dtype=np.float32)
    lo, hi = lo.astype(np.float32), hi.astype(np.float32)
    span = hi - lo
    ok = np.isfinite(lo) & np.isfinite(hi) & (span > 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (maps - lo[:, None, None]) / np.where(ok, span, 1)[:, None, None]
    scaled = np.where(ok[:, None, None], np.clip(np.nan_to_num(scaled), 0.0, 1.0), 0.0)
    colour = colormap_lut(cmap)[np.round(scaled * 255).astype(np.uint8)]  # T, gh, gw, 3
    colour = np.repeat(np.repeat(colour, f, axis=1), f, axis=2)
    if image is not None:
        small = np.asarray(Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((gw * f, gh * f), Image.BILINEAR))
        colour = np.round((1 - alpha) * small.astype(np.float32) + alpha * colour).astype(np.uint8)
    return list(colour)


def position_similarity_image(similarity: np.ndarray, *, tile: int | None = None, cmap: str = SIGNED_CMAP) -> np.ndarray:
    """ViT fig. 7 (centre): the (P, gh, gw) cosine-similarity maps in a gh × gw mosaic.

    Tile (r, c) shows how similar patch (r, c)'s position embedding is to every other
    patch's, on one shared scale from −1 to 1.
    """
    gh, gw = similarity.shape[-2:]
    side = max(gh, gw)
    tile = tile or max(1, 600 // (side * side)) * side
    tiles = map_tiles(similarity, size=tile, vmin=-1.0, vmax=1.0, cmap=cmap)
    return tile_grid(tiles, gh, gw, pad=2, background=(255, 255, 255))


def filter_components_image(components: np.ndarray, cols: int = 7, tile: int = 56) -> np.ndarray:
    """Principal components of the patch-embedding filters, (k, ph, pw, 3) in [0, 1] → mosaic."""
    comps = np.clip(np.asarray(components, dtype=np.float32), 0, 1)
    k, ph, pw, _ = comps.shape
    f = max(1, round(tile / max(ph, pw)))
    tiles = [enlarge(np.round(c * 255).astype(np.uint8), f) for c in comps]
    return tile_grid(tiles, math.ceil(k / cols), cols, pad=3)


# --------------------------------------------------------------------------- plots drawn as arrays
# The plots that change with every interaction are drawn with PIL straight into arrays: a
# matplotlib figure costs 100–700 ms here, these cost a few. Lines and dots are drawn at
# SUPERSAMPLE× and reduced (antialiasing); heatmaps are placed after the reduction, so
# every cell keeps its exact colour-table colour.
SUPERSAMPLE = 2
AXIS_COLOUR = (70, 70, 70)
GRID_COLOUR = (230, 230, 230)
REFERENCE_COLOUR = (140, 140, 140)
HIGHLIGHT_COLOUR = (252, 228, 170)  # #f4a300 at 30 % over white: the chosen layer
PREFIX_BAR = (230, 85, 13)
PATCH_BAR = (59, 82, 139)
DIVERGING_CMAP = "RdBu_r"  # signed values centred on 0 (queries, keys)


def nice_ticks(lo: float, hi: float, max_ticks: int = 6, integer: bool = False) -> np.ndarray:
    """Round tick values (steps 1, 2, 2.5, 5 × 10ⁿ) inside [lo, hi], at most max_ticks → float64."""
    lo, hi = sorted((float(lo), float(hi)))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0)
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        return np.array([lo])
    mag = 10.0 ** math.floor(math.log10((hi - lo) / max(1, max_ticks - 1)))
    for m in ((1, 2, 5, 10, 20) if integer else (1, 2, 2.5, 5, 10, 20)):
        step = max(1.0, m * mag) if integer else m * mag
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= max_ticks:
            break
    return np.arange(first, last + 1) * step


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels with the fewest decimals that show every tick exactly, and a true minus sign."""
    t = np.asarray(ticks, dtype=np.float64)
    if t.size == 0:
        return []
    tol = 1e-9 * max(1.0, float(np.abs(t).max()))
    decimals = next((d for d in range(7) if np.all(np.abs(np.round(t, d) - t) <= tol)), None)
    out = []
    for v in t:
        text = f"{v:.{decimals}f}" if decimals is not None else f"{v:.3g}"
        out.append(text.replace("-", "−") if float(text) != 0 else text.lstrip("-"))
    return out


class _Canvas:
    """A white canvas addressed in output pixels and drawn at ss× (reduced by `rgb`).

    Boxes are half-open: rect(x0, y0, x1, y1) fills output pixels x0 ≤ x < x1, y0 ≤ y < y1.
    """

    def __init__(self, width: int, height: int, ss: int = 1):
        self.width, self.height, self.ss = int(width), int(height), int(ss)
        self.image = Image.new("RGB", (self.width * self.ss, self.height * self.ss), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self._arrays: list[tuple[int, int, np.ndarray]] = []

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill) -> None:
        s = self.ss
        (x0, x1), (y0, y1) = sorted((x0, x1)), sorted((y0, y1))
        a, b, c, d = round(x0 * s), round(y0 * s), round(x1 * s) - 1, round(y1 * s) - 1
        if c >= a and d >= b:
            self.draw.rectangle([a, b, c, d], fill=fill)

    def line(self, points: Sequence[tuple[float, float]], fill, width: float = 1.0) -> None:
        s = self.ss
        self.draw.line([(x * s, y * s) for x, y in points], fill=fill, width=max(1, round(width * s)), joint="curve")

    def dot(self, x: float, y: float, r: float, fill) -> None:
        s = self.ss
        self.draw.ellipse([(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], fill=fill)

    def polygon(self, points: Sequence[tuple[float, float]], fill) -> None:
        self.draw.polygon([(x * self.ss, y * self.ss) for x, y in points], fill=fill)

    def text(self, x: float, y: float, text: str, size: int = 10, fill=TEXT_COLOUR, anchor: str = "la",
             rotate: bool = False) -> None:
        """Text in the plots' font at (x, y) with a PIL anchor; rotate=True: read bottom to top, centred."""
        if text:
            mask, dx, dy = _text_mask(text, size * self.ss, anchor, rotate)
            self.draw.bitmap((round(x * self.ss) + dx, round(y * self.ss) + dy), mask, fill=fill)

    def paste(self, x: int, y: int, rgb: np.ndarray, mask: np.ndarray) -> None:
        """Paint the (h, w, 3) colours where the (h, w) boolean mask is set, from output pixel (x, y)."""
        s = self.ss
        rgb, mask = np.asarray(rgb, dtype=np.uint8), np.asarray(mask, dtype=bool)
        if s > 1:
            rgb, mask = enlarge(rgb, s), enlarge(mask, s)
        self.image.paste(Image.fromarray(np.ascontiguousarray(rgb)), (x * s, y * s),
                         Image.fromarray(mask.astype(np.uint8) * 255))

    def put(self, x: int, y: int, array: np.ndarray) -> None:
        """Place an (h, w, 3) uint8 array at output pixel (x, y) after the reduction (exact colours)."""
        self._arrays.append((int(x), int(y), np.asarray(array, dtype=np.uint8)))

    def rgb(self) -> np.ndarray:
        """The finished picture → (height, width, 3) uint8."""
        out = np.array(self.image.reduce(self.ss) if self.ss > 1 else self.image, dtype=np.uint8)
        for x, y, arr in self._arrays:
            out[y:y + arr.shape[0], x:x + arr.shape[1]] = arr
        return out


class _Axes:
    """The plot area [x0, x1) × [y0, y1) of a canvas showing data limits xlim × ylim.

    A limit pair may be decreasing (e.g. token 0 at the top of a heatmap).
    """

    def __init__(self, canvas: _Canvas, box: tuple[int, int, int, int], xlim: tuple[float, float],
                 ylim: tuple[float, float]):
        self.c = canvas
        self.x0, self.y0, self.x1, self.y1 = box
        self.xlim, self.ylim = (float(xlim[0]), float(xlim[1])), (float(ylim[0]), float(ylim[1]))

    def px(self, x):
        """Data x → canvas x (continuous: pixel i covers [i, i + 1))."""
        return self.x0 + (np.asarray(x, dtype=np.float64) - self.xlim[0]) * (self.x1 - self.x0) / (self.xlim[1] - self.xlim[0])

    def py(self, y):
        return self.y1 - (np.asarray(y, dtype=np.float64) - self.ylim[0]) * (self.y1 - self.y0) / (self.ylim[1] - self.ylim[0])

    def col(self, x: float) -> int:
        """The pixel column holding data x (clamped to the plot area)."""
        return int(min(self.x1 - 1, max(self.x0, math.floor(float(self.px(x))))))

    def row(self, y: float) -> int:
        return int(min(self.y1 - 1, max(self.y0, math.floor(float(self.py(y))))))

    def band(self, a: float, b: float, colour=HIGHLIGHT_COLOUR) -> None:
        """Shade data x from a to b over the whole height (draw it first: it lies beneath)."""
        xa, xb = sorted((float(self.px(a)), float(self.px(b))))
        self.c.rect(max(self.x0, xa), self.y0, min(self.x1, xb), self.y1, colour)

    def grid(self, xticks: Sequence[float] = (), yticks: Sequence[float] = (), colour=GRID_COLOUR) -> None:
        for t in xticks:
            x = self.col(t)
            self.c.rect(x, self.y0, x + 1, self.y1, colour)
        for t in yticks:
            y = self.row(t)
            self.c.rect(self.x0, y, self.x1, y + 1, colour)

    def hline(self, y: float, colour=AXIS_COLOUR, dashed: bool = False) -> None:
        r = self.row(y)
        step = 6 if dashed else self.x1 - self.x0
        for x in range(self.x0, self.x1, step):
            self.c.rect(x, r, min(x + (4 if dashed else step), self.x1), r + 1, colour)

    def frame(self, colour=AXIS_COLOUR) -> None:
        """A 1-px frame just outside the plot area."""
        x0, y0, x1, y1 = self.x0, self.y0, self.x1, self.y1
        for box in ((x0 - 1, y0 - 1, x1 + 1, y0), (x0 - 1, y1, x1 + 1, y1 + 1),
                    (x0 - 1, y0, x0, y1), (x1, y0, x1 + 1, y1)):
            self.c.rect(*box, colour)

    def xticks(self, ticks: Sequence[float], labels: Sequence[str] | None = None, size: int = 10) -> None:
        labels = tick_labels(ticks) if labels is None else labels
        for t, text in zip(ticks, labels):
            x = self.col(t)
            self.c.rect(x, self.y1 + 1, x + 1, self.y1 + 4, AXIS_COLOUR)
            half = _text_mask(text, size * self.c.ss, "ma")[0].width / self.c.ss / 2 + 1
            self.c.text(min(max(x + 0.5, half), self.c.width - half), self.y1 + 5, text, size, anchor="ma")

    def yticks(self, ticks: Sequence[float], labels: Sequence[str] | None = None, size: int = 10,
               right: bool = False) -> None:
        labels = tick_labels(ticks) if labels is None else labels
        for t, text in zip(ticks, labels):
            y = self.row(t)
            if right:
                self.c.rect(self.x1 + 1, y, self.x1 + 4, y + 1, AXIS_COLOUR)
                self.c.text(self.x1 + 6, y + 0.5, text, size, anchor="lm")
            else:
                self.c.rect(self.x0 - 4, y, self.x0 - 1, y + 1, AXIS_COLOUR)
                self.c.text(self.x0 - 6, y + 0.5, text, size, anchor="rm")

    def title(self, text: str, size: int = 12, left: bool = False) -> None:
        x = self.x0 if left else (self.x0 + self.x1) / 2
        self.c.text(x, self.y0 - 6, text, size, anchor="ld" if left else "md")

    def xlabel(self, text: str, size: int = 11, offset: int = 20) -> None:
        self.c.text((self.x0 + self.x1) / 2, self.y1 + offset, text, size, anchor="ma")

    def ylabel(self, text: str, size: int = 11, offset: int = 40) -> None:
        self.c.text(self.x0 - offset, (self.y0 + self.y1) / 2, text, size, rotate=True)

    def plot(self, xs, ys, colour, width: float = 1.6, marker: float = 2.6) -> None:
        """A line through the points with a dot on each (NaNs break the line)."""
        pts = [(float(x), float(y)) for x, y in zip(self.px(xs), self.py(ys)) if math.isfinite(y)]
        if len(pts) > 1:
            self.c.line(pts, colour, width)
        for x, y in pts:
            self.c.dot(x, y, marker, colour)

    def bars(self, values: np.ndarray, colours: Sequence, base: float = 0.0) -> None:
        """One bar per value, bar i spanning data x from i − 0.5 to i + 0.5, from `base` to the value.

        Every bar gets at least one pixel column; a column shared by several bars (more bars
        than pixels) shows their full extent, so no peak disappears. Bars of the most common
        colour are painted first, rarer colours (e.g. prefix tokens) over them.
        """
        w, h = self.x1 - self.x0, self.y1 - self.y0
        values = np.nan_to_num(np.asarray(values, dtype=np.float64))
        n = len(values)
        if n == 0:
            return
        edges = np.clip(np.round(self.px(np.arange(n + 1) - 0.5)).astype(int) - self.x0, 0, w)
        start = np.minimum(edges[:-1], w - 1)
        width = np.maximum(edges[1:] - start, 1)
        ends = np.round(self.py(np.clip(values, *sorted(self.ylim)))).astype(int) - self.y0
        b = int(round(float(self.py(base)))) - self.y0
        top, bottom = np.minimum(ends, b), np.maximum(ends, b)  # pixel rows [top, bottom) of each bar
        token = np.repeat(np.arange(n), width)  # bar of every (bar, column) pair
        column = np.arange(token.size) - np.repeat(np.cumsum(width) - width, width) + np.repeat(start, width)
        keep = column < w
        token, column = token[keep], column[keep]
        rows = np.arange(h)[:, None]
        palette = np.asarray(colours, dtype=np.uint8).reshape(n, 3)
        groups, inverse, counts = np.unique(palette, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        for g in np.argsort(-counts, kind="stable"):
            sel = inverse[token] == g
            lo = np.full(w, h, dtype=int)
            hi = np.zeros(w, dtype=int)
            np.minimum.at(lo, column[sel], top[token[sel]])
            np.maximum.at(hi, column[sel], bottom[token[sel]])
            mask = (rows >= lo) & (rows < hi)
            self.c.paste(self.x0, self.y0, np.broadcast_to(groups[g], (h, w, 3)), mask)

def _padded(lo: float, hi: float, pad: float = 0.06) -> tuple[float, float]:
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    span = hi - lo if hi - lo > 1e-12 * max(1.0, abs(lo), abs(hi)) else max(abs(hi), 1.0) * 0.1
    return lo - pad * span, hi + pad * span


def _lut_colour(cmap: str, t: float) -> tuple[int, int, int]:
    return tuple(int(v) for v in colormap_lut(cmap)[int(round(min(1.0, max(0.0, t)) * 255))])


def _vertical_colorbar(c: _Canvas, box: tuple[int, int, int, int], vmin: float, vmax: float, cmap: str,
                       label: str = "") -> None:
    """A colour bar in box (x0, y0, x1, y1), vmax at the top, ticks on the right."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    levels = np.round((1.0 - (np.arange(h) + 0.5) / h) * 255).astype(np.intp)
    c.put(x0, y0, np.repeat(colormap_lut(cmap)[levels][:, None], x1 - x0, axis=1))
    ax = _Axes(c, box, (0, 1), (vmin, vmax))
    ax.frame()
    ax.yticks(nice_ticks(vmin, vmax, 5), right=True)
    if label:
        c.text(x1 + 44, (y0 + y1) / 2, label, 9, rotate=True)


def attention_computation_image(query: np.ndarray, keys: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                                token_labels: Sequence[str], query_label: str, scale: float, *,
                                num_prefix: int = 1, query_token: int | None = None,
                                titles: Sequence[str] | None = None, cmap: str = DIVERGING_CMAP) -> np.ndarray:
    """The neuron view for one query token and one head → (h, w, 3) uint8.

    query (d,), keys (N, d), scores (N,) = q·k·scale, probs (N,) = softmax(scores).
    Four panels, top to bottom: the query vector and every key (one row per token) on one
    diverging colour scale (colour bar at the right), the scaled scores and the softmax
    probabilities (= the attention row) as one bar per key token, prefix tokens in orange.
    query_token: marks that token's own key row.
    """
    query, keys = np.asarray(query, np.float32), np.asarray(keys, np.float32)
    scores, probs = np.asarray(scores, np.float32), np.asarray(probs, np.float32)
    d, n = query.shape[0], keys.shape[0]
    titles = titles or (f"query q of {query_label}  ({d},)", f"keys k of all {n} tokens  ({n}, {d})",
                        f"scores q·k × {scale:.4g}  ({n},)", f"softmax → attention row  ({n},)")
    cell = max(1, round(512 / d))
    left, pw = 58, cell * d
    x1 = left + pw
    key_h = n * max(1, round(200 / n)) if n * max(1, round(200 / n)) <= 320 else 320
    tops = [24]  # top of each panel's plot area
    heights = [18, key_h, 84, 84]
    for h, below in zip(heights[:-1], (44, 60, 46)):
        tops.append(tops[-1] + h + below)
    c = _Canvas(x1 + 112, tops[-1] + heights[-1] + 38)
    lim = float(max(np.abs(query).max(), np.abs(keys).max(), 1e-6))
    dims = (-0.5, d - 0.5)
    dim_ticks = nice_ticks(0, d - 1, 8, integer=True)
    token_ticks = nice_ticks(0, n - 1, 9, integer=True)

    # 1. the query vector
    ax = _Axes(c, (left, tops[0], x1, tops[0] + heights[0]), dims, (0, 1))
    c.put(left, tops[0], np.repeat(heatmap_rgb(query[None], -lim, lim, cmap)[:, np.repeat(np.arange(d), cell)], heights[0], axis=0))
    ax.frame()
    ax.xticks(dim_ticks)
    ax.title(titles[0], left=True)

    # 2. the keys: row i is token i's key; the colour bar serves both heatmaps
    ax = _Axes(c, (left, tops[1], x1, tops[1] + key_h), dims, (n - 0.5, -0.5))
    rows = (np.arange(key_h) * n) // key_h
    c.put(left, tops[1], heatmap_rgb(keys, -lim, lim, cmap)[rows][:, np.repeat(np.arange(d), cell)])
    ax.frame()
    ax.xticks(dim_ticks)
    ax.yticks(token_ticks)
    ax.title(titles[1], left=True)
    ax.xlabel("dimension of the head", offset=20)
    ax.ylabel("token", offset=42)
    if query_token is not None and 0 <= query_token < n:
        yq = (ax.row(query_token) + ax.row(query_token) + 1) / 2
        c.polygon([(x1 + 3, yq), (x1 + 10, yq - 4.5), (x1 + 10, yq + 4.5)], AXIS_COLOUR)
        c.text(x1 + 12, yq, "query", 10, anchor="lm")
    _vertical_colorbar(c, (x1 + 52, tops[1], x1 + 64, tops[1] + key_h), -lim, lim, cmap)

    tokens = (-0.5, n - 0.5)
    colours = [PREFIX_BAR if i < num_prefix else PATCH_BAR for i in range(n)]
    # 3. the scores
    lo, hi = _padded(min(0.0, float(scores.min())), max(0.0, float(scores.max())), 0.08)
    ax = _Axes(c, (left, tops[2], x1, tops[2] + heights[2]), tokens, (lo, hi))
    yt = nice_ticks(lo, hi, 5)
    ax.grid(yticks=yt)
    ax.bars(scores, colours)
    ax.hline(0.0)
    ax.frame()
    ax.xticks(token_ticks)
    ax.yticks(yt)
    ax.title(titles[2], left=True)

    # 4. the probabilities, with the uniform level 1/N and the most attended token
    top = int(np.argmax(probs))
    hi = max(float(probs.max()), 1.0 / n) * 1.2
    ax = _Axes(c, (left, tops[3], x1, tops[3] + heights[3]), tokens, (0.0, hi))
    yt = nice_ticks(0.0, hi, 5)
    ax.grid(yticks=yt)
    ax.bars(probs, colours)
    ax.hline(1.0 / n, REFERENCE_COLOUR, dashed=True)
    c.text(x1 + 4, ax.row(1.0 / n) + 0.5, "1/N (uniform)", 10, fill=REFERENCE_COLOUR, anchor="lm")
    xt, yp = float(ax.px(top)), float(ax.py(probs[top]))
    c.polygon([(xt - 4, yp - 9), (xt + 4, yp - 9), (xt, yp - 2)], TEXT_COLOUR)
    ax.frame()
    ax.xticks(token_ticks)
    ax.yticks(yt)
    ax.title(titles[3], left=True)
    c.text(x1, tops[3] - 6, f"▼ max: {token_labels[top]}, {probs[top]:.3g}", 11, anchor="rd")
    ax.xlabel("key token index" + (" (orange: prefix tokens)" if num_prefix else ""), offset=20)
    return c.rgb()


@dataclass(frozen=True)
class LinePanel:
    """One small line plot of `line_panels_image`: y against x, with an optional dashed reference level."""

    x: np.ndarray
    y: np.ndarray
    title: str
    xlabel: str = ""
    colour: tuple[int, int, int] = PATCH_BAR
    reference: float | None = None


def line_panels_image(panels: Sequence[LinePanel], *, highlight: float | None = None, width: int = 720,
                      height: int = 240) -> np.ndarray:
    """Small line plots side by side → (height, width, 3) uint8.

    highlight: an x value (e.g. the chosen layer) shaded in every panel.
    """
    c = _Canvas(width, height, SUPERSAMPLE)
    pw = width // max(1, len(panels))
    for i, p in enumerate(panels):
        x = np.asarray(p.x, dtype=np.float64)
        y = np.asarray(p.y, dtype=np.float64)
        finite = y[np.isfinite(y)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if p.reference is not None:
            lo, hi = min(lo, p.reference), max(hi, p.reference)
        ax = _Axes(c, (i * pw + 52, 26, (i + 1) * pw - 10, height - 40),
                   (float(x.min()) - 0.6, float(x.max()) + 0.6), _padded(lo, hi))
        xt = nice_ticks(x.min(), x.max(), 7, integer=True)
        yt = nice_ticks(*ax.ylim, 6)
        if highlight is not None:
            ax.band(highlight - 0.3, highlight + 0.3)
        ax.grid(xt, yt)
        if p.reference is not None:
            ax.hline(p.reference, REFERENCE_COLOUR, dashed=True)
        ax.plot(x, y, p.colour)
        ax.frame()
        ax.xticks(xt)
        ax.yticks(yt)
        ax.title(p.title)
        ax.xlabel(p.xlabel, offset=19)
    return c.rgb()


def attention_distance_image(distance: np.ndarray, patch_size: tuple[int, int], *,
                             highlight_layer: int | None = None, title: str = "Mean attention distance",
                             xlabel: str = "Network depth (layer)", ylabel: str = "Mean attention distance (pixels)",
                             width: int = 560, height: int = 340) -> np.ndarray:
    """ViT fig. 7 (right) → (height, width, 3) uint8: one dot per head at each depth.

    distance: (L, H) mean attention distance in pixels; heads are spread a little around
    their layer and coloured from dark (head 1) to light (head H), as in the legend. The
    dashed line is one patch (patch_size[0] pixels); highlight_layer (0-based) is shaded.
    """
    distance = np.asarray(distance, dtype=np.float64)
    L, H = distance.shape
    legend = H <= 16
    c = _Canvas(width, height, SUPERSAMPLE)
    finite = distance[np.isfinite(distance)]
    top = max(float(finite.max()) if finite.size else 0.0, float(patch_size[0]), 1.0) * 1.06
    ax = _Axes(c, (62, 30, width - 84, height - 44), (0.4, L + 0.6), (0.0, top))
    xt = np.arange(1, L + 1) if L <= 16 else nice_ticks(1, L, 12, integer=True)
    yt = nice_ticks(0.0, top, 7)
    if highlight_layer is not None and 0 <= highlight_layer < L:
        ax.band(highlight_layer + 0.5, highlight_layer + 1.5)
    ax.grid(xt, yt)
    ax.hline(patch_size[0], REFERENCE_COLOUR, dashed=True)
    c.text(ax.x1 - 4, ax.row(patch_size[0]) - 2, f"one patch ({patch_size[0]} px)", 9, fill=REFERENCE_COLOUR,
           anchor="rd")
    colours = [_lut_colour("viridis", 0.05 + 0.9 * h / max(1, H - 1)) for h in range(H)]
    spread = min(0.5, 0.06 * (H - 1))
    offsets = np.linspace(-spread / 2, spread / 2, H) if H > 1 else np.zeros(1)
    layers = np.arange(1, L + 1)
    for h in range(H):
        for x, y in zip(ax.px(layers + offsets[h]), ax.py(distance[:, h])):
            if math.isfinite(y):
                c.dot(float(x), float(y), 3.2, colours[h])
    ax.frame()
    ax.xticks(xt, [str(int(v)) for v in xt], size=10)
    ax.yticks(yt, size=10)
    ax.title(title, 12)
    ax.xlabel(xlabel, 11, offset=20)
    ax.ylabel(ylabel, 11, offset=44)
    lx = ax.x1 + 10
    if legend:
        for h in range(H):
            y = ax.y0 + 6 + h * 14
            c.dot(lx + 4, y, 3.2, colours[h])
            c.text(lx + 11, y, f"head {h + 1}", 9, anchor="lm")
    else:
        _vertical_colorbar_heads(c, (lx, ax.y0, lx + 10, ax.y1), H)
    return c.rgb()


def _vertical_colorbar_heads(c: _Canvas, box: tuple[int, int, int, int], heads: int) -> None:
    """The head colours as a strip from head 1 (top) to head `heads` (bottom)."""
    x0, y0, x1, y1 = box
    t = 0.05 + 0.9 * (np.arange(y1 - y0) + 0.5) / (y1 - y0)
    c.put(x0, y0, np.repeat(colormap_lut("viridis")[np.round(t * 255).astype(np.intp)][:, None], x1 - x0, axis=1))
    c.text(x1 + 3, y0, "head 1", 9, anchor="lt")
    c.text(x1 + 3, y1, f"head {heads}", 9, anchor="lb")


# --------------------------------------------------------------------------- matplotlib
def new_figure(width: float, height: float, dpi: int = 100):
    """A matplotlib Figure on the Agg canvas, not registered with pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_rgb(fig) -> np.ndarray:
    """Draw a Figure → (h, w, 3) uint8, then release it (clear it, drop its canvas)."""
    try:
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        return np.array(rgba[..., :3], copy=True)
    finally:
        close_figure(fig)


def figure_png(fig) -> bytes:
    """Draw a Figure as PNG bytes, then release it."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        close_figure(fig)


def close_figure(fig) -> None:
    """Release a Figure made by `new_figure` (pyplot figures are closed through pyplot)."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")  # never imported here; only if someone else uses it
    number = getattr(fig, "number", None)
    if plt is not None and number is not None and plt.fignum_exists(number):
        plt.close(fig)
    fig.clear()


@lru_cache(maxsize=32)
def _colorbar_cached(vmin: float, vmax: float, cmap: str, label: str, width: int) -> np.ndarray:
    lo, hi = (vmin, vmax) if math.isfinite(vmin) and math.isfinite(vmax) else (0.0, 1.0)
    constant = not hi - lo > 1e-12 * max(1.0, abs(lo), abs(hi))
    c = _Canvas(width, 62 if label else 44)
    margin = min(20, width // 8)
    ax = _Axes(c, (margin, 4, width - margin, 22), (lo, hi if not constant else lo + 1.0), (0.0, 1.0))
    w = ax.x1 - ax.x0
    levels = np.zeros(w, np.intp) if constant else np.round((np.arange(w) + 0.5) / w * 255).astype(np.intp)
    c.put(ax.x0, ax.y0, np.repeat(colormap_lut(cmap)[levels][None], ax.y1 - ax.y0, axis=0))
    ax.frame()
    if constant:  # normalise() maps a constant map to the lowest colour
        c.text(width / 2, ax.y1 + 5, f"every value = {lo:.4g}", 10, anchor="ma")
    else:
        ax.xticks(nice_ticks(lo, hi, max(3, width // 110) + 1))
    if label:
        ax.xlabel(label, offset=20)
    out = c.rgb()
    out.setflags(write=False)
    return out


def colorbar(vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "", width: int = DISPLAY_MIN_SIDE) -> np.ndarray:
    """A horizontal colour bar from vmin to vmax, ticks and label below → (h, width, 3) uint8 (cached, read-only)."""
    return _colorbar_cached(round(float(vmin), 6), round(float(vmax), 6), cmap, label, int(width))


def with_colorbar(image: np.ndarray, vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "") -> np.ndarray:
    """Stack a colour bar (as wide as the image) under an (H, W, 3) image → uint8."""
    bar = colorbar(vmin, vmax, cmap, label, width=image.shape[1])
    if bar.shape[1] != image.shape[1]:
        bar = np.asarray(Image.fromarray(bar).resize((image.shape[1], bar.shape[0]), Image.BILINEAR))
    return np.concatenate([np.asarray(image, dtype=np.uint8), bar], axis=0)


def line_figure(series: dict[str, np.ndarray], *, title: str = "", xlabel: str = "", ylabel: str = "",
                highlight: int | None = None, x: np.ndarray | None = None, width: float = 5.6, height: float = 2.8):
    """A small line plot of named (n,) series against x (default 0..n−1) → Figure."""
    fig = new_figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    for name, ys in series.items():
        xs = np.arange(len(ys)) if x is None else x
        ax.plot(xs, ys, marker="o", ms=3, lw=1.4, label=name)
    if highlight is not None:
        ax.axvline(highlight, color="#f4a300", lw=6, alpha=0.35)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.25)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False)
    return fig
