"""Attention rollout for every head fusion and discard ratio at once."""
import torch

from vitviz.analysis import attention as att


def test_rollout_variants_equal_model_rollout_for_every_fusion_and_discard_ratio(tiny_analysis):
    a = tiny_analysis
    attn = torch.from_numpy(a.attention)
    variants = att.rollout_variants(attn, a.info)
    assert variants.shape == (3, 20, a.info.num_tokens)
    for f, fusion in enumerate(att.FUSIONS):
        for d, ratio in enumerate(att.discard_steps()):
            expected = att.model_rollout(att.fuse_heads(attn, fusion), a.info, ratio)
            torch.testing.assert_close(variants[f, d], expected, rtol=1e-4, atol=1e-6)
