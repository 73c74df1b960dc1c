"""render: shapes, dtypes, colour tables, overlay geometry, figures released."""
import sys

import numpy as np
import pytest

from vitviz import render as R
from vitviz.geometry import PatchGrid

GRID = PatchGrid((14, 14), (16, 16), 1)


def test_lut_endpoints_match_matplotlib():
    from matplotlib import colormaps
    for name in ("viridis", "inferno"):
        lut = R.colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
        assert not lut.flags.writeable
        np.testing.assert_array_equal(lut[0], np.round(np.array(colormaps[name](0.0)[:3]) * 255))
        np.testing.assert_array_equal(lut[-1], np.round(np.array(colormaps[name](1.0)[:3]) * 255))


def test_heatmap_rgb_shapes_and_extremes():
    v = np.arange(12, dtype=np.float32).reshape(3, 4)
    rgb = R.heatmap_rgb(v, cmap="viridis")
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    lut = R.colormap_lut("viridis")
    np.testing.assert_array_equal(rgb[0, 0], lut[0])
    np.testing.assert_array_equal(rgb[-1, -1], lut[255])
    # constant maps and NaNs do not crash
    assert R.heatmap_rgb(np.ones((2, 2))).shape == (2, 2, 3)
    assert R.heatmap_rgb(np.array([[np.nan, 1.0], [0.0, 1.0]])).dtype == np.uint8


def test_overlay_one_hot_lights_exactly_that_patch():
    image = np.full((224, 224, 3), 128, np.uint8)
    values = np.zeros((14, 14), np.float32)
    values[3, 5] = 1.0
    out = R.overlay(image, values, alpha=0.7, vmin=0.0, vmax=1.0)
    f = R.display_scale(224)
    assert f * 224 >= R.DISPLAY_MIN_SIDE
    assert out.shape == (224 * f, 224 * f, 3) and out.dtype == np.uint8
    lit = np.any(out != out[0, 0], axis=-1)
    expected = np.zeros(out.shape[:2], bool)
    expected[3 * 16 * f:4 * 16 * f, 5 * 16 * f:6 * 16 * f] = True
    np.testing.assert_array_equal(lit, expected)


def test_upsample_nearest_and_smooth():
    v = np.arange(4, dtype=np.float32).reshape(2, 2)
    big = R.upsample(v, (4, 4))
    np.testing.assert_array_equal(big[:2, :2], 0)
    np.testing.assert_array_equal(big[2:, 2:], 3)
    smooth = R.upsample(v, (8, 8), smooth=True)
    assert smooth.shape == (8, 8) and smooth.min() >= 0 and smooth.max() <= 3


def test_patch_grid_and_highlight():
    image = np.zeros((224, 224, 3), np.uint8)
    out = R.draw_patch_grid(image, GRID, highlight=(2, 3))
    f = R.display_scale(224)
    assert out.shape == (224 * f, 224 * f, 3)
    assert out[16 * f, 5].sum() > 0  # a grid line
    assert tuple(out[2 * 16 * f, 3 * 16 * f + 5]) == (255, 215, 0)  # the highlight


def test_sequence_strip_and_tiles():
    image = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    strip = R.patch_sequence_strip(image, GRID, ("CLS",))
    assert strip.ndim == 3 and strip.dtype == np.uint8 and strip.shape[1] <= 600
    strip2 = R.patch_sequence_strip(image, PatchGrid((14, 14), (16, 16), 5), ("CLS", "REG1", "REG2", "REG3", "REG4"))
    assert strip2.shape[0] >= strip.shape[0]
    tiles = R.map_tiles(np.random.rand(6, 14, 14), size=42, image=image)
    assert len(tiles) == 6 and tiles[0].shape == (42, 42, 3)
    mosaic = R.tile_grid(tiles, 2, 3, labels=list("abcdef"), row_labels=["L1", "L2"], col_labels=["h1", "h2", "h3"])
    assert mosaic.dtype == np.uint8 and mosaic.shape[0] > 84 and mosaic.shape[1] > 126
    sim = R.position_similarity_image(np.random.rand(196, 14, 14) * 2 - 1)
    assert sim.shape[0] == sim.shape[1] and 400 < sim.shape[0] < 700
    comps = R.filter_components_image(np.random.rand(28, 16, 16, 3))
    assert comps.dtype == np.uint8


def _pyplot_figures():
    plt = sys.modules.get("matplotlib.pyplot")
    return plt.get_fignums() if plt else []


def test_figures_are_released():
    before = list(_pyplot_figures())
    fig = R.attention_distance_figure(np.random.rand(12, 3) * 100, (16, 16), highlight_layer=2)
    img = R.figure_rgb(fig)
    assert img.ndim == 3 and img.dtype == np.uint8
    assert len(fig.axes) == 0  # cleared after drawing
    fig = R.line_figure({"a": np.arange(5.0)}, title="t")
    png = R.figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(fig.axes) == 0
    n = 10
    fig = R.attention_computation_figure(np.random.randn(8), np.random.randn(n, 8), np.random.randn(n),
                                         np.full(n, 1 / n), ["CLS"] + [str(i) for i in range(1, n)], "CLS", 8 ** -0.5)
    assert R.figure_rgb(fig).shape[2] == 3 and len(fig.axes) == 0
    bar = R.colorbar(0.0, 1.0, label="x")
    assert bar.shape[1] == R.DISPLAY_MIN_SIDE and bar.dtype == np.uint8
    assert list(_pyplot_figures()) == before
    assert "matplotlib.pyplot" not in sys.modules or before == list(_pyplot_figures())


def test_with_colorbar_keeps_width():
    img = np.zeros((448, 448, 3), np.uint8)
    out = R.with_colorbar(img, 0, 1)
    assert out.shape[1] == 448 and out.shape[0] > 448
