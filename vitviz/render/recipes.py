"""Figure recipes: whole pictures composed from the plotting toolkit (the neuron view)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vitviz.render.colorbar import vertical_colorbar
from vitviz.render.colour import heatmap_rgb
from vitviz.render.plot import Axes, Canvas, nice_ticks, padded
from vitviz.render.style import AXIS_COLOUR, DIVERGING_CMAP, PATCH_BAR, PREFIX_BAR, REFERENCE_COLOUR, TEXT_COLOUR


@dataclass(frozen=True)
class NeuronWords:
    """The words of `attention_computation_image` besides its titles (the views pass them in the
    page's language; render knows no string table)."""

    dimension: str = "dimension of the head"  # x axis of the keys
    token: str = "token"  # y axis of the keys
    query: str = "query"  # the arrow at the query token's own key row
    uniform: str = "1/N (uniform)"  # the dashed level of the probabilities
    maximum: str = "max: "  # before the most attended token's name
    key_index: str = "key token index"  # x axis of the bars
    prefix_note: str = " (orange: prefix tokens)"  # appended to key_index when there are prefix tokens


@dataclass(frozen=True)
class _NeuronLayout:
    """Where the four panels of `attention_computation_image` go (output pixels)."""

    d: int  # head dimension
    n: int  # tokens
    cell: int  # pixels per dimension
    left: int  # left edge of every plot area
    x1: int  # right edge of every plot area
    tops: tuple[int, int, int, int]  # top of each panel's plot area
    heights: tuple[int, int, int, int]

    @classmethod
    def of(cls, d: int, n: int) -> "_NeuronLayout":
        cell = max(1, round(512 / d))
        left = 58
        key_h = n * max(1, round(200 / n)) if n * max(1, round(200 / n)) <= 320 else 320
        tops = [24]
        heights = (18, key_h, 84, 84)
        for h, below in zip(heights[:-1], (44, 60, 46)):
            tops.append(tops[-1] + h + below)
        return cls(d, n, cell, left, left + cell * d, tuple(tops), heights)

    def box(self, i: int) -> tuple[int, int, int, int]:
        return self.left, self.tops[i], self.x1, self.tops[i] + self.heights[i]

    def canvas(self) -> Canvas:
        return Canvas(self.x1 + 112, self.tops[-1] + self.heights[-1] + 38)


def _vector_panels(c: Canvas, g: _NeuronLayout, query: np.ndarray, keys: np.ndarray, titles: Sequence[str],
                   query_token: int | None, cmap: str, words: NeuronWords) -> None:
    """Panels 1 and 2: the query vector and every key (row i: token i) on one colour scale."""
    d, n, x1 = g.d, g.n, g.x1
    lim = float(max(np.abs(query).max(), np.abs(keys).max(), 1e-6))
    dims = (-0.5, d - 0.5)
    dim_ticks = nice_ticks(0, d - 1, 8, integer=True)
    columns = np.repeat(np.arange(d), g.cell)
    ax = Axes(c, g.box(0), dims, (0, 1))
    c.put(g.left, g.tops[0], np.repeat(heatmap_rgb(query[None], -lim, lim, cmap)[:, columns], g.heights[0], axis=0))
    ax.frame()
    ax.xticks(dim_ticks)
    ax.title(titles[0], left=True)

    key_h = g.heights[1]
    ax = Axes(c, g.box(1), dims, (n - 0.5, -0.5))
    rows = (np.arange(key_h) * n) // key_h
    c.put(g.left, g.tops[1], heatmap_rgb(keys, -lim, lim, cmap)[rows][:, columns])
    ax.frame()
    ax.xticks(dim_ticks)
    ax.yticks(nice_ticks(0, n - 1, 9, integer=True))
    ax.title(titles[1], left=True)
    ax.xlabel(words.dimension, offset=20)
    ax.ylabel(words.token, offset=42)
    if query_token is not None and 0 <= query_token < n:
        yq = (ax.row(query_token) + ax.row(query_token) + 1) / 2
        c.polygon([(x1 + 3, yq), (x1 + 10, yq - 4.5), (x1 + 10, yq + 4.5)], AXIS_COLOUR)
        c.text(x1 + 12, yq, words.query, 10, anchor="lm")
    # the colour bar serves both heatmaps
    vertical_colorbar(c, (x1 + 52, g.tops[1], x1 + 64, g.tops[1] + key_h), -lim, lim, cmap)


def _score_panel(c: Canvas, g: _NeuronLayout, scores: np.ndarray, colours: list, title: str) -> None:
    """Panel 3: the scaled scores, one bar per key token."""
    lo, hi = padded(min(0.0, float(scores.min())), max(0.0, float(scores.max())), 0.08)
    ax = Axes(c, g.box(2), (-0.5, g.n - 0.5), (lo, hi))
    yt = nice_ticks(lo, hi, 5)
    ax.grid(yticks=yt)
    ax.bars(scores, colours)
    ax.hline(0.0)
    ax.frame()
    ax.xticks(nice_ticks(0, g.n - 1, 9, integer=True))
    ax.yticks(yt)
    ax.title(title, left=True)


def _probability_panel(c: Canvas, g: _NeuronLayout, probs: np.ndarray, colours: list, title: str,
                       token_labels: Sequence[str], num_prefix: int, words: NeuronWords) -> None:
    """Panel 4: the softmax probabilities, with the uniform level 1/N and the most attended token."""
    n, x1 = g.n, g.x1
    top = int(np.argmax(probs))
    hi = max(float(probs.max()), 1.0 / n) * 1.2
    ax = Axes(c, g.box(3), (-0.5, n - 0.5), (0.0, hi))
    yt = nice_ticks(0.0, hi, 5)
    ax.grid(yticks=yt)
    ax.bars(probs, colours)
    ax.hline(1.0 / n, REFERENCE_COLOUR, dashed=True)
    c.text(x1 + 4, ax.row(1.0 / n) + 0.5, words.uniform, 10, fill=REFERENCE_COLOUR, anchor="lm")
    xt, yp = float(ax.px(top)), float(ax.py(probs[top]))
    c.polygon([(xt - 4, yp - 9), (xt + 4, yp - 9), (xt, yp - 2)], TEXT_COLOUR)
    ax.frame()
    ax.xticks(nice_ticks(0, n - 1, 9, integer=True))
    ax.yticks(yt)
    ax.title(title, left=True)
    c.text(x1, g.tops[3] - 6, f"▼ {words.maximum}{token_labels[top]}, {probs[top]:.3g}", 11, anchor="rd")
    ax.xlabel(words.key_index + (words.prefix_note if num_prefix else ""), offset=20)


def attention_computation_image(query: np.ndarray, keys: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                                token_labels: Sequence[str], query_label: str, scale: float, *,
                                num_prefix: int = 1, query_token: int | None = None,
                                titles: Sequence[str] | None = None, words: NeuronWords = NeuronWords(),
                                cmap: str = DIVERGING_CMAP) -> np.ndarray:
    """The neuron view for one query token and one head → (h, w, 3) uint8.

    query (d,), keys (N, d), scores (N,) = q·k·scale, probs (N,) = softmax(scores).
    Four panels, top to bottom: the query vector and every key (one row per token) on one
    diverging colour scale (colour bar at the right), the scaled scores and the softmax
    probabilities (= the attention row) as one bar per key token, prefix tokens in orange.
    query_token: marks that token's own key row. titles (the four panels') and words: the
    figure's text, English by default.
    """
    query, keys = np.asarray(query, np.float32), np.asarray(keys, np.float32)
    scores, probs = np.asarray(scores, np.float32), np.asarray(probs, np.float32)
    d, n = query.shape[0], keys.shape[0]
    titles = titles or (f"query q of {query_label}  ({d},)", f"keys k of all {n} tokens  ({n}, {d})",
                        f"scores q·k × {scale:.4g}  ({n},)", f"softmax → attention row  ({n},)")
    g = _NeuronLayout.of(d, n)
    c = g.canvas()
    _vector_panels(c, g, query, keys, titles, query_token, cmap, words)
    colours = [PREFIX_BAR if i < num_prefix else PATCH_BAR for i in range(n)]
    _score_panel(c, g, scores, colours, titles[2])
    _probability_panel(c, g, probs, colours, titles[3], token_labels, num_prefix, words)
    return c.rgb()
