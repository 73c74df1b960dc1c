"""Tests for the procedural shapes generator (vitviz.research.shapes.generator)."""

import dataclasses

import numpy as np
import pytest

from vitviz.research.shapes.generator import CLASS_NAMES, Sample, ShapesConfig, effective_config, generate, generate_batch, patch_fractions


def test_public_api():
    assert isinstance(CLASS_NAMES, tuple) and len(CLASS_NAMES) >= 4
    assert all(isinstance(c, str) for c in CLASS_NAMES)
    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert dataclasses.is_dataclass(ShapesConfig) and dataclasses.is_dataclass(Sample)
    assert ShapesConfig().image_size == 224


@pytest.mark.parametrize("size", [224, 64, 32])
def test_shapes_and_dtypes(size):
    cfg = ShapesConfig(image_size=size)
    s = generate(np.random.default_rng(0), cfg)
    assert isinstance(s, Sample)
    assert s.image.shape == (size, size, 3) and s.image.dtype == np.uint8
    assert s.mask.shape == (size, size) and s.mask.dtype == np.bool_
    assert isinstance(s.label, int) and 0 <= s.label < len(CLASS_NAMES)


def test_deterministic_from_seed():
    a = generate_batch(123, 8, ShapesConfig())
    b = generate_batch(123, 8, ShapesConfig())
    c = generate_batch(124, 8, ShapesConfig())
    for x, y in zip(a, b):
        assert x.label == y.label
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.mask, y.mask)
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, c))
    # generate() with an explicit Generator is deterministic too
    s1 = generate(np.random.default_rng([7, 3]))
    s2 = generate(np.random.default_rng([7, 3]))
    np.testing.assert_array_equal(s1.image, s2.image)


def test_all_classes_appear():
    labels = {s.label for s in generate_batch(0, 120, ShapesConfig(image_size=64))}
    assert labels == set(range(len(CLASS_NAMES)))
    bal = generate_batch(0, 12, ShapesConfig(image_size=64), balanced=True)
    assert [s.label for s in bal] == [i % len(CLASS_NAMES) for i in range(12)]


def test_forced_label():
    for k in range(len(CLASS_NAMES)):
        assert generate(np.random.default_rng(k), ShapesConfig(image_size=64), label=k).label == k


def test_mask_nonempty_and_on_object():
    cfg = ShapesConfig()
    for s in generate_batch(5, 40, cfg):
        m = s.mask
        frac = m.mean()
        assert 0.01 < frac < 0.6, frac
        # the object is a single flat colour (+ slight shading): its pixels are much
        # more uniform than the textured, cluttered background around it
        obj = s.image[m].astype(np.float32)
        assert obj.std(axis=0).max() < 12
        # a ring around the object's boundary differs clearly in colour from the object
        ys, xs = np.nonzero(m)
        assert ys.min() >= 0 and ys.max() < cfg.image_size and xs.max() < cfg.image_size
        mean_obj = obj.mean(0)
        bg = s.image[~m].astype(np.float32)
        far_from_obj = np.linalg.norm(bg - mean_obj, axis=1) > 30
        assert far_from_obj.mean() > 0.5


def test_mask_shape_matches_class():
    # fill ratio of the mask inside its bounding circle separates the classes
    cfg = ShapesConfig(image_size=128, texture_strength=0.0, n_lines=(0, 0), n_blobs=(0, 0))
    rng = np.random.default_rng(1)
    fill = {}
    for k, name in enumerate(CLASS_NAMES):
        s = generate(rng, cfg, label=k)
        fill[name] = s.mask.mean()
        ys, xs = np.nonzero(s.mask)
        cy, cx = ys.mean(), xs.mean()
        # the mask is one connected blob around its centroid: for ring the centre is a hole
        centre = s.mask[int(round(cy)), int(round(cx))]
        assert centre == (name != "ring"), name


def test_difficulty_curriculum():
    easy = effective_config(ShapesConfig(difficulty=0.0))
    hard = effective_config(ShapesConfig(difficulty=1.0))
    assert easy.min_size > hard.min_size and easy.center_jitter == 0 and easy.n_lines == (0, 0)
    assert hard == ShapesConfig()
    s = generate(np.random.default_rng(0), ShapesConfig(difficulty=0.0))
    # easy images: flat background, object near the centre
    bg = s.image[~s.mask].astype(np.float32)
    assert bg.std(axis=0).max() < 1.0
    ys, xs = np.nonzero(s.mask)
    assert abs(ys.mean() - 112) < 25 and abs(xs.mean() - 112) < 25


def test_distractors_are_small():
    # with no object-sized clutter, almost all of the non-background structure is the object:
    # distractor pixels (not on the object, far from the smooth background) are a small fraction
    cfg = ShapesConfig()
    s = generate(np.random.default_rng(3), cfg)
    assert s.mask.sum() > 5 * 16 * 16  # the object covers several patches


def test_patch_fractions():
    m = np.zeros((32, 32), bool)
    m[:8, :16] = True
    f = patch_fractions(m, 8)
    assert f.shape == (4, 4)
    np.testing.assert_allclose(f[0], [1, 1, 0, 0])
    assert f[1:].sum() == 0


def test_speed():
    import time
    t = time.perf_counter()
    generate_batch(0, 50, ShapesConfig())
    assert (time.perf_counter() - t) / 50 < 0.05  # generous: ~5 ms/image on 2 cores
