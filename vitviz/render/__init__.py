"""Arrays → pictures: heatmaps, overlays, patch grids, tile mosaics and a few real plots.

No UI imports. Heatmaps go through a 256-entry colour lookup table (built once from
matplotlib's perceptually uniform colormaps), so rendering a map is one numpy indexing
operation. The plots the app redraws on every interaction (the neuron view, attention
distance, block measurements) are drawn with PIL into arrays in a few milliseconds
(`attention_computation_image`, `attention_distance_image`, `line_panels_image`).
Matplotlib is used only for the remaining plots, always through `matplotlib.figure.Figure`
objects on the Agg canvas (never pyplot's global state), and `figure_rgb` / `figure_png`
release each figure after drawing it.

All images are (H, W, 3) uint8 RGB arrays. The modules, by job:

- `style`: shared sizes, colour maps and colours;
- `colour`: colour lookup tables, heatmaps, resizing, overlays;
- `fonts`: text drawn with PIL;
- `mosaic`: the patch grid, the token sequence, tile grids, map tiles;
- `plot`: the hand-written plotting toolkit (`Canvas`, `Axes`, ticks) and line / distance plots;
- `colorbar`: horizontal and vertical colour bars;
- `recipes`: whole figures composed from the toolkit (the neuron view);
- `mpl`: matplotlib figures.

Every public name is re-exported here: `from vitviz import render as R; R.heatmap_rgb(...)`.
"""
from __future__ import annotations

from vitviz.render.colorbar import colorbar, vertical_colorbar, with_colorbar
from vitviz.render.colour import colormap_lut, display_scale, enlarge, heatmap_rgb, normalise, overlay, upsample
from vitviz.render.fonts import draw_text, text_mask
from vitviz.render.mosaic import (draw_patch_grid, filter_components_image, map_tiles, mark_patch,
                                  patch_sequence_strip, position_similarity_image, tile_grid, tile_grid_boxes)
from vitviz.render.mpl import cjk_family, close_figure, figure_lang, figure_png, figure_rgb, line_figure, new_figure
from vitviz.render.plot import (Axes, Canvas, LinePanel, attention_distance_image, line_panels_image, lut_colour,
                                nice_ticks, tick_labels)
from vitviz.render.recipes import NeuronWords, attention_computation_image
from vitviz.render.style import (AXIS_COLOUR, BACKGROUND, DISPLAY_MIN_SIDE, DIVERGING_CMAP, GRID_COLOUR,
                                 HIGHLIGHT_COLOUR, MAP_CMAP, PATCH_BAR, PREFIX_BAR, PREFIX_COLOURS,
                                 REFERENCE_COLOUR, SIGNED_CMAP, SUPERSAMPLE, TEXT_COLOUR)

__all__ = [
    "AXIS_COLOUR", "Axes", "BACKGROUND", "Canvas", "DISPLAY_MIN_SIDE", "DIVERGING_CMAP", "GRID_COLOUR",
    "HIGHLIGHT_COLOUR", "LinePanel", "MAP_CMAP", "NeuronWords", "PATCH_BAR", "PREFIX_BAR", "PREFIX_COLOURS",
    "REFERENCE_COLOUR", "SIGNED_CMAP", "SUPERSAMPLE", "TEXT_COLOUR", "attention_computation_image", "attention_distance_image",
    "cjk_family", "close_figure", "colorbar", "colormap_lut", "display_scale", "draw_patch_grid", "draw_text", "enlarge",
    "figure_lang", "figure_png", "figure_rgb", "filter_components_image", "heatmap_rgb", "line_figure", "line_panels_image",
    "lut_colour", "map_tiles", "mark_patch", "new_figure", "nice_ticks", "normalise", "overlay",
    "patch_sequence_strip", "position_similarity_image", "text_mask", "tick_labels", "tile_grid", "tile_grid_boxes",
    "upsample", "vertical_colorbar", "with_colorbar",
]
