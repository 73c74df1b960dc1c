"""PatchGrid: sequence indices, folding and pixel boxes of patch tokens."""
import numpy as np
import torch

from vitviz.core.geometry import PatchGrid, patch_coordinates
from vitviz.core.images import denormalise, normalise_pixels


def test_patch_tokens_and_token_indices_skip_the_prefix():
    g = PatchGrid((3, 4), (16, 16), num_prefix=2)
    assert g.num_tokens == 14 and g.patch_tokens == slice(2, 14)
    seq = torch.arange(14)
    assert torch.equal(seq[g.patch_tokens], torch.arange(2, 14))
    assert torch.equal(g.token_indices(torch.tensor([0, 5, 11])), torch.tensor([2, 7, 13]))
    assert [g.token_index(*divmod(p, 4)) for p in (0, 5, 11)] == [2, 7, 13]


def test_fold_is_row_major_for_arrays_and_tensors():
    g = PatchGrid((2, 3), (8, 8), num_prefix=1)
    np.testing.assert_array_equal(g.fold(np.arange(6)), [[0, 1, 2], [3, 4, 5]])
    assert torch.equal(g.fold(torch.arange(12).view(2, 6))[1], torch.tensor([[6, 7, 8], [9, 10, 11]]))
    rows, cols = patch_coordinates((2, 3))
    assert rows.tolist() == [0, 0, 0, 1, 1, 1] and cols.tolist() == [0, 1, 2, 0, 1, 2]


def test_normalise_pixels_is_timms_normalize_and_denormalise_inverts_it():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = normalise_pixels(images, mean, std)
    assert x.shape == (2, 3, 5, 7) and x.dtype == torch.float32
    want = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean).view(3, 1, 1)) \
        / torch.tensor(std).view(3, 1, 1)
    assert torch.equal(x, want)
    assert torch.equal(normalise_pixels(images[1], mean, std), x[1])
    np.testing.assert_array_equal(denormalise(x[0], mean, std), images[0])
