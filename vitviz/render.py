"""Arrays → pictures: heatmaps, overlays, patch grids, tile mosaics and a few real plots.

No UI imports. Heatmaps go through a 256-entry colour lookup table (built once from
matplotlib's perceptually uniform colormaps), so rendering a map is one numpy indexing
operation. Matplotlib is used only for real plots and colour bars, always through
`matplotlib.figure.Figure` objects on the Agg canvas (never pyplot's global state), and
`figure_rgb` / `figure_png` release each figure after drawing it.

All images are (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

import io
import math
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
    f = display_scale(min(image.shape[:2]), min_side)
    base = enlarge(np.asarray(image, dtype=np.uint8), f)
    big = upsample(values, base.shape[:2], smooth=smooth)
    colour = heatmap_rgb(big, vmin=vmin if vmin is not None else float(np.min(values)),
                         vmax=vmax if vmax is not None else float(np.max(values)), cmap=cmap)
    out = (1.0 - alpha) * base.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- text
@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 12,
          fill=TEXT_COLOUR, anchor: str = "la") -> None:
    draw.text(xy, text, fill=fill, font=_font(size), anchor=anchor)


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
        r, c = highlight
        y0, x0 = r * ph * f, c * pw * f
        y1, x1 = y0 + ph * f, x0 + pw * f
        t = max(2, f)
        mark_arr = np.array(mark, dtype=np.uint8)
        out[y0:y0 + t, x0:x1] = mark_arr
        out[y1 - t:y1, x0:x1] = mark_arr
        out[y0:y1, x0:x0 + t] = mark_arr
        out[y0:y1, x1 - t:x1] = mark_arr
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
    cap = label_size + 4 if labels else 0
    top = label_size + 6 if col_labels else 0
    left = int(label_size * 2.6) if row_labels else 0
    width = left + cols * (w + pad) + pad
    height = top + rows * (h + cap + pad) + pad
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    for i, tile in enumerate(tiles[: rows * cols]):
        r, c = divmod(i, cols)
        x = left + pad + c * (w + pad)
        y = top + pad + r * (h + cap + pad)
        if labels:
            _text(draw, (x + w / 2, y + cap / 2), str(labels[i]), size=label_size, anchor="mm")
        canvas.paste(Image.fromarray(np.asarray(tile, dtype=np.uint8)), (x, y + cap))
    if col_labels:
        for c, text in enumerate(col_labels[:cols]):
            _text(draw, (left + pad + c * (w + pad) + w / 2, top / 2 + 1), str(text), size=label_size, anchor="mm")
    if row_labels:
        for r, text in enumerate(row_labels[:rows]):
            y = top + pad + r * (h + cap + pad) + cap + h / 2
            _text(draw, (left - 4, y), str(text), size=label_size, anchor="rm")
    return np.asarray(canvas)


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
    tiles = []
    small = None
    if image is not None:
        small = np.asarray(Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((gw * f, gh * f), Image.BILINEAR))
    for m in maps:
        big = upsample(m, (gh * f, gw * f))
        colour = heatmap_rgb(big, vmin=vmin if vmin is not None else float(m.min()),
                             vmax=vmax if vmax is not None else float(m.max()), cmap=cmap)
        if small is not None:
            colour = np.round((1 - alpha) * small.astype(np.float32) + alpha * colour).astype(np.uint8)
        tiles.append(colour)
    return tiles


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
    from matplotlib import colormaps
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize

    fig = new_figure(width / 100, 0.62)
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib.ticker import MaxNLocator

    ColorbarBase(ax, cmap=colormaps[cmap], norm=Normalize(vmin, vmax), orientation="horizontal")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=max(3, width // 110)))  # tick labels never collide
    ax.tick_params(labelsize=8)
    if label:
        ax.set_xlabel(label, fontsize=8, labelpad=1)
    out = figure_rgb(fig)
    out.setflags(write=False)
    return out


def colorbar(vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "", width: int = DISPLAY_MIN_SIDE) -> np.ndarray:
    """A horizontal colour bar from vmin to vmax → (h, width, 3) uint8 (cached)."""
    return _colorbar_cached(round(float(vmin), 6), round(float(vmax), 6), cmap, label, int(width))


def with_colorbar(image: np.ndarray, vmin: float, vmax: float, cmap: str = MAP_CMAP, label: str = "") -> np.ndarray:
    """Stack a colour bar (as wide as the image) under an (H, W, 3) image → uint8."""
    bar = colorbar(vmin, vmax, cmap, label, width=image.shape[1])
    if bar.shape[1] != image.shape[1]:
        bar = np.asarray(Image.fromarray(bar).resize((image.shape[1], bar.shape[0]), Image.BILINEAR))
    return np.concatenate([np.asarray(image, dtype=np.uint8), bar], axis=0)


def attention_distance_figure(distance: np.ndarray, patch_size: tuple[int, int], *,
                              highlight_layer: int | None = None, title: str = "Mean attention distance",
                              xlabel: str = "Network depth (layer)", ylabel: str = "Mean attention distance (pixels)"):
    """ViT fig. 7 (right): one dot per head at each depth → matplotlib Figure.

    distance: (L, H) mean attention distance in pixels; patch_size marks the receptive
    field of one patch as a reference line.
    """
    from matplotlib import colormaps

    L, H = distance.shape
    fig = new_figure(5.6, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    colours = colormaps["viridis"](np.linspace(0.05, 0.95, H))
    x = np.arange(1, L + 1)
    for h in range(H):
        ax.scatter(x, distance[:, h], s=16, color=colours[h], label=f"head {h + 1}" if H <= 16 else None, zorder=3)
    if highlight_layer is not None and 0 <= highlight_layer < L:
        ax.axvspan(highlight_layer + 0.5, highlight_layer + 1.5, color="#ffd54f", alpha=0.35, zorder=1)
    ax.axhline(patch_size[0], color="#999999", lw=0.8, ls="--", zorder=2)
    ax.set_xticks(x)
    ax.set_xlim(0.4, L + 0.6)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    if H <= 16:
        ax.legend(fontsize=6, ncol=max(1, math.ceil(H / 6)), loc="lower right", frameon=False)
    return fig


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


def attention_computation_figure(query: np.ndarray, keys: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                                 token_labels: Sequence[str], query_label: str, scale: float, *,
                                 num_prefix: int = 1, titles: Sequence[str] | None = None):
    """The neuron view for one query token and one head → Figure.

    query (d,), keys (N, d), scores (N,) = q·k·scale, probs (N,) = softmax(scores).
    Four panels, top to bottom: the query vector, every key (one row per token), the
    scaled scores, and the softmax probabilities (= the attention row).
    """
    from matplotlib import colormaps

    d = query.shape[0]
    n = keys.shape[0]
    titles = titles or (f"query q of {query_label}  ({d},)", f"keys k of all {n} tokens  ({n}, {d})",
                        f"scores q·k × {scale:.4g}  ({n},)", f"softmax → attention row  ({n},)")
    fig = new_figure(6.4, 6.2)
    gs = fig.add_gridspec(4, 2, height_ratios=[0.35, 2.2, 1.1, 1.1], width_ratios=[40, 1])
    lim = float(max(np.abs(query).max(), np.abs(keys).max(), 1e-6))
    cm = colormaps["RdBu_r"]
    ax_q = fig.add_subplot(gs[0, 0])
    ax_q.imshow(query[None, :], aspect="auto", cmap=cm, vmin=-lim, vmax=lim, interpolation="nearest")
    ax_q.set_yticks([])
    ax_q.set_title(titles[0], fontsize=9, loc="left")
    ax_q.tick_params(labelsize=7)
    ax_k = fig.add_subplot(gs[1, 0])
    im = ax_k.imshow(keys, aspect="auto", cmap=cm, vmin=-lim, vmax=lim, interpolation="nearest")
    ax_k.set_title(titles[1], fontsize=9, loc="left")
    ax_k.set_ylabel("token", fontsize=8)
    ax_k.set_xlabel("dimension of the head", fontsize=8)
    ax_k.tick_params(labelsize=7)
    cax = fig.add_subplot(gs[1, 1])
    fig.colorbar(im, cax=cax)
    cax.tick_params(labelsize=6)
    tokens = np.arange(n)
    prefix = num_prefix
    colours = ["#e6550d" if i < prefix else "#3b528b" for i in range(n)]
    ax_s = fig.add_subplot(gs[2, 0])
    ax_s.bar(tokens, scores, color=colours, width=1.0)
    ax_s.set_title(titles[2], fontsize=9, loc="left")
    ax_s.tick_params(labelsize=7)
    ax_s.set_xlim(-0.5, n - 0.5)
    ax_p = fig.add_subplot(gs[3, 0], sharex=ax_s)
    ax_p.bar(tokens, probs, color=colours, width=1.0)
    ax_p.set_title(titles[3], fontsize=9, loc="left")
    ax_p.set_xlabel("key token index (orange: prefix tokens)", fontsize=8)
    ax_p.tick_params(labelsize=7)
    top = int(np.argmax(probs))
    ax_p.annotate(f"{token_labels[top]}: {probs[top]:.2f}", (top, probs[top]), fontsize=7,
                  xytext=(4, -2), textcoords="offset points", va="top")
    return fig


def to_png_bytes(image: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()
