"""Attention maths on captured probabilities: pure torch (numpy where it is faster), no UI.

Shapes: L layers, H heads, N tokens (prefix tokens first, then P = gh·gw patches).
The "readout" is the token mixture the classifier reads: token 0 (CLS) for class-token
models, the mean of the patch tokens for average-pooling models. "CLS row" below means the
readout row, which is exactly the CLS row whenever the model has and uses a class token.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from vitviz.core.geometry import PatchGrid
from vitviz.core.model import ModelInfo

Fusion = Literal["mean", "max", "min"]
FUSIONS: tuple[Fusion, ...] = ("mean", "max", "min")


def readout_weights(num_tokens: int, num_prefix: int, readout: str) -> Tensor:
    """The classifier's token mixture → (N,): one-hot on CLS, or uniform over patch tokens."""
    w = torch.zeros(num_tokens)
    if readout == "cls":
        w[0] = 1.0
    elif readout == "avg":
        w[num_prefix:] = 1.0 / (num_tokens - num_prefix)
    else:
        raise ValueError(f"unknown readout {readout!r}")
    return w


def model_readout(info: ModelInfo, num_tokens: int | None = None) -> Tensor:
    """`readout_weights` of a loaded model → (N,); `num_tokens` for a shortened sequence
    (prefix tokens + the kept patch tokens), else the model's full N."""
    n = info.num_tokens if num_tokens is None else num_tokens
    return readout_weights(n, info.num_prefix_tokens, info.readout)


def patch_columns(rows: Tensor, grid: tuple[int, int]) -> Tensor:
    """Keep the patch-token columns of (..., N) rows and fold them → (..., gh, gw)."""
    gh, gw = grid
    return rows[..., rows.shape[-1] - gh * gw:].reshape(*rows.shape[:-1], gh, gw)


def readout_rows(attn: Tensor, readout: Tensor) -> Tensor:
    """Attention of the readout over all tokens: readout @ A for (..., N, N) → (..., N)."""
    return torch.einsum("n,...nm->...m", readout.to(attn.dtype), attn)


def fuse_heads(attn: Tensor, fusion: Fusion = "mean") -> Tensor:
    """Fuse the head axis of (..., H, N, N) → (..., N, N) by mean, max or min."""
    if fusion == "mean":
        return attn.mean(dim=-3)
    if fusion == "max":
        return attn.amax(dim=-3)
    if fusion == "min":
        return attn.amin(dim=-3)
    raise ValueError(f"fusion must be one of {FUSIONS}, not {fusion!r}")


def discard_lowest(fused: Tensor, ratio: float, protect_cls: bool = True) -> Tensor:
    """Zero the lowest `ratio` fraction of the entries of one (N, N) fused map.

    The CLS→CLS entry is never discarded (Abnar & Zuidema; otherwise rollout can lose the
    path from CLS to itself entirely).
    """
    if ratio <= 0:
        return fused
    if not 0 <= ratio < 1:
        raise ValueError("discard ratio must be in [0, 1)")
    flat = fused.flatten().clone()
    k = int(flat.numel() * ratio)
    if k == 0:
        return fused
    ranked = flat.clone()
    if protect_cls:
        ranked[0] = float("inf")  # flat index 0 is the CLS→CLS entry
    # The k smallest, ties broken by position (as a stable sort would), without sorting N² values.
    threshold = torch.kthvalue(ranked, k).values
    drop = ranked < threshold
    ties = torch.nonzero(ranked == threshold).flatten()[: k - int(drop.sum())]
    drop[ties] = True
    flat[drop] = 0
    return flat.view_as(fused)


def residual_step(attn: Tensor) -> Tensor:
    """norm((A + I) / 2) for (..., N, N): the residual connection mixes half of each token
    with its attention output; rows (not columns) are re-normalised to sum 1."""
    eye = torch.eye(attn.shape[-1], dtype=attn.dtype, device=attn.device)
    a = (attn + eye) / 2
    return a / a.sum(dim=-1, keepdim=True)


