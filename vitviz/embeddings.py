"""The embedding layer's learned parameters as pictures (ViT paper, fig. 7 left and centre)."""
from __future__ import annotations

import torch
from torch import Tensor


def pos_embed_similarity(patch_pos: Tensor, grid: tuple[int, int]) -> Tensor:
    """Cosine similarity of every patch's position embedding with every other → (P, gh, gw).

    patch_pos: (P, C) position embeddings of the patch tokens only (prefix positions excluded),
    as added for this input size (after any resampling of the stored grid).
    Map i shows how similar patch i's position is to every other patch's.
    """
    unit = torch.nn.functional.normalize(patch_pos.float(), dim=-1)  # P, C
    return (unit @ unit.T).reshape(-1, *grid)


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
