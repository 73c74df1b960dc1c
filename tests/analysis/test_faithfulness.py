"""Deletion/insertion curves, the token-dropping forward and "what if"."""
import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis import explain as ex
from vitviz.analysis import faithfulness as fa

TOKEN_MODELS = {  # prefix tokens → (timm name, kwargs)
    0: ("vit_medium_patch16_gap_256", dict(depth=1)),
    1: ("vit_tiny_patch16_224", dict(depth=2)),
    2: ("deit_tiny_distilled_patch16_224", dict(depth=1, img_size=224)),
    5: ("vit_small_patch14_reg4_dinov2", dict(depth=1, img_size=224, num_classes=10,
                                              pretrained_cfg_overlay=dict(input_size=(3, 224, 224)))),
}


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)


def image(seed: int, size: int = 224, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("num_prefix", sorted(TOKEN_MODELS))
def test_keeping_every_token_reproduces_the_logits(num_prefix):
    name, kwargs = TOKEN_MODELS[num_prefix]
    torch.manual_seed(0)
    lm = vitviz.load_model(name, pretrained=False, **kwargs)
    assert lm.info.num_prefix_tokens == num_prefix
    x = image(1, lm.info.input_size[1], batch=2)
    with torch.no_grad():
        full = lm.model(x)
        kept = fa.forward_with_tokens(lm.model, x, torch.arange(lm.info.num_patches))
    torch.testing.assert_close(kept, full, atol=1e-5, rtol=0)


def test_dropping_tokens_changes_the_logits(small):
    x = image(2)
    with torch.no_grad():
        assert not torch.allclose(fa.forward_with_tokens(small.model, x, torch.arange(100)), small.model(x), atol=1e-4)


def test_per_image_keep_matches_one_image_at_a_time(small):
    x = image(3, batch=2)
    keep = torch.stack([torch.arange(0, 196, 2), torch.arange(1, 196, 2)])
    with torch.no_grad():
        both = fa.forward_with_tokens(small.model, x, keep)
        one = torch.cat([fa.forward_with_tokens(small.model, x[i:i + 1], keep[i]) for i in range(2)])
    torch.testing.assert_close(both, one, atol=1e-5, rtol=0)


def test_auc_of_a_straight_line_from_one_to_zero_is_a_half():
    assert fa.auc(np.array([0, 0.25, 0.5, 1.0]), np.array([1.0, 0.75, 0.5, 0.0])) == pytest.approx(0.5)


def test_auc_uses_the_trapezoid_rule_on_uneven_steps():
    # (0→0.2: (1+0)/2·0.2 = 0.1) + (0.2→1: (0+1)/2·0.8 = 0.4)
    assert fa.auc(np.array([0, 0.2, 1.0]), np.array([1.0, 0.0, 1.0])) == pytest.approx(0.5)


def test_auc_rescales_fractions_to_the_unit_interval():
    assert fa.auc(np.array([0, 10]), np.array([0.2, 0.2])) == pytest.approx(0.2)


def test_step_counts_go_from_none_to_all_patches():
    np.testing.assert_array_equal(fa.step_counts(196, 4), [0, 49, 98, 147, 196])


def test_patch_order_ranks_the_highest_score_first():
    np.testing.assert_array_equal(fa.patch_order(np.array([[0.1, 0.9], [0.5, 0.9]])), [1, 3, 2, 0])


def test_deletion_removes_top_patches_and_insertion_reveals_them():
    order, counts = np.array([2, 0, 1]), np.array([0, 1, 3])
    np.testing.assert_array_equal(fa.present_sets(order, counts, "deletion"),
                                  [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(fa.present_sets(order, counts, "insertion"),
                                  [[0, 0, 0], [0, 0, 1], [1, 1, 1]])


def test_pixel_mask_covers_exactly_the_present_patches():
    present = torch.tensor([[True, False, False, True]])
    mask = fa.pixel_mask(present, (2, 2), (3, 3), (6, 6))[0, 0]
    assert mask[:3, :3].all() and not mask[:3, 3:].any() and not mask[3:, :3].any() and mask[3:, 3:].all()


@pytest.mark.parametrize("mode", fa.MODES)
def test_curves_start_from_the_intact_input_and_end_with_everything_removed(small, mode):
    x = image(4)
    target = 5
    with torch.no_grad():
        intact = small.model(x).softmax(-1)[0, target].item()
        if mode == "pixels":
            empty = small.model(torch.zeros_like(x)).softmax(-1)[0, target].item()
        else:
            empty = fa.forward_with_tokens(small.model, x, torch.zeros(0, dtype=torch.long)).softmax(-1)[0, target].item()
    score = np.random.default_rng(0).random((14, 14))
    deletion, insertion = fa.curves(small, x, {"m": score}, target, modes=(mode,), steps=4)
    assert (deletion.kind, insertion.kind) == ("deletion", "insertion")
    assert deletion.probs[0] == pytest.approx(intact, abs=1e-5) and deletion.probs[-1] == pytest.approx(empty, abs=1e-5)
    assert insertion.probs[0] == pytest.approx(empty, abs=1e-5) and insertion.probs[-1] == pytest.approx(intact, abs=1e-5)
    np.testing.assert_allclose(deletion.fractions, [0, 0.25, 0.5, 0.75, 1.0], atol=0.01)
    assert deletion.auc == pytest.approx(fa.auc(deletion.fractions, deletion.probs))


def test_token_curve_of_an_average_pooling_model_ends_at_chance():
    torch.manual_seed(0)
    name, kwargs = TOKEN_MODELS[0]
    lm = vitviz.load_model(name, pretrained=False, **kwargs)
    c = fa.curve(lm, image(5, 256), np.zeros((16, 16)), 0, kind="deletion", mode="tokens", steps=2)
    assert c.probs[-1] == pytest.approx(1 / lm.info.num_classes)


def test_progress_is_reported_up_to_one(small):
    seen = []
    fa.curves(small, image(6), {"a": np.eye(14), "b": np.ones((14, 14))}, 0, steps=2, batch_size=2,
              progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 2


def test_what_if_with_nothing_dropped_matches_the_full_model(small):
    x = image(7)[0]
    w = fa.what_if(small, x)
    with torch.no_grad():
        np.testing.assert_allclose(w.probs, small.model(x[None]).softmax(-1)[0].numpy(), atol=1e-5)
    full = ex.rollout_map(ex.make_context(small, x, target=0)).numpy()
    np.testing.assert_allclose(w.rollout, full, atol=1e-6)


def test_what_if_marks_dropped_patches_as_nan(small):
    w = fa.what_if(small, image(8)[0], drop={0, 15, 195})
    assert np.isnan(w.rollout).sum() == 3 and np.isnan(w.rollout[0, 0]) and np.isnan(w.rollout[1, 1])
    assert not w.kept[13, 13] and w.kept.sum() == 193 and w.probs.sum() == pytest.approx(1, abs=1e-5)


def test_what_if_keep_only_keeps_just_those_patches(small):
    w = fa.what_if(small, image(9)[0], keep_only=[3, 4])
    assert w.kept.sum() == 2 and np.isfinite(w.rollout).sum() == 2


def test_a_batch_of_images_gives_the_curves_of_each_image_alone(small):
    x = image(10, batch=2)
    maps = [{"a": np.eye(14)}, {"a": np.fliplr(np.eye(14)), "b": np.ones((14, 14))}]
    together = fa.curves_batch(small, x, maps, [1, 2], modes=fa.MODES, steps=3)
    for b in range(2):
        alone = fa.curves(small, x[b], maps[b], [1, 2][b], modes=fa.MODES, steps=3)
        assert [(c.method, c.mode, c.kind) for c in together[b]] == [(c.method, c.mode, c.kind) for c in alone]
        for c, d in zip(together[b], alone):
            np.testing.assert_allclose(c.probs, d.probs, atol=1e-5)
