"""The embedding layer's learned parameters as pictures (ViT paper, fig. 7 left and centre)."""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from vitviz.core.geometry import patch_coordinates

PosPattern = Literal["grid", "radial", "none"]


def pos_embed_similarity(patch_pos: Tensor, grid: tuple[int, int]) -> Tensor:
    """Cosine similarity of every patch's position embedding with every other → (P, gh, gw).

    patch_pos: (P, C) position embeddings of the patch tokens only (prefix positions excluded),
    as added for this input size (after any resampling of the stored grid).
    Map i shows how similar patch i's position is to every other patch's.
    """
    unit = torch.nn.functional.normalize(patch_pos.float(), dim=-1)  # P, C
    return (unit @ unit.T).reshape(-1, *grid)


@dataclass(frozen=True)
class PosLocality:
    """What a grid of position embeddings encodes, as mean cosine similarities of position pairs.

    A 2D code (real pretrained ViTs) makes 4-neighbours similar and far pairs not. A code of distance
    from the image centre (square rings in the maps) passes that test too, but also makes far pairs on
    the same ring around the centre as similar as neighbours; random embeddings make everything ≈ 0.
    """

    neighbour_cos: float  # 4-neighbour pairs
    far_cos: float | None  # pairs at least `far` cells apart (Chebyshev); None on grids too small
    same_ring_far_cos: float | None  # those far pairs on the same square ring around the grid centre
    same_line_far_cos: float | None  # those far pairs in the same row or column
    far: int

    # Thresholds for `pattern`: a gap below NO_STRUCTURE_GAP is what random embeddings give
    # (|gap| < 0.1 for 64-d random vectors); rings count as "as similar as neighbours" within RING_MARGIN.
    NO_STRUCTURE_GAP = 0.15
    RING_MARGIN = 0.15

    @property
    def pattern(self) -> PosPattern:
        """"grid" (2D position), "radial" (distance from the centre) or "none" (no spatial structure)."""
        if self.far_cos is None or self.neighbour_cos - self.far_cos < self.NO_STRUCTURE_GAP:
            return "none"
        if self.same_ring_far_cos is not None and self.same_ring_far_cos >= self.neighbour_cos - self.RING_MARGIN:
            return "radial"
        return "grid"


def pos_locality(similarity: Tensor | np.ndarray, far: int | None = None) -> PosLocality:
    """Summarise a position-similarity grid (P, gh, gw), as from `pos_embed_similarity`.

    `far` (Chebyshev distance of "far" pairs) defaults to 5, or less on grids too small for that.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    _, gh, gw = sim.shape
    sim = sim.reshape(gh * gw, gh * gw)  # P, P
    far = max(1, min(5, max(gh, gw) - 1)) if far is None else far
    yy, xx = patch_coordinates((gh, gw))
    dy = np.abs(yy[:, None] - yy[None, :])  # P, P
    dx = np.abs(xx[:, None] - xx[None, :])
    is_far = np.maximum(dy, dx) >= far
    ring = np.maximum(np.abs(yy - (gh - 1) / 2), np.abs(xx - (gw - 1) / 2))

    def mean(pairs: np.ndarray) -> float | None:
        return float(sim[pairs].mean()) if pairs.any() else None

    return PosLocality(
        neighbour_cos=mean((dy + dx) == 1) or 0.0,
        far_cos=mean(is_far),
        same_ring_far_cos=mean(is_far & (ring[:, None] == ring[None, :])),
        same_line_far_cos=mean(is_far & ((dy == 0) | (dx == 0))),
        far=far,
    )


def embedding_filter_components(weight: Tensor, k: int = 28) -> Tensor:
    """Principal components of the patch-embedding filters as RGB tiles → (k, ph, pw, 3) in [0, 1].

    weight: (C, 3, ph, pw), the patch-embedding conv. Each of the C filters is a point in
    3·ph·pw dimensions; the leading principal directions are the patterns the embedding is most
    sensitive to. Each tile is min-max scaled on its own, as in the paper's figure.
    """
    c, ch, ph, pw = weight.shape
    flat = weight.float().reshape(c, -1)
    flat = flat - flat.mean(dim=0, keepdim=True)
    _, _, vh = torch.linalg.svd(flat, full_matrices=False)  # rows: principal directions
    comps = vh[: min(k, vh.shape[0])].reshape(-1, ch, ph, pw).permute(0, 2, 3, 1)  # k, ph, pw, 3
    lo = comps.flatten(1).amin(1).view(-1, 1, 1, 1)
    hi = comps.flatten(1).amax(1).view(-1, 1, 1, 1)
    return (comps - lo) / (hi - lo).clamp_min(1e-12)


_FILTERS: "weakref.WeakKeyDictionary[torch.nn.Module, Tensor]" = weakref.WeakKeyDictionary()


def model_filter_components(model: torch.nn.Module) -> Tensor:
    """`embedding_filter_components` of a timm ViT's patch embedding, once per model (not per image)."""
    if model not in _FILTERS:
        _FILTERS[model] = embedding_filter_components(model.patch_embed.proj.weight.detach())
    return _FILTERS[model]
