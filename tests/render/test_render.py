"""render: shapes, dtypes, colour tables, overlay geometry, figures released."""
import sys

import numpy as np
import pytest

from vitviz import render as R
from vitviz.core.geometry import PatchGrid

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
    fig = R.line_figure({"a": np.arange(5.0)}, title="t")
    img = R.figure_rgb(fig)
    assert img.ndim == 3 and img.dtype == np.uint8
    assert len(fig.axes) == 0  # cleared after drawing
    fig = R.line_figure({"a": np.arange(5.0)}, title="t")
    png = R.figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(fig.axes) == 0
    bar = R.colorbar(0.0, 1.0, label="x")
    assert bar.shape[1] == R.DISPLAY_MIN_SIDE and bar.dtype == np.uint8
    assert list(_pyplot_figures()) == before
    assert "matplotlib.pyplot" not in sys.modules or before == list(_pyplot_figures())


def test_with_colorbar_keeps_width():
    img = np.zeros((448, 448, 3), np.uint8)
    out = R.with_colorbar(img, 0, 1)
    assert out.shape[1] == 448 and out.shape[0] > 448


# --------------------------------------------------------------------------- plots drawn as arrays
def _where(img, colour):
    """(rows, cols) of the pixels of exactly that colour."""
    return np.nonzero(np.all(img == np.asarray(colour, np.uint8), axis=-1))


