"""vitviz-fashion's measurements (research/fashion/metrics.py), its committed data, and its card.

The card tests load the exported model the way the app does (`vitviz.load_model("vitviz-fashion")`), run it
on the committed 2,000 test images through the served 224-px path (nearest-enlarged, 3 channels) and check
the card's subset numbers. They skip while vitviz/assets/models/vitviz-fashion.json does not exist;
VITVIZ_MODELS_DIR (as in vitviz.core.model) points them at a candidate export instead, e.g.

    VITVIZ_MODELS_DIR=/tmp/fashion-dry python -m pytest tests/research/test_fashion_card.py -q
"""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vitviz.analysis import attention as att
from vitviz.research.fashion import data, export, metrics
from vitviz.research.fashion import model as fm

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("VITVIZ_MODELS_DIR", ROOT / "vitviz" / "assets" / "models"))
CARD = MODEL_DIR / "vitviz-fashion.json"
SUBSET = ROOT / "vitviz" / "assets" / "datasets" / "fashion-mnist-test-2000.npz"
EXAMPLES = sorted((ROOT / "vitviz" / "assets" / "examples").glob("fashion_*.png"))
# Re-measured numbers may differ from the card's only by float rounding (another batch split, another
# BLAS): a flipped argmax on a near-tie, at most a few of the 2,000 images.
TOLERANCE = 0.0025  # 5 images of 2,000
MAX_BYTES_SHAPES_AND_FASHION = 25_000_000
ISSUE_ROLLOUT = 0.90
ISSUE_POS_GAP = 0.3  # neighbour minus same-ring-far cosine


# --- the metric's definitions, on cases where the answer is known -------------------------------------------

def test_garment_pixel_rule():
    """A pixel is garment above GARMENT_THRESHOLD; a patch is on the garment when any pixel of its block is."""
    t = metrics.GARMENT_THRESHOLD
    images = np.zeros((1, 28, 28), np.uint8)
    images[0, 0, 0] = t  # at the threshold: background (the halo of faint values)
    images[0, 0, 3] = t + 1  # above: garment; patch (0, 1) on the 14x14 grid, (0, 0) on the 7x7 one
    images[0, 27, 27] = 255
    images[0, 10:12, 10:12] = 200  # one whole 2x2 block: patch (5, 5)
    pixels = metrics.garment_pixels(images)
    assert pixels.sum() == 6 and not pixels[0, 0, 0] and pixels[0, 0, 3]
    g14 = metrics.garment_patches(images, 14)
    assert g14.shape == (1, 14, 14)
    assert {tuple(p) for p in np.argwhere(g14[0])} == {(0, 1), (13, 13), (5, 5)}
    assert {tuple(p) for p in np.argwhere(metrics.full_garment_patches(images, 14)[0])} == {(5, 5)}
    g7 = metrics.garment_patches(images, 7)
    assert {tuple(p) for p in np.argwhere(g7[0])} == {(0, 0), (6, 6), (2, 2)}
    with pytest.raises(ValueError):
        metrics.garment_patches(images, 5)


def test_rollout_metric_on_a_known_case():
    """Two layers in which CLS attends only to one patch and every other token to itself: the rollout's CLS
    row is 1/4 on CLS and 3/4 on that patch, so that patch is the top one; the metric then counts a hit only
    on the image whose garment covers it."""
    grid, n_tok = 2, 5  # CLS + a 2x2 grid
    target = [3, 1]  # the patch CLS attends to, per image: (1, 0) and (0, 0)
    fused = torch.zeros(2, 2, n_tok, n_tok)  # L, B, N, N
    for b, patch in enumerate(target):
        fused[:, b] = torch.eye(n_tok)
        fused[:, b, 0] = 0
        fused[:, b, 0, patch] = 1.0
    readout = att.readout_weights(n_tok, 1, "cls")
    rows = att.readout_rollout(fused, readout)  # the app's rollout, as the metric uses it
    expected = torch.zeros(2, n_tok)
    expected[:, 0] = 0.25
    expected[0, 3] = expected[1, 1] = 0.75
    torch.testing.assert_close(rows, expected)
    maps = att.patch_columns(rows, (grid, grid)).numpy()
    top = metrics.top_patches(maps)
    assert top.tolist() == [[1, 0], [0, 0]]
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 14:, :14] = 255  # garment = the lower left quarter, patch (1, 0), in both images
    scores = metrics.rollout_scores(top, images, grid)
    assert scores["on_garment"].tolist() == [True, False] and scores["strict"].tolist() == [True, False]
    np.testing.assert_allclose(scores["chance"], [0.25, 0.25])


