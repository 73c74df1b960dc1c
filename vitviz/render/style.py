"""The render package's shared sizes, colour maps and colours."""
from __future__ import annotations

# Overlays and grids are enlarged by an integer factor to at least this many pixels,
# so a 14×14 map stays crisp on a 1280×800 screen and still fits a 390 px phone.
DISPLAY_MIN_SIDE = 448
MAP_CMAP = "inferno"  # attention-like maps over the image
SIGNED_CMAP = "viridis"  # similarities and other values with a meaningful scale
PREFIX_COLOURS = {"CLS": (230, 85, 13), "DIST": (49, 130, 189), "REG": (117, 107, 177)}
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (40, 40, 40)

# The plots drawn as arrays (vitviz.render.plot): lines and dots are drawn at SUPERSAMPLE×
# and reduced (antialiasing).
SUPERSAMPLE = 2
AXIS_COLOUR = (70, 70, 70)
GRID_COLOUR = (230, 230, 230)
REFERENCE_COLOUR = (140, 140, 140)
HIGHLIGHT_COLOUR = (252, 228, 170)  # #f4a300 at 30 % over white: the chosen layer
PREFIX_BAR = (230, 85, 13)
PATCH_BAR = (59, 82, 139)
DIVERGING_CMAP = "RdBu_r"  # signed values centred on 0 (queries, keys)