def test_nice_ticks_and_labels():
    t = R.nice_ticks(-0.23, 0.21, 5)
    assert list(R.tick_labels(t)) == ["−0.2", "−0.1", "0.0", "0.1", "0.2"]
    assert len(R.nice_ticks(0, 196, 9, integer=True)) <= 9
    np.testing.assert_array_equal(R.nice_ticks(0, 196, 9, integer=True), [0, 50, 100, 150])
    assert R.tick_labels(R.nice_ticks(0, 0.0095, 5)) == ["0.000", "0.002", "0.004", "0.006", "0.008"]
    assert R.tick_labels([0.0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    for lo, hi in [(5.265, 5.283), (0, 1), (-3e-5, 7e-5), (2, 45), (1, 1)]:
        t = R.nice_ticks(lo, hi, 6)
        assert 1 <= len(t) <= 6 and t.min() >= lo - 1e-9 and t.max() <= hi + 1e-9
        assert len(set(R.tick_labels(t))) == len(t)  # distinct labels
    assert len(R.nice_ticks(np.nan, 1)) == 0


def test_bars_fill_the_right_pixels():
    c = R.Canvas(100, 60)
    ax = R.Axes(c, (10, 5, 90, 55), (-0.5, 3.5), (-1.0, 1.0))  # 20 px per bar, 25 px per unit
    ax.bars(np.array([1.0, 0.4, -0.4, 0.0]), [(255, 0, 0), (0, 0, 255), (0, 0, 255), (0, 0, 255)])
    img = c.rgb()
    rows, cols = _where(img, (255, 0, 0))
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (5, 30, 10, 30)  # 1.0 → 0
    rows, cols = _where(img, (0, 0, 255))
    assert cols.min() == 30 and cols.max() + 1 == 70  # bar 3 (0) has no height
    assert rows[cols < 50].min() == 20 and rows[cols < 50].max() + 1 == 30  # 0.4 → 0
    assert rows[cols >= 50].min() == 30 and rows[cols >= 50].max() + 1 == 40  # 0 → −0.4
    # More bars than pixels: a lone spike keeps its column, a rarer colour is painted over.
    c = R.Canvas(100, 60)
    ax = R.Axes(c, (10, 5, 90, 55), (-0.5, 999.5), (0.0, 1.0))
    v = np.full(1000, 0.1)
    v[613] = 1.0
    ax.bars(v, [(255, 0, 0)] + [(0, 0, 255)] * 999)
    img = c.rgb()
    rows, cols = _where(img, (0, 0, 255))
    assert rows.min() == 5 and set(cols[rows == 5]) == {10 + int(613 * 80 / 1000)}
    assert _where(img, (255, 0, 0))[1].tolist()[:1] == [10]


def _neuron(query, keys, query_token=None, num_prefix=1):
    n = keys.shape[0]
    scores = keys @ query * 0.125
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    labels = ["CLS"] + [f"patch {i}" for i in range(1, n)]
    return R.attention_computation_image(query, keys, scores, probs, labels, "patch 5", 0.125,
                                         num_prefix=num_prefix, query_token=query_token)


def test_attention_computation_image():
    rng = np.random.default_rng(0)
    d, n = 16, 50
    keys = rng.uniform(-0.5, 0.5, (n, d)).astype(np.float32)
    images = {}
    for dim in (3, 11):
        query = np.zeros(d, np.float32)
        query[dim] = 2.0  # the only value at +lim: the darkest red of the colour table
        images[dim] = img = _neuron(query, keys, query_token=5)
        assert img.ndim == 3 and img.dtype == np.uint8 and 500 < img.shape[1] < 800
        rows, cols = _where(img, R.colormap_lut(R.DIVERGING_CMAP)[255])
        strip = cols[rows < 60]  # the query strip at the top (the colour bar also has it, further right)
        assert strip.max() - strip.min() + 1 == 32  # one cell of 512 / d px
        images[dim, "x"] = strip.min()
    assert images[11, "x"] - images[3, "x"] == 8 * 32  # cells in dimension order
    # Zero query entries map to the colour table's middle (white-ish), keys to their rows.
    assert len(_where(images[3], R.colormap_lut(R.DIVERGING_CMAP)[128])[0]) > 0
    # Prefix bars are orange, the rest blue; the query marker moves with query_token.
    assert len(_where(images[3], R.PREFIX_BAR)[0]) > 0 and len(_where(images[3], R.PATCH_BAR)[0]) > 0
    query = np.zeros(d, np.float32)
    query[3] = 2.0
    other = _neuron(query, keys, query_token=40)
    diff = np.any(other != images[3], axis=-1)
    assert diff.any() and np.nonzero(diff)[1].min() > images[3, "x"] + 512 - 3 * 32  # only right of the keys
    assert _neuron(query, keys, num_prefix=0).shape == images[3].shape
    assert len(_where(_neuron(query, keys, num_prefix=0), R.PREFIX_BAR)[0]) == 0


def test_attention_computation_image_top_bar_is_highest():
    rng = np.random.default_rng(1)
    d, n = 8, 120
    keys = rng.normal(0, 0.3, (n, d)).astype(np.float32)
    query = rng.normal(0, 1, d).astype(np.float32)
    keys[77] = query * 3  # token 77 gets by far the most attention
    img = _neuron(query, keys)
    lower = slice(int(img.shape[0] * 0.75), None)  # the softmax panel is the last one
    rows, cols = _where(img[lower], R.PATCH_BAR)
    x0 = _where(img[lower], R.PREFIX_BAR)[1].min()  # bar 0 (CLS) starts the axis
    assert cols.max() + 1 - x0 == 512  # n bars over 512 / d · d px
    top_cols = cols[rows == rows.min()]
    assert set(((top_cols - x0) * n // 512).tolist()) == {77}


def test_line_panels_image_highlight_and_values():
    x = np.arange(1, 13)
    y = np.full(12, 1.0)
    y[8] = 3.0  # a peak at x = 9
    panels = [R.LinePanel(x, y, "peak", "block", (200, 0, 0)),
              R.LinePanel(np.arange(13), np.linspace(0, 1, 13), "ramp", "after block", (0, 120, 0), reference=1.5)]
    img = {h: R.line_panels_image(panels, highlight=h, width=600, height=220) for h in (2, 9, None)}
    assert img[2].shape == (220, 600, 3) and img[2].dtype == np.uint8
    assert len(_where(img[None], R.HIGHLIGHT_COLOUR)[0]) == 0
    band = {h: _where(img[h], R.HIGHLIGHT_COLOUR)[1] for h in (2, 9)}
    left = {h: band[h][band[h] < 300] for h in band}  # first panel
    assert left[9].mean() - left[2].mean() > 100  # the band moves with the chosen layer
    # The peak is the highest red pixel and it sits in the x = 9 band.
    rows, cols = np.nonzero((img[9][..., 0] > 150) & (img[9][..., 1] < 80) & (img[9][..., 2] < 80))
    peak_col = cols[rows == rows.min()].mean()
    assert left[9].min() - 3 <= peak_col <= left[9].max() + 3


def test_attention_distance_image_band_and_dots():
    L, H = 6, 3
    dist = np.full((L, H), 20.0)
    dist[4, 2] = 100.0  # head 3 of layer 5 looks far
    images = {l: R.attention_distance_image(dist, (16, 16), highlight_layer=l) for l in (0, 4, None)}
    for im in images.values():
        assert im.shape == (340, 560, 3) and im.dtype == np.uint8
    assert len(_where(images[None], R.HIGHLIGHT_COLOUR)[0]) == 0
    b0, b4 = (_where(images[l], R.HIGHLIGHT_COLOUR)[1] for l in (0, 4))
    assert b4.min() > b0.max()  # the band moves right with the layer
    head3 = R.lut_colour("viridis", 0.95)
    rows, cols = _where(images[None], head3)
    plot = cols < 560 - 84  # leave out the legend
    top_col = cols[plot][rows[plot] == rows[plot].min()].mean()
    assert b4.min() <= top_col <= b4.max()  # the far-looking head is the highest dot, in layer 5
    many = R.attention_distance_image(np.random.rand(24, 20) * 50, (14, 14), highlight_layer=3)
    assert many.shape == (340, 560, 3)


def test_text_is_drawn_with_symbols():
    c = R.Canvas(120, 40, ss=2)
    c.text(5, 5, "q·k × 0.125 → −1", 12)
    c.text(100, 20, "token", 10, rotate=True)
    img = c.rgb()
    assert (img < 128).any() and img.shape == (40, 120, 3)
    assert R.text_mask("−0.5", 20, "rm")[0].getbbox() is not None


def test_map_tiles_match_one_map_at_a_time():
    rng = np.random.default_rng(3)
    maps = rng.random((5, 14, 14)).astype(np.float32)
    maps[2] = 0.25  # constant: the lowest colour
    image = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    tiles = R.map_tiles(maps, size=42)
    for m, tile in zip(maps, tiles):
        np.testing.assert_array_equal(tile, R.enlarge(R.heatmap_rgb(m), 3))
    np.testing.assert_array_equal(tiles[2], np.broadcast_to(R.colormap_lut()[0], (42, 42, 3)))
    blended = R.map_tiles(maps, size=42, image=image, alpha=0.5)
    assert blended[0].shape == (42, 42, 3) and not np.array_equal(blended[0], tiles[0])


def test_overlay_fast_path_equals_enlarge_then_blend():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
    values = rng.random((14, 14)).astype(np.float32)
    f = R.display_scale(224)
    big = R.enlarge(image, f)
    colour = R.heatmap_rgb(R.upsample(values, big.shape[:2]), float(values.min()), float(values.max()))
    expected = np.round(0.4 * big.astype(np.float32) + 0.6 * colour.astype(np.float32)).astype(np.uint8)
    np.testing.assert_array_equal(R.overlay(image, values, alpha=0.6), expected)


def test_tile_grid_boxes_locate_every_tile():
    tiles = [np.full((10, 12, 3), 20 * i, np.uint8) for i in range(6)]
    for kw in ({}, dict(labels=list("abcdef")), dict(row_labels=["L1", "L2"], col_labels=["x", "y", "z"], pad=2)):
        mosaic = R.tile_grid(tiles, 2, 3, **kw)
        flags = {k: bool(v) for k, v in kw.items() if k in ("labels", "row_labels", "col_labels")}
        boxes = R.tile_grid_boxes((10, 12), 2, 3, pad=kw.get("pad", 4), **flags)
        for tile, (y0, x0, y1, x1) in zip(tiles, boxes):
            np.testing.assert_array_equal(mosaic[y0:y1, x0:x1], tile)


# --------------------------------------------------------------------------- the overview mosaic (views)
class _FakeAnalysis:
    pass


def test_overview_image_cached_mosaic_frames_the_layer():
    from vitviz.views import pictures as V

    rng = np.random.default_rng(5)
    a = _FakeAnalysis()
    a.cls_attention = rng.random((3, 4, 14, 14)).astype(np.float32)
    a.info = type("Info", (), {"grid": (14, 14)})()
    first = V.overview_image(a, 1)
    again = V.overview_image(a, 1)
    np.testing.assert_array_equal(first, again)
    assert first.flags.writeable  # a copy, not the cached mosaic
    # The same as drawing the frames into the tiles before building the mosaic.
    size = int(np.clip(V.WIDE // 4, 24, 72))
    tiles = R.map_tiles(a.cls_attention.reshape(12, 14, 14), size=size)
    for h in range(4):
        V.frame(tiles[4 + h], colour=(255, 215, 0), width=2)
    expected = R.tile_grid(tiles, 3, 4, row_labels=["L1", "L2", "L3"], col_labels=["h1", "h2", "h3", "h4"],
                           pad=2, label_size=11)
    np.testing.assert_array_equal(first, expected)
    assert not np.array_equal(V.overview_image(a, 2), first)
    assert np.array_equal(V.overview_image(a, None), R.tile_grid(
        R.map_tiles(a.cls_attention.reshape(12, 14, 14), size=size), 3, 4, row_labels=["L1", "L2", "L3"],
        col_labels=["h1", "h2", "h3", "h4"], pad=2, label_size=11))


def test_colorbar_is_drawn_without_matplotlib_and_maps_values():
    lut = R.colormap_lut("viridis")
    bar = R.colorbar(-1.0, 1.0, "viridis", "cosine similarity", width=300)
    assert bar.shape[1] == 300 and bar.dtype == np.uint8 and not bar.flags.writeable
    lo_cols, hi_cols = _where(bar, lut[0])[1], _where(bar, lut[255])[1]
    assert lo_cols.max() < 40 and hi_cols.min() > 260  # low values left, high values right
    mid = _where(bar, lut[128])[1]
    assert abs(mid.mean() - 150) < 3  # 0 is in the middle of −1 … 1
    flat = R.colorbar(0.25, 0.25, label="x", width=200)  # a constant map is drawn in the lowest colour
    assert len(_where(flat, R.colormap_lut()[0])[0]) > 200 and len(_where(flat, R.colormap_lut()[255])[0]) == 0
    assert R.colorbar(np.nan, 1.0).shape[1] == R.DISPLAY_MIN_SIDE
    assert R.colorbar(0.1, 0.2).shape[0] < bar.shape[0]  # no label line without a label
