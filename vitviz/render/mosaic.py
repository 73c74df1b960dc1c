"""Patch pictures and mosaics: the patch grid, the token sequence, tile grids and map tiles."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from vitviz.core.geometry import PatchGrid
from vitviz.render.colour import colormap_lut, display_scale, enlarge
from vitviz.render.fonts import draw_text
from vitviz.render.style import BACKGROUND, DISPLAY_MIN_SIDE, MAP_CMAP, PREFIX_COLOURS, SIGNED_CMAP


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
            draw_text(draw, (margin - 4, y + tile / 2), str(i), size=10, anchor="rm")
        if i < len(names):
            name = names[i]
            colour = PREFIX_COLOURS.get("REG" if name.startswith("REG") else name, (120, 120, 120))
            draw.rectangle([x, y, x + tile - 1, y + tile - 1], fill=colour)
            label = name if len(name) <= 4 else name[:4]
            draw_text(draw, (x + tile / 2, y + tile / 2), label.replace("REG", "R"), size=8 if len(label) > 3 else 9,
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
            draw_text(draw, (x + w / 2, y - cap / 2), str(labels[i]), size=label_size, anchor="mm")
        canvas.paste(Image.fromarray(np.asarray(tile, dtype=np.uint8)), (x, y))
    if col_labels:
        for c, text in enumerate(col_labels[:cols]):
            draw_text(draw, (left + pad + c * (w + pad) + w / 2, top / 2 + 1), str(text), size=label_size, anchor="mm")
    if row_labels:
        for r, text in enumerate(row_labels[:rows]):
            y = top + pad + r * (h + cap + pad) + cap + h / 2
            draw_text(draw, (left - 4, y), str(text), size=label_size, anchor="rm")
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
