"""The attention maths, each checked against a straightforward reference written with loops."""
import numpy as np
import pytest
import torch

from vitviz.analysis import attention as att
from vitviz.analysis.embeddings import embedding_filter_components, pos_embed_similarity
from vitviz.core.geometry import PatchGrid


def random_attention(layers=4, heads=3, n=10, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(layers, heads, n, n, generator=g).mul(2).softmax(-1)


def reference_rollout(attn: np.ndarray, fusion: str, discard: float) -> np.ndarray:
    """Abnar & Zuidema, written out plainly with numpy and loops."""
    n = attn.shape[-1]
    result = np.eye(n)
    for layer in attn:
        fused = {"mean": layer.mean(0), "max": layer.max(0), "min": layer.min(0)}[fusion].copy()
        k = int(n * n * discard)
        if k:
            flat = fused.flatten()
            candidates = [i for i in np.argsort(flat, kind="stable") if i != 0]
            for i in candidates[:k]:
                flat[i] = 0.0
            fused = flat.reshape(n, n)
        a = (fused + np.eye(n)) / 2
        for i in range(n):
            a[i] = a[i] / a[i].sum()
        result = a @ result
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_matches_reference(fusion, discard):
    attn = random_attention()
    got = att.rollout(att.fuse_heads(attn.double(), fusion), discard)
    np.testing.assert_allclose(got.numpy(), reference_rollout(attn.double().numpy(), fusion, discard), atol=1e-12)


def test_rollout_rows_sum_to_one():
    r = att.rollout(att.fuse_heads(random_attention(), "max"), 0.7)
    np.testing.assert_allclose(r.sum(-1).numpy(), 1.0, atol=1e-5)


def test_residual_step_normalises_rows_not_columns():
    a = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.0, 0.0], [0.5, 0.25, 0.25]], dtype=torch.float64)
    step = att.residual_step(a)
    np.testing.assert_allclose(step.sum(-1).numpy(), 1.0)
    assert not np.allclose(step.sum(0).numpy(), 1.0)
    np.testing.assert_allclose(step[1].numpy(), [0.0, 1.0, 0.0])  # an all-discarded row keeps itself


def test_discard_never_drops_cls_to_cls():
    fused = torch.full((5, 5), 0.5)
    fused[0, 0] = 0.0  # the smallest entry of all
    out = att.discard_lowest(fused.clone(), 0.5)
    assert out[0, 0] == 0.0 and int((out == 0).sum()) == int(25 * 0.5) + 1
    fused[0, 0] = 1e-9
    assert att.discard_lowest(fused.clone(), 0.5)[0, 0] == 1e-9


def test_discard_zero_is_identity():
    fused = att.fuse_heads(random_attention())[0]
    assert torch.equal(att.discard_lowest(fused, 0.0), fused)


def test_fuse_heads_rejects_unknown_fusion():
    with pytest.raises(ValueError):
        att.fuse_heads(random_attention(), "median")


def test_head_rollout_matches_reference():
    attn = random_attention(layers=3, heads=2, n=7).double()
    readout = att.readout_weights(7, 1, "cls").double()
    got = att.head_rollout(attn, readout).numpy()
    a = attn.numpy()
    n = 7
    for l in range(3):
        before = reference_rollout(a[:l], "mean", 0.0) if l else np.eye(n)
        for h in range(2):
            step = (a[l, h] + np.eye(n)) / 2
            step = step / step.sum(1, keepdims=True)
            np.testing.assert_allclose(got[l, h], (step @ before)[0], atol=1e-12)


def test_head_rollout_of_first_layer_is_half_attention_plus_self():
    attn = random_attention(layers=1, heads=2, n=5).double()
    got = att.head_rollout(attn, att.readout_weights(5, 1, "cls").double())
    expected = attn[0, :, 0, :] / 2
    expected[:, 0] += 0.5
    np.testing.assert_allclose(got[0].numpy(), expected.numpy(), atol=1e-12)


