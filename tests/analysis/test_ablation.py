"""Ablation: a head's output replaced before the block's output projection; a patch's token dropped from the sequence."""
import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis.ablation import ablate, ablated_logits, head_importance, head_mask, heads_off


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(1)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=3)


@pytest.fixture(scope="module")
def x(small, photo):
    from PIL import Image
    return small.transform(Image.fromarray(photo)).float()


def test_ablating_nothing_gives_the_normal_logits(small, x):
    with torch.no_grad():
        normal = small.model(x.unsqueeze(0))[0]
    torch.testing.assert_close(ablated_logits(small, x, []), normal)


def test_every_head_of_a_layer_off_equals_the_block_without_its_attention_branch(small, x):
    """Independent forward: block 1 keeps only its projection's bias on the attention branch."""
    m = small.model
    with torch.no_grad():
        h = m.patch_drop(m._pos_embed(m.patch_embed(x.unsqueeze(0))))
        h = m.norm_pre(h)
        h = m.blocks[0](h)
        b = m.blocks[1]
        h = h + b.ls1(b.attn.proj.bias)  # every head's output is zero, the bias is not a head's
        h = h + b.ls2(b.mlp(b.norm2(h)))
        h = m.blocks[2](h)
        expected = m.forward_head(m.norm(h))[0]
    heads = [(1, hd) for hd in range(small.info.num_heads)]
    torch.testing.assert_close(ablated_logits(small, x, heads), expected, rtol=1e-4, atol=1e-5)


def test_mean_ablation_replaces_a_head_by_its_average_over_the_patch_tokens():
    from vitviz.analysis.ablation import _ablate

    x = torch.randn(1, 5, 6)  # 1 prefix + 4 patches; 3 heads of width 2
    out = _ablate(x, torch.tensor([[False, True, False]]), head_dim=2, num_prefix=1, mode="mean")
    torch.testing.assert_close(out[0, :, 2:4], x[0, 1:, 2:4].mean(0, keepdim=True).expand(5, 2))
    torch.testing.assert_close(out[..., :2], x[..., :2])
    torch.testing.assert_close(out[..., 4:], x[..., 4:])


def test_head_importance_is_the_log_probability_drop_of_each_head_alone(small, x):
    calls = []
    drops = head_importance(small, x, batch=4, progress=calls.append)
    assert drops.shape == (3, 3) and calls[-1] == 1.0
    with torch.no_grad():
        base = small.model(x.unsqueeze(0))[0].log_softmax(-1)
    top = int(base.argmax())
    one = ablated_logits(small, x, [(2, 1)]).log_softmax(-1)[top]
    assert drops[2, 1] == pytest.approx(float(base[top] - one), abs=1e-4)


def test_head_importance_with_patches_off_measures_both_sides_without_their_tokens(small, x):
    off = [0, 7, 100]
    drops = head_importance(small, x, batch=5, patches=off)
    base = ablated_logits(small, x, [], patches=off).log_softmax(-1)
    top = int(base.argmax())
    one = ablated_logits(small, x, [(1, 2)], patches=off).log_softmax(-1)[top]
    assert drops[1, 2] == pytest.approx(float(base[top] - one), abs=1e-4)
    assert not np.allclose(drops, head_importance(small, x, batch=5))


def test_the_ablated_models_rollout_comes_from_its_own_forward(small, photo):
    normal = vitviz.analyze(small, photo)
    with heads_off(small, head_mask(small, [(0, 0), (0, 1), (0, 2)])):
        ablated = vitviz.analyze(small, photo)
    np.testing.assert_allclose(ablated.attention[0], normal.attention[0], atol=1e-6)  # layer 1's own attention
    assert not np.allclose(ablated.attention[1], normal.attention[1])  # later layers see the change
    assert not np.allclose(ablated.rollout, normal.rollout)


def test_a_head_outside_the_model_is_refused(small):
    with pytest.raises(ValueError):
        head_mask(small, [(3, 0)])


# --------------------------------------------------------------------------- patches switched off

def _by_hand(m, x, keep, attention_off_in=None):
    """timm's modules run one by one on [CLS + position] ‖ [kept patch tokens + their positions];
    block `attention_off_in` keeps only its projection's bias on the attention branch.
    → (logits (K,), every block's attention probabilities L × (H, n, n))."""
    assert m.global_pool == "token" and not m.no_embed_class
    with torch.no_grad():
        seq = torch.cat([m.cls_token, m.patch_embed(x.unsqueeze(0))], dim=1) + m.pos_embed  # 1, N, C
        h = m.norm_pre(seq[:, torch.cat([torch.tensor([0]), torch.as_tensor(keep) + 1])])  # 1, n, C
        probs = []
        for i, b in enumerate(m.blocks):
            n, a = h.shape[1], b.attn
            q, k, _ = a.qkv(b.norm1(h)).reshape(1, n, 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4)
            probs.append(((q * a.scale) @ k.transpose(-2, -1)).softmax(-1)[0])  # H, n, n
            if i == attention_off_in:
                h = h + b.ls1(a.proj.bias)
                h = h + b.ls2(b.mlp(b.norm2(h)))
            else:
                h = b(h)
        return m.head(m.norm(h)[:, 0])[0], probs


