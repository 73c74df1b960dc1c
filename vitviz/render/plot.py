"""A small plotting toolkit drawn with PIL straight into arrays, and the plots built on it.

The plots that change with every interaction are drawn here: a matplotlib figure costs
100–700 ms, these cost a few. Lines and dots are drawn at SUPERSAMPLE× and reduced
(antialiasing); heatmaps are placed after the reduction, so every cell keeps its exact
colour-table colour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from vitviz.render.colour import colormap_lut, enlarge
from vitviz.render.fonts import text_mask
from vitviz.render.style import (AXIS_COLOUR, BACKGROUND, GRID_COLOUR, HIGHLIGHT_COLOUR, PATCH_BAR,
                                 REFERENCE_COLOUR, SUPERSAMPLE, TEXT_COLOUR)


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


class Canvas:
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
            mask, dx, dy = text_mask(text, size * self.ss, anchor, rotate)
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


class Axes:
    """The plot area [x0, x1) × [y0, y1) of a canvas showing data limits xlim × ylim.

    A limit pair may be decreasing (e.g. token 0 at the top of a heatmap).
    """

    def __init__(self, canvas: Canvas, box: tuple[int, int, int, int], xlim: tuple[float, float],
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
            half = text_mask(text, size * self.c.ss, "ma")[0].width / self.c.ss / 2 + 1
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

def padded(lo: float, hi: float, pad: float = 0.06) -> tuple[float, float]:
    """Data limits lo..hi widened by `pad` of their span (a constant gets a span of its own)."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    span = hi - lo if hi - lo > 1e-12 * max(1.0, abs(lo), abs(hi)) else max(abs(hi), 1.0) * 0.1
    return lo - pad * span, hi + pad * span


def lut_colour(cmap: str, t: float) -> tuple[int, int, int]:
    """The colour of level t in [0, 1] of colormap `cmap` → (r, g, b)."""
    return tuple(int(v) for v in colormap_lut(cmap)[int(round(min(1.0, max(0.0, t)) * 255))])


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
    c = Canvas(width, height, SUPERSAMPLE)
    pw = width // max(1, len(panels))
    for i, p in enumerate(panels):
        x = np.asarray(p.x, dtype=np.float64)
        y = np.asarray(p.y, dtype=np.float64)
        finite = y[np.isfinite(y)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if p.reference is not None:
            lo, hi = min(lo, p.reference), max(hi, p.reference)
        ax = Axes(c, (i * pw + 52, 26, (i + 1) * pw - 10, height - 40),
                   (float(x.min()) - 0.6, float(x.max()) + 0.6), padded(lo, hi))
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
                             head_labels: Sequence[str] | None = None, reference_label: str | None = None,
                             width: int = 560, height: int = 340) -> np.ndarray:
    """ViT fig. 7 (right) → (height, width, 3) uint8: one dot per head at each depth.

    distance: (L, H) mean attention distance in pixels; heads are spread a little around
    their layer and coloured from dark (head 1) to light (head H), as in the legend. The
    dashed line is one patch (patch_size[0] pixels); highlight_layer (0-based) is shaded.
    head_labels: the legend's name of each head (default "head 1" …); reference_label: the
    dashed line's (default "one patch (16 px)").
    """
    distance = np.asarray(distance, dtype=np.float64)
    L, H = distance.shape
    head_labels = list(head_labels) if head_labels is not None else [f"head {h + 1}" for h in range(H)]
    if reference_label is None:
        reference_label = f"one patch ({patch_size[0]} px)"
    legend = H <= 16
    c = Canvas(width, height, SUPERSAMPLE)
    finite = distance[np.isfinite(distance)]
    top = max(float(finite.max()) if finite.size else 0.0, float(patch_size[0]), 1.0) * 1.06
    ax = Axes(c, (62, 30, width - 84, height - 44), (0.4, L + 0.6), (0.0, top))
    xt = np.arange(1, L + 1) if L <= 16 else nice_ticks(1, L, 12, integer=True)
    yt = nice_ticks(0.0, top, 7)
    if highlight_layer is not None and 0 <= highlight_layer < L:
        ax.band(highlight_layer + 0.5, highlight_layer + 1.5)
    ax.grid(xt, yt)
    ax.hline(patch_size[0], REFERENCE_COLOUR, dashed=True)
    c.text(ax.x1 - 4, ax.row(patch_size[0]) - 2, reference_label, 9, fill=REFERENCE_COLOUR, anchor="rd")
    colours = [lut_colour("viridis", 0.05 + 0.9 * h / max(1, H - 1)) for h in range(H)]
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
            c.text(lx + 11, y, head_labels[h], 9, anchor="lm")
    else:
        head_colour_strip(c, (lx, ax.y0, lx + 10, ax.y1), head_labels[0], head_labels[-1])
    return c.rgb()


def head_colour_strip(c: Canvas, box: tuple[int, int, int, int], first: str, last: str) -> None:
    """The head colours as a strip from the first head (top, labelled `first`) to the last (bottom)."""
    x0, y0, x1, y1 = box
    t = 0.05 + 0.9 * (np.arange(y1 - y0) + 0.5) / (y1 - y0)
    c.put(x0, y0, np.repeat(colormap_lut("viridis")[np.round(t * 255).astype(np.intp)][:, None], x1 - x0, axis=1))
    c.text(x1 + 3, y0, first, 9, anchor="lt")
    c.text(x1 + 3, y1, last, 9, anchor="lb")
