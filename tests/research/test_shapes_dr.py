"""Domain randomisation of the training generator and the independent evaluation renderer."""

import ast
import inspect

import numpy as np
import pytest
from scipy import ndimage

from vitviz.research.shapes import domain_random as dr
from vitviz.research.shapes import eval_renderer as er
from vitviz.research.shapes.generator import CLASS_NAMES, ShapesConfig, generate

SENTINEL = np.array([255.0, 0.0, 255.0], np.float32)
POLYGONS = [CLASS_NAMES.index(c) for c in ("square", "triangle", "star", "cross")]


@pytest.fixture
def flat_sentinel(monkeypatch):
    """The object is drawn in one exact colour, opaque, with no blur or noise afterwards, so the
    pixels it covers can be told from the image."""
    monkeypatch.setattr(dr, "_object_colour", lambda rng, local, *a: SENTINEL)
    monkeypatch.setattr(dr, "_equiluminant_colour", lambda rng, local: SENTINEL)
    monkeypatch.setattr(dr, "_fill", lambda rng, s, colour: np.broadcast_to(colour, (s, s, 3)))
    monkeypatch.setattr(dr, "_opacity", lambda rng: np.float32(1.0))
    monkeypatch.setattr(dr, "_post", lambda rng, img: img)


def _cfg(**kw):
    return ShapesConfig(image_size=96, domain_random=1.0, dr_aliased=1.0, dr_outline=0.0, dr_occlude=0.0,
                        dr_equiluminant=0.3).replace(**kw)


def _is_sentinel(img):
    return (img == SENTINEL.astype(np.uint8)).all(-1)


def test_off_by_default_never_calls_the_randomised_recipe(monkeypatch):
    assert ShapesConfig().domain_random == 0.0

    def boom(*a, **k):
        raise AssertionError("domain randomisation drawn with domain_random=0")

    monkeypatch.setattr(dr, "generate_domain_random", boom)
    for i in range(5):
        generate(np.random.default_rng([1, i]), ShapesConfig(image_size=32))


def test_domain_random_share_and_determinism():
    cfg = ShapesConfig(image_size=48, domain_random=1.0)
    a = generate(np.random.default_rng([3, 4]), cfg)
    b = generate(np.random.default_rng([3, 4]), cfg)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    labels = {generate(np.random.default_rng([9, i]), cfg).label for i in range(40)}
    assert labels == set(range(len(CLASS_NAMES)))


def test_filled_mask_is_what_is_drawn(flat_sentinel):
    for i in range(6):
        s = generate(np.random.default_rng([11, i]), _cfg(), label=i % 6)
        on = _is_sentinel(s.image)
        assert s.mask.any() and on[s.mask].all()           # every mask pixel shows the object
        assert (on & ~s.mask).sum() <= 0.02 * s.mask.sum()  # (chance sentinel pixels in the background)


def test_outline_mask_is_the_stroke(flat_sentinel):
    for i, label in enumerate(POLYGONS):
        s = generate(np.random.default_rng([12, i]), _cfg(dr_outline=1.0), label=label)
        on = _is_sentinel(s.image)
        assert on[s.mask].all()
        filled = ndimage.binary_fill_holes(s.mask)
        hole = filled & ~s.mask
        assert hole.sum() > 0.5 * s.mask.sum(), CLASS_NAMES[label]  # a stroke around an interior
        assert not on[hole].any()                                    # the interior is not drawn


def test_occluded_mask_excludes_the_occluder(flat_sentinel):
    occluded = 0
    for i in range(12):
        rng_args = [13, i]
        full = generate(np.random.default_rng(rng_args), _cfg(), label=i % 6)
        part = generate(np.random.default_rng(rng_args), _cfg(dr_occlude=1.0), label=i % 6)
        assert not (part.mask & ~full.mask).any()          # the visible part of the same shape
        assert _is_sentinel(part.image)[part.mask].all()
        hidden = full.mask & ~part.mask
        if hidden.any():
            occluded += 1
            assert 0.08 <= hidden.sum() / full.mask.sum() <= 0.5
            assert _is_sentinel(part.image)[hidden].mean() < 0.05  # the occluder is drawn over them
    assert occluded >= 6


def test_antialiased_edges_and_mask_is_half_coverage(flat_sentinel):
    s = generate(np.random.default_rng([14, 0]), _cfg(dr_aliased=0.0), label=CLASS_NAMES.index("circle"))
    on = _is_sentinel(s.image)
    interior = ndimage.binary_erosion(s.mask, iterations=2)
    assert on[interior].all()
    edge = s.mask & ~interior
    assert not on[edge].all()  # blended edge pixels exist


def test_equiluminant_colours_differ_in_hue_only():
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    rng = np.random.default_rng(0)
    for _ in range(50):
        local = rng.uniform(40, 215, size=3).astype(np.float32)
        c = dr._equiluminant_colour(rng, local)
        assert abs(float(c @ luma) - float(local @ luma)) <= 20 and np.linalg.norm(c - local) >= 80


def test_photo_backgrounds_are_found():
    paths = dr.photo_paths()
    assert paths and all(p.suffix == ".jpg" for p in paths)


# ----------------------------------------------------------------------------
# the evaluation renderer

def test_renderer_shares_no_drawing_code_with_the_generator():
    tree = ast.parse(inspect.getsource(er))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    banned = ("vitviz.research.shapes.generator", "vitviz.research.shapes.domain_random")
    assert not [m for m in imported if m.startswith(banned)], imported
    # what it does take from the training side is model plumbing only
    assert {m for m in imported if m.startswith("vitviz.research")} <= {
        "vitviz.research.shapes.data", "vitviz.research.shapes.data.to_tensor",
        "vitviz.research.shapes.metrics", "vitviz.research.shapes.metrics.rollout_batch"}
    assert er.CLASS_NAMES == CLASS_NAMES


def test_renderer_every_class_and_deterministic():
    a = er.render_set(12, seed=5, size=64)
    assert {s.label for s in a} == set(range(len(CLASS_NAMES)))
    b = er.render_set(12, seed=5, size=64)
    c = er.render_set(12, seed=6, size=64)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.mask, y.mask)
    assert any(not np.array_equal(x.image, z.image) for x, z in zip(a, c))
    for s in a:
        assert s.image.shape == (64, 64, 3) and s.image.dtype == np.uint8 and s.mask.shape == (64, 64)
        assert s.mask.any() and s.background in er.BACKGROUNDS


def test_renderer_mask_is_the_drawn_shape():
    for i in range(24):
        s = er.render(7, i, size=64)
        colours = s.image[ndimage.binary_erosion(s.mask)]
        if len(colours):  # the interior of the shape is one flat colour
            assert (np.abs(colours.astype(int) - np.median(colours, 0)).max(-1) <= 2).mean() > 0.97


def test_evaluate_tiny_random_model():
    import torch
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(img_size=32, patch_size=8, num_classes=6, embed_dim=32, depth=1, num_heads=2)
    out = er.evaluate(model, n=12, seed=3, batch_size=6)
    assert out["n"] == 12
    for key in ("top1", "rollout_on_shape", "rollout_near_shape", "rollout_chance"):
        assert 0.0 <= out[key] <= 1.0
    assert out["rollout_on_shape"] <= out["rollout_near_shape"]
    assert set(out["per_class"]) == set(CLASS_NAMES)
    for v in list(out["per_class"].values()) + list(out["per_background"].values()):
        assert 0.0 <= v["top1"] <= 1.0 and 0.0 <= v["rollout_on_shape"] <= 1.0
    assert sum(v["n"] for v in out["per_class"].values()) == 12
