"""Explanation methods: one (gh, gw) map each, normalised alike, for every prefix-token layout."""
import threading

import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis import explain as ex
from vitviz.core.geometry import PatchGrid

# name → (timm name, kwargs): 1, 2, 5 and 0 prefix tokens, random init, as small as possible.
MODELS = {
    "cls": ("vit_tiny_patch16_224", dict(depth=2)),
    "cls+dist": ("deit_tiny_distilled_patch16_224", dict(depth=1, img_size=224)),
    # dinov2's pretrained_cfg says 518 px; the model is built at 224, so the config must say so too.
    "cls+4reg": ("vit_small_patch14_reg4_dinov2", dict(depth=1, img_size=224, num_classes=10,
                                                       pretrained_cfg_overlay=dict(input_size=(3, 224, 224)))),
    "avg": ("vit_medium_patch16_gap_256", dict(depth=1)),
}
PREFIX = {"cls": 1, "cls+dist": 2, "cls+4reg": 5, "avg": 0}
FAST = {"integrated_gradients": {"n_steps": 2, "internal_batch_size": 2}}


def all_hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module", params=list(MODELS))
def loaded(request):
    name, kwargs = MODELS[request.param]
    torch.manual_seed(0)
    return request.param, vitviz.load_model(name, pretrained=False, **kwargs)


@pytest.fixture(scope="module")
def small():
    """vit_tiny_patch16_224 with two blocks, random init."""
    torch.manual_seed(0)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)


@pytest.fixture(scope="module")
def maps(loaded):
    key, lm = loaded
    x = torch.randn(3, *lm.info.input_size[1:], generator=torch.Generator().manual_seed(1))
    return key, lm, ex.explain_all(lm, x, options=FAST)


def test_models_have_the_intended_prefix_tokens(loaded):
    key, lm = loaded
    assert lm.info.num_prefix_tokens == PREFIX[key]


@pytest.mark.parametrize("method", list(ex.METHODS))
def test_every_method_gives_a_finite_unit_range_patch_grid_map(maps, method):
    _, lm, results = maps
    m = results[method].map
    assert m.shape == lm.info.grid and m.dtype == np.float32
    assert np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1


def test_explain_all_leaves_no_hooks_and_no_gradients_on_the_shared_model(maps):
    _, lm, _ = maps
    assert all_hooks(lm.model) == 0
    assert all(not p.requires_grad and p.grad is None for p in lm.model.parameters())


def test_tokens_to_grid_drops_prefix_tokens_and_folds_row_major():
    num_prefix, grid, channels = 5, (3, 4), 2
    n = num_prefix + grid[0] * grid[1]
    # token n holds the value n in channel 0 and -n in channel 1
    tokens = torch.arange(n, dtype=torch.float32).view(1, n, 1) * torch.tensor([1.0, -1.0])
    out = ex.tokens_to_grid(tokens.expand(2, -1, -1), PatchGrid(grid, (16, 16), num_prefix))
    assert out.shape == (2, channels, *grid)
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    expected = (num_prefix + rows * grid[1] + cols).float()
    assert torch.equal(out[1, 0], expected) and torch.equal(out[0, 1], -expected)


def test_unit_range_maps_min_to_zero_and_max_to_one():
    out = ex.unit_range(np.array([[2.0, 4.0], [3.0, 6.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.25, 1.0]])
    assert out.dtype == np.float32


def test_unit_range_turns_a_constant_map_into_zeros():
    assert not ex.unit_range(np.full((3, 3), 7.0)).any()


def test_unit_range_treats_non_finite_entries_as_the_minimum():
    out = ex.unit_range(np.array([1.0, np.nan, 3.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0])


def test_per_patch_sums_absolute_attribution_over_channels_and_pixels():
    attr = torch.zeros(3, 4, 4)
    attr[0, 0, 0], attr[1, 0, 1] = 1.0, -3.0  # both in patch (0, 0): channel sum per pixel, then |·|
    attr[2, 3, 3] = -2.0  # patch (1, 1)
    assert torch.equal(ex.per_patch(attr, (2, 2)), torch.tensor([[4.0, 0.0], [0.0, 2.0]]))
    assert torch.equal(ex.per_patch(attr, (2, 2), sign="positive"), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def test_default_target_is_the_top_class(small):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    assert ex.explain(small, x, "cls_attention").target == int(small.model(x).argmax())


def test_explain_takes_an_image_like_analyze(small, photo):
    e = ex.explain(small, photo, "rollout", target=3)
    assert e.target == 3 and e.method == "rollout" and e.map.shape == (14, 14) and e.seconds > 0


def test_core_methods_share_one_capture(monkeypatch, small):
    calls = []
    real = ex.capture
    monkeypatch.setattr(ex, "capture", lambda *a, **k: calls.append(1) or real(*a, **k))
    ex.explain_all(small, torch.randn(3, 224, 224), target=0, methods=ex.CORE_METHODS)
    assert len(calls) == 1


def test_gradcam_follows_the_chosen_class(small):
    x = torch.randn(3, 224, 224, generator=torch.Generator().manual_seed(4))
    a, b = (ex.explain(small, x, "gradcam", target=t).map for t in (0, 1))
    assert not np.allclose(a, b)


def test_gradcam_ignores_another_threads_forward_pass_on_the_same_model(small):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    other = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    alone = ex.explain(small, x, "gradcam", target=0).map
    started = []

    def interfere(_module, _args):
        # In the middle of grad-cam's forward, another thread runs the same model to the end.
        if not started:
            started.append(True)
            with torch.no_grad():
                t = threading.Thread(target=small.model, args=(other,))
                t.start()
                t.join()

    handle = small.model.blocks[0].register_forward_pre_hook(interfere)
    try:
        disturbed = ex.explain(small, x, "gradcam", target=0).map
    finally:
        handle.remove()
    assert started and np.array_equal(disturbed, alone)
    assert all_hooks(small.model) == 0


def test_unknown_method_is_rejected(small):
    with pytest.raises(ValueError, match="unknown method"):
        ex.explain(small, torch.randn(3, 224, 224), "saliency", target=0)


def test_explain_takes_the_float_input_array_of_an_analysis(small, photo):
    analysis = vitviz.analyze(small, photo)
    from_array = ex.explain(small, analysis.input, "rollout", target=0).map
    np.testing.assert_allclose(from_array, ex.unit_range(analysis.rollout), atol=1e-6)