def readout_residual_rows(attn: Tensor, readout: Tensor) -> Tensor:
    """readout · norm((A + I) / 2) for (..., N, N) → (..., N), without building the N×N step.

    Row i of (A + I)/2 sums to s_i = (Σ_j A_ij + 1)/2, so with c_i = readout_i / s_i the result
    is ½ (c · A + c). Equal to readout_rows(residual_step(A), readout), in one pass over A.
    """
    coef = readout.to(attn.dtype) / ((attn.sum(-1) + 1) / 2)  # ..., N
    return 0.5 * (torch.einsum("...n,...nm->...m", coef, attn) + coef)


def rollout(fused: Tensor, discard_ratio: float = 0.0, protect_cls: bool = True) -> Tensor:
    """Attention rollout (Abnar & Zuidema 2020): R = Ã_L ⋯ Ã_1 from fused maps (L, N, N) → (N, N).

    Ã_l = norm((discard(A_l) + I) / 2). Row i of R says how much each input token flows into
    token i at the output.
    """
    result = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
    for layer in fused:
        result = residual_step(discard_lowest(layer, discard_ratio, protect_cls)) @ result
    return result


def readout_rollout(fused: Tensor, readout: Tensor, discard_ratio: float = 0.0,
                    protect_cls: bool = True) -> Tensor:
    """The readout row of the rollout of fused maps (L, N, N) → (N,): readout · R (Abnar & Zuidema 2020).

    Also for a batch, (L, B, N, N) → (B, N), when discard_ratio is 0.
    Only the row is needed, so it is carried through the layers as a vector (readout · Ã_L ⋯ Ã_1,
    last layer first): O(L·N²) instead of the O(L·N³) of `rollout`, the same numbers.
    Fold the patch columns with `patch_columns` for a (gh, gw) map.
    """
    rows = readout.to(fused[0].dtype).expand(*fused[0].shape[:-2], -1)  # (B,) N
    for layer in range(len(fused) - 1, -1, -1):
        rows = readout_residual_rows(discard_lowest(fused[layer], discard_ratio, protect_cls), rows)
    return rows


def model_rollout(fused: Tensor, info: ModelInfo, discard_ratio: float = 0.0, num_tokens: int | None = None) -> Tensor:
    """`readout_rollout` with the model's own readout (fused maps (L, N, N) → (N,)); the CLS→CLS
    entry is protected from discarding when the head reads CLS. num_tokens: see `model_readout`."""
    return readout_rollout(fused, model_readout(info, num_tokens), discard_ratio, protect_cls=info.readout == "cls")


def discard_steps(step: float = 0.05, top: float = 0.95) -> tuple[float, ...]:
    """The discard ratios a slider offers: 0, step, …, top."""
    return tuple(round(i * step, 10) for i in range(int(round(top / step)) + 1))


def rollout_variants(attn: Tensor, info: ModelInfo, fusions=FUSIONS, discards=discard_steps()) -> Tensor:
    """`model_rollout` for every head fusion × discard ratio, (L, H, N, N) → (F, D, N).

    Each fused layer is sorted once; a ratio keeps the entries ranked at or above its k (ties by
    position, `discard_lowest`'s rule). All ratios travel through the layers together, one
    layer's (D, N, N) at a time. In numpy: its single-threaded element-wise passes over these
    (D, N²) arrays are 2-9× faster than torch's on 2 cores (benchmarks/RESULTS.md, session 22).
    """
    n = attn.shape[-1]
    readout = model_readout(info, n).numpy().astype(np.float32)
    ks = np.array([int(n * n * ratio) for ratio in discards])  # D
    heads = attn.float().numpy()
    out = np.empty((len(fusions), len(discards), n), np.float32)
    for f, fusion in enumerate(fusions):
        fused = fuse_heads(torch.from_numpy(heads), fusion).numpy().reshape(len(heads), n * n)  # L, N·N
        ranked = fused.copy()
        if info.readout == "cls":
            ranked[:, 0] = np.inf  # the CLS→CLS entry is never discarded (see discard_lowest)
        rows = np.broadcast_to(readout, (len(ks), n))  # D, N
        for layer in range(len(fused) - 1, -1, -1):
            kept = np.where(kept_by_rank(ranked[layer], ks), fused[layer], np.float32(0)).reshape(-1, n, n)
            coef = rows / ((kept.sum(-1) + 1) / 2)  # readout_residual_rows, in numpy
            rows = 0.5 * (np.matmul(coef[:, None], kept)[:, 0] + coef)
        out[f] = rows
    return torch.from_numpy(out)


