"""Attention rollout for every head fusion and discard ratio at once."""
import numpy as np
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



def test_rollout_variants_break_ties_by_position_as_discard_lowest_does(tiny_analysis):
    a = tiny_analysis
    attn = (torch.from_numpy(a.attention).float() * 16).round() / 16  # coarse values: many ties at every threshold
    variants = att.rollout_variants(attn, a.info, discards=(0.3, 0.6, 0.9))
    for f, fusion in enumerate(att.FUSIONS):
        for d, ratio in enumerate((0.3, 0.6, 0.9)):
            expected = att.model_rollout(att.fuse_heads(attn, fusion), a.info, ratio)
            torch.testing.assert_close(variants[f, d], expected, rtol=1e-4, atol=1e-6)


def test_kept_by_rank_drops_the_k_smallest_in_stable_sort_order():
    values = np.array([3.0, 1.0, 2.0, 1.0, 2.0, 1.0])
    rank = np.empty(6, int)
    rank[np.argsort(values, kind="stable")] = np.arange(6)
    ks = np.arange(6)
    np.testing.assert_array_equal(att.kept_by_rank(values, ks), rank[None] >= ks[:, None])

def test_the_readout_row_carried_as_a_vector_equals_the_row_of_the_full_rollout_product():
    torch.manual_seed(0)
    fused = torch.rand(4, 10, 10).softmax(-1)
    for readout in (att.readout_weights(10, 1, "cls"), att.readout_weights(10, 1, "avg")):
        for ratio in (0.0, 0.3, 0.9):
            expected = att.readout_rows(att.rollout(fused, ratio), readout)  # R = Ã_L ⋯ Ã_1, then its row
            torch.testing.assert_close(att.readout_rollout(fused, readout, ratio), expected)


def test_the_vector_rollout_takes_a_batch_or_a_list_of_layers():
    torch.manual_seed(1)
    fused = torch.rand(3, 2, 8, 8).softmax(-1)  # L, B, N, N
    readout = att.readout_weights(8, 1, "cls")
    batch = att.readout_rollout(fused, readout)
    for b in range(2):
        torch.testing.assert_close(batch[b], att.readout_rows(att.rollout(fused[:, b]), readout))
    torch.testing.assert_close(att.readout_rollout(list(fused), readout), batch)
