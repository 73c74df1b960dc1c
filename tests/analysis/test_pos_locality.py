"""`embeddings.pos_locality`: what a grid of position embeddings encodes, told apart by pair similarities."""
import numpy as np
import pytest
import torch

from vitviz.analysis.embeddings import pos_embed_similarity, pos_locality

G = 14
YY, XX = np.mgrid[0:G, 0:G]


def _locality(features: list[np.ndarray]):
    pe = torch.tensor(np.stack(features, -1).reshape(G * G, -1), dtype=torch.float32)  # P, C
    return pos_locality(pos_embed_similarity(pe, (G, G)))


def _grid_code():
    """A smooth function of the 2D position, as learned by real ViTs (sinusoids of row and column)."""
    return _locality([f(YY * w + s) for f in (np.cos, np.sin) for w in (0.3, 0.6) for s in (0, 1)]
                     + [f(XX * w + s) for f in (np.cos, np.sin) for w in (0.3, 0.6) for s in (0, 1)])


def _radial_code():
    """A function of the square ring around the centre only (distance from the centre)."""
    ring = np.maximum(np.abs(YY - 6.5), np.abs(XX - 6.5))
    return _locality([np.cos(ring * f) for f in (0.3, 0.5, 0.7, 0.9)] + [np.sin(ring * f) for f in (0.3, 0.5)])


def test_a_2d_code_has_similar_neighbours_and_dissimilar_far_pairs():
    loc = _grid_code()
    assert loc.neighbour_cos > loc.far_cos + 0.3
    assert loc.neighbour_cos > loc.same_ring_far_cos + 0.3
    assert loc.pattern == "grid"


def test_a_distance_from_centre_code_passes_the_neighbour_test_but_is_told_apart():
    loc = _radial_code()
    assert loc.neighbour_cos > loc.far_cos + 0.3  # the simple neighbour-vs-far test is fooled ...
    assert loc.same_ring_far_cos == pytest.approx(1.0)  # ... far pairs on one ring are not
    assert loc.pattern == "radial"


def test_random_embeddings_have_no_spatial_structure():
    loc = pos_locality(pos_embed_similarity(torch.randn(G * G, 64, generator=torch.Generator().manual_seed(0)), (G, G)))
    assert abs(loc.neighbour_cos - loc.far_cos) < 0.1
    assert loc.pattern == "none"


def test_a_row_and_column_code_makes_far_pairs_in_one_line_similar():
    # one-hot row + one-hot column: same row or column -> cos 0.5, otherwise 0
    loc = _locality([(YY == i).astype(float) for i in range(G)] + [(XX == i).astype(float) for i in range(G)])
    assert loc.same_line_far_cos == pytest.approx(0.5) and loc.far_cos < 0.2


def test_far_defaults_to_five_cells_and_shrinks_on_small_grids():
    assert _grid_code().far == 5
    small = pos_locality(pos_embed_similarity(torch.randn(9, 8), (3, 3)))
    assert small.far == 2 and small.far_cos is not None


def test_a_single_patch_has_no_far_pairs():
    loc = pos_locality(pos_embed_similarity(torch.randn(1, 8), (1, 1)))
    assert loc.far_cos is None and loc.pattern == "none"