def test_served_and_28px_models_score_the_same():
    """The served model (224 px, RGB, patch 16) on enlarged input = the 28-px model: same predictions, same
    top rollout patches (so either gives the card's numbers)."""
    torch.manual_seed(0)
    config = fm.FashionConfig(grid=14, depth=2)
    small = fm.build(config).eval()
    from timm.models.vision_transformer import VisionTransformer
    big = VisionTransformer(**export.served_model_args(config)).eval()
    big.load_state_dict(export.served_state(small.state_dict(), config))
    images = np.random.default_rng(3).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    images[:, :, :8] = 0  # some background
    assert metrics.model_input(images, big).shape == (6, 3, 224, 224)
    a, b = metrics.score_images(small, images, batch=4), metrics.score_images(big, images, batch=4)
    for field in ("prediction", "top_patch", "on_garment", "strict", "chance"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    summary = metrics.summarise(a, np.zeros(6, np.int64))
    assert summary["n"] == 6 and list(summary["per_class_accuracy"]) == [data.CLASS_NAMES[0]]


def test_mirror_measure_sees_a_left_right_symmetric_code():
    """Position embeddings that depend on the row and on |column - midline| only: left-right mirrors are
    identical (cosine 1), up-down mirrors are not."""
    from timm.models.vision_transformer import VisionTransformer
    model = VisionTransformer(img_size=28, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depth=1,
                              num_heads=1)
    g = 14
    rows, half = torch.randn(g, 16), torch.randn(g // 2, 16)
    cols = torch.cat([half, half.flip(0)])  # column c and 13 - c share a code
    pos = torch.cat([rows[:, None].expand(g, g, 16), cols[None].expand(g, g, 16)], -1).reshape(g * g, 32)
    with torch.no_grad():
        model.pos_embed[0, 1:] = pos
    m = metrics.mirror_cos(model)
    assert m["left_right_mirror_cos"] == pytest.approx(1.0, abs=1e-4)
    assert m["up_down_mirror_cos"] < 0.9


# --- committed data -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def subset():
    return data.read_test_subset(SUBSET)


def test_committed_subset_is_stratified_and_documented(subset):
    split, idx = subset
    assert split.images.shape == (2000, 28, 28) and split.images.dtype == np.uint8
    assert np.bincount(split.labels, minlength=10).tolist() == [200] * 10
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < 10_000
    note = data.subset_note(SUBSET)
    assert "Zalando" in note and "MIT" in note and "t10k" in note
    assert SUBSET.stat().st_size < 1_200_000


@pytest.mark.skipif(not (data.DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_committed_subset_is_the_test_images_it_names(subset):
    split, idx = subset
    test = data.read_split("t10k")
    np.testing.assert_array_equal(split.images, test.images[idx])
    np.testing.assert_array_equal(split.labels, test.labels[idx])
    np.testing.assert_array_equal(idx, data.stratified_indices(test.labels, data.SUBSET_PER_CLASS))


def test_example_pictures_are_enlarged_test_images_under_their_licence(subset):
    split, idx = subset
    assert len(EXAMPLES) == 20
    seen = []
    from vitviz.core.images import load_image
    for path in EXAMPLES:
        m = re.fullmatch(r"fashion_(\d{4})_([a-z-]+)\.png", path.name)
        assert m, path.name
        i = int(m.group(1))
        row = int(np.flatnonzero(idx == i)[0])  # every example is one of the committed subset's images
        assert data.class_slug(int(split.labels[row])) == m.group(2)
        seen.append(int(split.labels[row]))
        picture = load_image(path)  # the app's loader: 224 px, no note about a tiny picture
        assert picture.image.size == (224, 224) and picture.notes == ()
        np.testing.assert_array_equal(np.asarray(picture.image)[..., 0], data.enlarge(split.images[row]))
    assert sorted(seen) == sorted(list(range(10)) * 2)
    licences = (ROOT / "vitviz" / "assets" / "examples" / "LICENSES.md").read_text()
    assert "Zalando SE" in licences and "fashion_" in licences and "chelsea_cat.jpg" in licences


# --- the exported model and its card (skip until it is exported) ---------------------------------------------

@pytest.fixture(scope="module")
def card():
    if not CARD.exists():
        pytest.skip(f"vitviz-fashion is not exported yet ({CARD} does not exist)")
    return json.loads(CARD.read_text())


@pytest.fixture(scope="module")
def loaded(card):
    import vitviz
    import vitviz.core.model as vm
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vm, "MODELS_DIR", MODEL_DIR)
        return vitviz.load_model("vitviz-fashion")


@pytest.fixture(scope="module")
def subset_scores(loaded, subset):
    split, _ = subset
    return metrics.score_images(loaded.model, split.images)


def test_loads_like_the_app_with_its_source_sentence(loaded, card):
    assert loaded.info.grid == (14, 14) and loaded.info.input_size == (3, 224, 224)
    assert loaded.class_names == list(data.CLASS_NAMES)
    assert card["data_summary"] in loaded.source and "Fashion-MNIST" in loaded.source


def test_the_apps_transform_is_the_nearest_enlargement(loaded, subset):
    """What the app feeds the model (timm's eval transform of the card's pretrained_cfg, on the RGB picture
    the image loader makes) is exactly `metrics.model_input`, for 28-px pictures and the 224-px examples."""
    from vitviz.core.images import load_image
    split, idx = subset
    images = split.images[:4]
    expected = metrics.model_input(images, loaded.model)
    for i, img in enumerate(images):
        x = loaded.transform(load_image(Image.fromarray(img, mode="L")).image)
        torch.testing.assert_close(x, expected[i], atol=1e-6, rtol=0)
        x224 = loaded.transform(load_image(Image.fromarray(data.enlarge(img), mode="L")).image)
        torch.testing.assert_close(x224, expected[i], atol=1e-6, rtol=0)


@pytest.mark.slow  # 2,000 forward passes and rollouts (~30 s)
def test_subset_accuracy_is_the_cards(card, subset, subset_scores):
    split, _ = subset
    got, want = metrics.summarise(subset_scores, split.labels), card["evaluation"]["test_subset"]
    assert got["n"] == want["n"] == 2000
    assert got["accuracy"] == pytest.approx(want["accuracy"], abs=TOLERANCE)
    for name, acc in want["per_class_accuracy"].items():
        assert got["per_class_accuracy"][name] == pytest.approx(acc, abs=0.01), name  # 2 of 200


@pytest.mark.slow  # 2,000 forward passes and rollouts (~30 s)
def test_subset_rollout_on_garment_is_the_cards(card, subset, subset_scores):
    split, _ = subset
    got, want = metrics.summarise(subset_scores, split.labels), card["evaluation"]["test_subset"]
    assert got["rollout_on_garment"] == pytest.approx(want["rollout_on_garment"], abs=TOLERANCE)
    assert got["rollout_strict"] == pytest.approx(want["rollout_strict"], abs=TOLERANCE)
    assert got["rollout_chance"] == pytest.approx(want["rollout_chance"], abs=1e-4)  # no model involved


def test_position_embeddings_are_a_2d_grid_as_the_card_says(loaded, card):
    pl = metrics.pos_locality(loaded.model)
    want = card["evaluation"]["pos_embed"]
    assert pl.pattern == "grid" == want["pattern"]
    assert pl.neighbour_cos == pytest.approx(want["neighbour_cos"], abs=1e-3)
    assert pl.same_ring_far_cos == pytest.approx(want["same_ring_far_cos"], abs=1e-3)


def test_card_meets_the_issue_targets(card):
    ev = card["evaluation"]
    assert ev["test"]["n"] == 10_000
    assert ev["test"]["rollout_on_garment"] >= ISSUE_ROLLOUT
    assert ev["pos_embed"]["neighbour_minus_same_ring_far"] >= ISSUE_POS_GAP
    assert ev["served_vs_28px_same_top_patches"] and ev["served_vs_28px_max_abs_logit_diff"] < 1e-3


def test_card_files_and_weight_budget(card):
    weights = MODEL_DIR / card["weights"]["file"]
    assert weights.stat().st_size == card["weights"]["bytes"]
    shapes = ROOT / "vitviz" / "assets" / "models" / "vitviz-shapes.safetensors"
    assert weights.stat().st_size + (shapes.stat().st_size if shapes.exists() else 0) <= MAX_BYTES_SHAPES_AND_FASHION
    assert (MODEL_DIR / "vitviz-fashion.md").exists()
    for key in ("png", "gif"):
        assert (MODEL_DIR / card["figure"][key]).exists()
