"""The hooked forward pass: exact probabilities, unchanged logits, clean hooks, isolated threads."""
import copy
import threading

import pytest
import torch

import vitviz
from timm.layers import use_fused_attn

from vitviz.core.capture import capture


def all_hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def inputs(seed: int, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(seed))


def recomputed_attention(block, tokens_in: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ · scale) from the block's own weights, independent of the hooks."""
    attn = block.attn
    x = block.norm1(tokens_in)
    b, n, _ = x.shape
    qkv = attn.qkv(x).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    return (q @ k.transpose(-2, -1) * attn.scale).softmax(-1)


def test_captured_attention_equals_softmax_of_scaled_scores(tiny):
    with torch.no_grad():
        cap = capture(tiny.model, inputs(1, batch=2))
        for layer, block in enumerate(tiny.model.blocks):
            expected = recomputed_attention(block, cap.tokens[layer])
            torch.testing.assert_close(cap.attention[layer], expected, atol=1e-5, rtol=0)


def test_block_inputs_chain_from_recorded_embedding(tiny):
    with torch.no_grad():
        cap = capture(tiny.model, inputs(2))
        x = tiny.model.norm_pre(tiny.model._pos_embed(tiny.model.patch_embed(inputs(2))))
        torch.testing.assert_close(cap.tokens[0], x, atol=1e-6, rtol=0)
        for layer, block in enumerate(tiny.model.blocks):
            x = block(x)
            torch.testing.assert_close(cap.tokens[layer + 1], x, atol=1e-5, rtol=0)


def test_capture_leaves_logits_unchanged(tiny):
    x = inputs(3)
    with torch.no_grad():
        bare = tiny.model(x)
    assert torch.allclose(capture(tiny.model, x).logits, bare, atol=1e-5)


def test_capture_matches_fused_attention_model(tiny):
    fused = copy.deepcopy(tiny.model)
    for block in fused.blocks:
        block.attn.fused_attn = True
    x = inputs(4)
    with torch.no_grad():
        bare = fused(x)
    assert torch.allclose(capture(tiny.model, x).logits, bare, atol=1e-5)


def test_explicit_attention_is_per_instance(tiny):
    other = vitviz.load_model("vit_tiny_patch16_224", pretrained=False).model
    fresh = type(other)(embed_dim=64, depth=1, num_heads=2, img_size=32, patch_size=16, num_classes=3)
    assert fresh.blocks[0].attn.fused_attn == use_fused_attn()  # new models still get timm's default
    assert not other.blocks[0].attn.fused_attn


def test_hooks_removed_after_call(tiny):
    before = all_hooks(tiny.model)
    capture(tiny.model, inputs(5))
    assert all_hooks(tiny.model) == before


def test_hooks_removed_when_forward_raises(tiny):
    before = all_hooks(tiny.model)

    def explode(layer, probs):
        if layer == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        capture(tiny.model, inputs(6), on_attention=explode)
    assert all_hooks(tiny.model) == before
    assert len(capture(tiny.model, inputs(6)).attention) == tiny.info.depth


def test_concurrent_captures_on_one_model_stay_separate(tiny):
    seeds = [10, 11, 12, 13]
    expected = {s: capture(tiny.model, inputs(s)) for s in seeds}
    errors = []

    def worker(seed: int) -> None:
        for _ in range(5):
            got = capture(tiny.model, inputs(seed))
            if not (torch.allclose(got.logits, expected[seed].logits, atol=1e-5)
                    and len(got.attention) == tiny.info.depth
                    and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got.attention, expected[seed].attention))):
                errors.append(seed)

    threads = [threading.Thread(target=worker, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)


def test_attention_dtype_none_keeps_no_matrices(tiny):
    seen = []
    cap = capture(tiny.model, inputs(7), attention_dtype=None, on_attention=lambda l, a: seen.append(l))
    assert cap.attention == [] and seen == list(range(tiny.info.depth))


def test_position_embedding_added_equals_parameter(tiny):
    cap = capture(tiny.model, inputs(8))
    torch.testing.assert_close(cap.pos_embed, tiny.model.pos_embed[0], atol=1e-5, rtol=0)


def test_no_embed_class_prefix_gets_no_position():
    loaded = vitviz.load_model("deit3_small_patch16_224", pretrained=False, depth=2)
    cap = capture(loaded.model, inputs(9))
    assert torch.allclose(cap.pos_embed[:1], torch.zeros(1, 384), atol=1e-6)
    torch.testing.assert_close(cap.pos_embed[1:], loaded.model.pos_embed[0], atol=1e-5, rtol=0)


def test_position_embedding_resampled_for_other_input_size():
    from timm.layers import resample_abs_pos_embed
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, dynamic_img_size=True)
    x = torch.randn(1, 3, 160, 192)
    cap = capture(loaded.model, x)
    expected = resample_abs_pos_embed(loaded.model.pos_embed, new_size=(10, 12), old_size=(14, 14), num_prefix_tokens=1)
    assert cap.pos_embed.shape == (1 + 10 * 12, 192)
    torch.testing.assert_close(cap.pos_embed, expected[0], atol=1e-5, rtol=0)


def test_gelu_share_is_a_fraction_per_layer(tiny):
    cap = capture(tiny.model, inputs(10))
    assert cap.gelu_near_zero.shape == (tiny.info.depth, 1)
    assert ((cap.gelu_near_zero >= 0) & (cap.gelu_near_zero <= 1)).all()


def test_attention_gradients_match_autograd_of_explicit_recomputation(tiny):
    """d logit_c / d A_l via hooks equals the gradient through a hand-written forward."""
    model = tiny.model
    x = inputs(11)
    cap = capture(model, x, target_class=7)
    leaves = []
    with torch.enable_grad():
        t = model.norm_pre(model._pos_embed(model.patch_embed(x.clone().requires_grad_(True))))
        for block in model.blocks:
            a = recomputed_attention(block, t)
            leaves.append(a)
            attn = block.attn
            h = block.norm1(t)
            b, n, c = h.shape
            v = attn.qkv(h).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)[2]
            out = attn.proj((a @ v).transpose(1, 2).reshape(b, n, c))
            t = t + block.ls1(out)
            t = t + block.ls2(block.mlp(block.norm2(t)))
        logit = model.forward_head(model.norm(t))[0, 7]
        grads = torch.autograd.grad(logit, leaves)
    for got, want in zip(cap.attention_grads, grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-3)


def test_deadline_stops_the_pass_and_removes_hooks(tiny):
    import time
    from vitviz.core.capture import CaptureTimeout
    before = all_hooks(tiny.model)
    with pytest.raises(CaptureTimeout, match="time limit after block 1 of 12"):
        capture(tiny.model, inputs(12), deadline=time.monotonic() - 1)
    assert all_hooks(tiny.model) == before


def test_generous_deadline_changes_nothing(tiny):
    import time
    x = inputs(13)
    assert torch.equal(capture(tiny.model, x, deadline=time.monotonic() + 600).logits, capture(tiny.model, x).logits)
