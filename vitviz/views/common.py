"""What every section's views share: the view settings, token names, sizes and small drawing helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.analysis.neuron import AnalysisCache
from vitviz.core.model import ModelInfo
from vitviz.views.text import tr

WIDE = 560  # target width in px of the mosaics
DERIVED = AnalysisCache(24)  # per analysis: pictures that depend only on it (the overview mosaic, ~1–2 MB)


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


def token_label(a: Analysis, token: int, lang: str = "en") -> str:
    """A token's name: its prefix name (CLS, REG1, …) or "patch (row, col)" in `lang`."""
    pos = a.grid.token_position(token)
    if pos is None:
        return a.info.prefix_names[token]
    return tr("fig_patch", lang, row=pos[0], col=pos[1])


def fmt(info: ModelInfo) -> dict:
    """The model's numbers by the names the text table uses."""
    _, h, w = info.input_size
    gh, gw = info.grid
    ph, pw = info.patch_size
    return dict(h=h, w=w, gh=gh, gw=gw, ph=ph, pw=pw, c=info.embed_dim, p=info.num_patches, n=info.num_tokens,
                depth=info.depth, heads=info.num_heads, d=info.head_dim, hidden=info.mlp_hidden, k=info.num_classes,
                names=" + ".join(info.prefix_names) or "—")


def readout_name(info: ModelInfo, lang: str) -> str:
    return tr("readout_name_cls" if info.readout == "cls" else "readout_name_avg", lang)


def display_factor(a: Analysis) -> int:
    """The enlargement of every clickable picture (pixel (x, y) there is (x/f, y/f) in the input)."""
    return R.display_scale(min(a.image.shape[:2]))


def patch_at_display_pixel(a: Analysis, x: float, y: float) -> tuple[int, int]:
    f = display_factor(a)
    return a.grid.patch_at_pixel(x / f, y / f)


def head_cols(heads: int) -> int:
    """Columns of a one-layer mosaic of `heads` tiles (at most 6, rows as even as possible)."""
    if heads <= 4:
        return heads
    return min(6, math.ceil(heads / math.ceil(heads / 6)))


def layer_head_tile_size(heads: int) -> int:
    """Tile side of a layer × head mosaic about WIDE pixels wide."""
    return int(np.clip(WIDE // heads, 24, 72))


def layer_head_mosaic(maps: np.ndarray, *, size: int | None = None, image: np.ndarray | None = None,
                      alpha: float = 0.65, pad: int = 2, label_size: int = 11
                      ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """(L, H, gh, gw) maps (each on its own scale, over `image` if given) as an L × H mosaic,
    rows labelled L1…, columns h1… → (mosaic, box of every tile in `R.tile_grid_boxes` form)."""
    L, H = maps.shape[:2]
    tiles = R.map_tiles(maps.reshape(L * H, *maps.shape[2:]), size=size or layer_head_tile_size(H), image=image,
                        alpha=alpha)
    mosaic = R.tile_grid(tiles, L, H, row_labels=[f"L{i + 1}" for i in range(L)],
                         col_labels=[f"h{h + 1}" for h in range(H)], pad=pad, label_size=label_size)
    boxes = R.tile_grid_boxes(tiles[0].shape[:2], L, H, row_labels=True, col_labels=True, pad=pad,
                              label_size=label_size)
    return mosaic, boxes


def frame(tile: np.ndarray, colour=(0, 230, 255), width: int = 3) -> None:
    """Draw a frame inside a tile, in place."""
    tile[:width] = colour
    tile[-width:] = colour
    tile[:, :width] = colour
    tile[:, -width:] = colour


def labelled_colorbar(image: np.ndarray, lo: float, hi: float, label: str, lang: str = "en",
                      cmap: str = R.MAP_CMAP) -> np.ndarray:
    """`R.with_colorbar` with the bar's own words (a constant map's "every value =") in `lang`;
    `label` comes already worded, in `R.figure_lang(lang)`."""
    return R.with_colorbar(image, lo, hi, cmap, label, constant_label=tr("fig_every_value", R.figure_lang(lang)))


def overlay_with_colorbar(a: Analysis, m: np.ndarray, label: str, lang: str = "en") -> np.ndarray:
    """A (gh, gw) map over the image on its own min..max scale, with a colour bar (`labelled_colorbar`)."""
    lo, hi = float(m.min()), float(m.max())
    return labelled_colorbar(R.overlay(a.image, m, alpha=0.65, vmin=lo, vmax=hi), lo, hi, label, lang)