def test_switching_no_patch_off_gives_the_normal_logits_and_rollout(small, x, photo):
    normal = vitviz.analyze(small, photo)
    out = ablate(small, x)
    torch.testing.assert_close(torch.from_numpy(out.logits), torch.from_numpy(normal.logits))
    np.testing.assert_allclose(out.rollout, normal.rollout, rtol=1e-5, atol=1e-7)
    assert out.kept.all()


def test_switched_off_patches_are_dropped_from_the_sequence_after_the_position_embedding(small, x):
    off = [0, 5, 17, 100, 195]
    keep = np.setdiff1d(np.arange(small.info.num_patches), off)
    expected, _ = _by_hand(small.model, x, keep)
    torch.testing.assert_close(torch.from_numpy(ablate(small, x, patches=off).logits), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ablated_logits(small, x, [], patches=off), expected, rtol=1e-4, atol=1e-5)


def test_heads_and_patches_switched_off_together(small, x):
    off = [3, 4, 60]
    keep = np.setdiff1d(np.arange(small.info.num_patches), off)
    expected, _ = _by_hand(small.model, x, keep, attention_off_in=1)
    heads = [(1, hd) for hd in range(small.info.num_heads)]
    torch.testing.assert_close(torch.from_numpy(ablate(small, x, heads, off).logits), expected, rtol=1e-4, atol=1e-5)


def test_the_ablated_rollout_is_the_rollout_of_the_ablated_attention_with_removed_patches_at_zero(small, x):
    from vitviz.analysis import attention as att

    off = [0, 1, 14, 15, 90]
    kept = np.ones(small.info.num_patches, dtype=bool)
    kept[off] = False
    _, probs = _by_hand(small.model, x, np.flatnonzero(kept))
    fused = att.fuse_heads(torch.stack(probs), "max")  # L, n, n
    expected = att.model_rollout(fused, small.info, 0.2, num_tokens=fused.shape[-1])[small.info.num_prefix_tokens:]
    out = ablate(small, x, patches=off, fusion="max", discard_ratio=0.2)
    assert (out.rollout.ravel()[off] == 0).all() and not out.kept.ravel()[off].any()
    np.testing.assert_allclose(out.rollout.ravel()[kept], expected.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_a_switched_off_head_enters_the_rollout_with_the_mixing_it_still_applies(small, x, mode):
    """Zero: no mixing at all; mean: every token gets the mean of the patch tokens (a row uniform
    over the patch columns). Heads on keep their own attention."""
    from vitviz.analysis import attention as att

    off = [3, 50]
    keep = np.setdiff1d(np.arange(small.info.num_patches), off)
    with heads_off(small, head_mask(small, [(1, 0), (2, 2)]), mode):
        _, probs = _by_hand(small.model, x, keep)  # the attention of heads on is computed as usual
    n = len(keep) + 1
    applied = [p.clone() for p in probs]
    for layer, head in [(1, 0), (2, 2)]:
        applied[layer][head] = 0.0
        if mode == "mean":
            applied[layer][head][:, 1:] = 1.0 / (n - 1)
    fused = att.fuse_heads(torch.stack(applied), "mean")
    expected = att.model_rollout(fused, small.info, num_tokens=n)[1:]
    out = ablate(small, x, [(1, 0), (2, 2)], off, mode=mode)
    np.testing.assert_allclose(out.rollout.ravel()[keep], expected.numpy(), rtol=1e-4, atol=1e-6)


def test_a_patch_outside_the_grid_is_refused(small, x):
    with pytest.raises(ValueError):
        ablate(small, x, patches=[small.info.num_patches])


@pytest.mark.parametrize("batch", [3, 5, 9])
def test_every_head_importance_is_that_head_alone_off_however_the_ablations_are_batched(small, x, batch):
    """Batches of 3 hold one layer each; of 5 and 9 they mix layers (rows join at their own block)."""
    with torch.no_grad():
        base = small.model(x.unsqueeze(0))[0].log_softmax(-1)
    top = int(base.argmax())
    L, H = small.info.depth, small.info.num_heads
    expected = np.array([[float(base[top] - ablated_logits(small, x, [(l, h)]).log_softmax(-1)[top])
                          for h in range(H)] for l in range(L)])
    np.testing.assert_allclose(head_importance(small, x, batch=batch), expected, atol=1e-4)