def test_relevance_matches_reference():
    attn = random_attention(layers=3, heads=2, n=6).double()
    grads = torch.randn(attn.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = att.relevance(attn, grads).numpy()
    r = np.eye(6)
    for l in range(3):
        cam = np.mean([np.maximum(grads[l, h].numpy() * attn[l, h].numpy(), 0) for h in range(2)], axis=0)
        r = r + cam @ r
    np.testing.assert_allclose(got, r, atol=1e-12)


def test_relevance_with_zero_gradients_is_identity():
    attn = random_attention(layers=2, heads=2, n=4)
    assert torch.equal(att.relevance(attn, torch.zeros_like(attn)), torch.eye(4))


def test_readout_weights():
    assert att.readout_weights(5, 1, "cls").tolist() == [1, 0, 0, 0, 0]
    avg = att.readout_weights(6, 2, "avg")
    assert avg[:2].sum() == 0 and torch.isclose(avg.sum(), torch.tensor(1.0))


def test_patch_columns_drops_prefix_and_folds_row_major():
    rows = torch.arange(2 + 6).float()  # 2 prefix tokens, 2×3 grid
    assert att.patch_columns(rows, (2, 3)).tolist() == [[2, 3, 4], [5, 6, 7]]


def reference_distance(attn: np.ndarray, grid: PatchGrid) -> np.ndarray:
    gh, gw = grid.grid
    ph, pw = grid.patch_size
    p0 = grid.num_prefix
    out = np.zeros(attn.shape[0])
    for h in range(attn.shape[0]):
        total = 0.0
        for i in range(gh * gw):
            ri, ci = divmod(i, gw)
            w = attn[h, p0 + i, p0:]
            w = w / w.sum()
            total += sum(w[j] * np.hypot((ri - j // gw) * ph, (ci - j % gw) * pw) for j in range(gh * gw))
        out[h] = total / (gh * gw)
    return out


def test_attention_distance_matches_reference():
    grid = PatchGrid((3, 4), (16, 8), num_prefix=2)
    attn = random_attention(layers=1, heads=2, n=2 + 12)[0].double()
    got = att.attention_distance(attn, grid).numpy()
    np.testing.assert_allclose(got, reference_distance(attn.numpy(), grid), rtol=1e-5)


def test_attention_distance_of_self_attention_is_zero():
    grid = PatchGrid((4, 4), (16, 16), num_prefix=1)
    attn = torch.eye(17).expand(2, 17, 17)
    assert torch.allclose(att.attention_distance(attn, grid), torch.zeros(2))


def test_pos_embed_similarity_is_cosine_similarity():
    pos = torch.randn(6, 8, generator=torch.Generator().manual_seed(2))
    got = pos_embed_similarity(pos, (2, 3)).numpy()
    p = pos.numpy()
    for i in range(6):
        for j in range(6):
            cos = p[i] @ p[j] / np.linalg.norm(p[i]) / np.linalg.norm(p[j])
            assert got[i].flatten()[j] == pytest.approx(cos, abs=1e-6)
    np.testing.assert_allclose([got[i].flatten()[i] for i in range(6)], 1.0, atol=1e-6)


def test_filter_components_are_principal_directions():
    w = torch.randn(32, 3, 4, 4, generator=torch.Generator().manual_seed(3))
    tiles = embedding_filter_components(w, k=5)
    assert tiles.shape == (5, 4, 4, 3) and tiles.min() >= 0 and tiles.max() <= 1
    flat = w.numpy().reshape(32, -1)
    _, _, vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    for i in range(5):
        v = vt[i].reshape(3, 4, 4).transpose(1, 2, 0)
        scaled = [(s - s.min()) / (s.max() - s.min()) for s in (v, -v)]  # sign is arbitrary
        assert min(np.abs(tiles[i].numpy() - s).max() for s in scaled) < 1e-4


def test_patch_grid_index_round_trip():
    grid = PatchGrid((3, 5), (16, 16), num_prefix=2)
    for r in range(3):
        for c in range(5):
            assert grid.token_position(grid.token_index(r, c)) == (r, c)
    assert grid.token_position(0) is None and grid.token_position(1) is None
    with pytest.raises(IndexError):
        grid.token_index(3, 0)


def test_patch_grid_boxes_tile_the_image():
    grid = PatchGrid((2, 3), (8, 10), num_prefix=1)
    boxes = grid.boxes()
    assert boxes.tolist()[0] == [0, 0, 10, 8] and boxes.tolist()[-1] == [20, 8, 30, 16]
    assert ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sum() == 16 * 30


def test_patch_at_pixel():
    grid = PatchGrid((14, 14), (16, 16), num_prefix=1)
    assert grid.patch_at_pixel(0, 0) == (0, 0)
    assert grid.patch_at_pixel(17, 33) == (2, 1)
    assert grid.patch_at_pixel(500, -3) == (0, 13)


def test_readout_residual_rows_equals_readout_of_residual_step():
    attn = random_attention(layers=2, heads=3, n=9).double()
    for readout in (att.readout_weights(9, 1, "cls"), att.readout_weights(9, 2, "avg")):
        expected = att.readout_rows(att.residual_step(attn), readout.double())
        torch.testing.assert_close(att.readout_residual_rows(attn, readout.double()), expected)


def test_discard_breaks_ties_by_position():
    fused = torch.tensor([[0.5, 0.1, 0.1], [0.1, 0.1, 0.9], [0.3, 0.1, 0.2]])
    out = att.discard_lowest(fused, 3 / 9)  # 5 entries tie at 0.1: the first three go
    assert out.flatten().tolist() == pytest.approx([0.5, 0, 0, 0, 0.1, 0.9, 0.3, 0.1, 0.2])
