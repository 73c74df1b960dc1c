"""Head ablation: a head's output replaced before the block's output projection."""
import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis.ablation import ablated_logits, head_importance, head_mask, heads_off


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