def kept_by_rank(ranked: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """(M,) values, (D,) counts → (D, M) bool: False for the ks[d] smallest values, ties broken by
    position (as a stable sort ranks them), True for the rest."""
    ordered = np.sort(ranked)
    threshold = ordered[np.minimum(ks, ranked.size - 1)]  # the value ranked k-th, D
    kept = ranked >= threshold[:, None]
    below = np.searchsorted(ordered, threshold, "left")  # how many are smaller than it
    for d in np.flatnonzero(ks > below):  # some values equal to it rank below k: the first by position
        kept[d, np.flatnonzero(ranked == threshold[d])[: ks[d] - below[d]]] = False
    return kept


def rollout_prefixes(fused: Tensor) -> Tensor:
    """Mean-fused rollout of the layers before each layer: (L, N, N) → (L, N, N), [I, R_1, …, R_{L-1}]."""
    out = [torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)]
    for layer in fused[:-1]:
        out.append(residual_step(layer) @ out[-1])
    return torch.stack(out)


def compose_head_rollout(rows: Tensor, prefixes: Tensor) -> Tensor:
    """Per-head rollout rows: (readout · norm((A_{l,h} + I)/2)) · R_{l-1}.

    rows (L, H, N): readout rows of each layer's per-head residual step;
    prefixes (L, N, N) from `rollout_prefixes` of the mean-fused maps → (L, H, N).
    """
    return torch.einsum("lhn,lnm->lhm", rows, prefixes)


def head_rollout(attn: Tensor, readout: Tensor) -> Tensor:
    """Per-head attention rollout from the readout token, (L, H, N, N) → (L, H, N).

    For layer l and head h: norm((A_{l,h} + I)/2) composed with the mean-fused rollout of
    the layers before l.
    """
    rows = readout_residual_rows(attn, readout)  # L, H, N
    return compose_head_rollout(rows, rollout_prefixes(fuse_heads(attn, "mean")))


def relevance(attn: Tensor, grads: Tensor) -> Tensor:
    """Class-specific relevance (Chefer, Gur & Wolf 2021), (L, H, N, N) twice → (N, N).

    R = I; per layer R ← R + E_h[(∇A ⊙ A)⁺] · R, with ∇A the gradient of the chosen class
    logit with respect to that layer's attention probabilities.
    """
    n = attn.shape[-1]
    result = torch.eye(n, dtype=attn.dtype, device=attn.device)
    for a, g in zip(attn, grads):
        cam = (g * a).clamp(min=0).mean(dim=0)  # N, N
        result = result + cam @ result
    return result


def readout_relevance(attn: Tensor, grads: Tensor, readout: Tensor) -> Tensor:
    """The readout row of class-specific relevance (Chefer et al. 2021), (L, H, N, N) twice → (N,)."""
    return readout_rows(relevance(attn, grads), readout)


def attention_distance(attn: Tensor, grid: PatchGrid) -> Tensor:
    """Mean attention distance in pixels (ViT paper fig. 7, right), (..., H, N, N) → (..., H).

    For patch queries over patch keys only, with each query's weights re-normalised over
    the patch keys; the distance is between patch centres.
    """
    p0 = grid.num_prefix
    a = attn[..., p0:, p0:].float()  # ..., H, P, P
    d = torch.from_numpy(grid.pixel_distances().copy()).to(a.device)  # P, P
    per_query = torch.einsum("...ij,ij->...i", a, d) / a.sum(-1).clamp_min(1e-12)  # ..., H, P
    return per_query.mean(-1)
