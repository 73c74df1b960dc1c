"""Faithfulness of explanation maps: deletion and insertion curves, and "what if" token drops.

Deletion (Petsiuk et al. 2018, RISE; the perturbation test of Chefer et al. 2021): remove the
patches a map ranks highest first, in `steps` equal steps, and record the softmax probability
of the explained class; a faithful map makes it fall fast (low area under the curve).
Insertion: start with everything removed and reveal the top patches first; a faithful map
makes the probability rise fast (high area). x is the fraction of patches removed/revealed,
in [0, 1]; the area is the trapezoid rule over it.

"Remove a patch" has two meanings, both offered (`mode`):
* "pixels": its pixels in the normalised input are replaced by the data mean (0 after
  normalisation, `fill="mean"`) or by a Gaussian-blurred copy of the image (`fill="blur"`);
  the model still sees every token.
* "tokens": its token is dropped from the sequence (`forward_with_tokens`); the remaining
  tokens keep their own position embeddings. With nothing left, a class-token model reads
  its prefix tokens alone; an average-pooling model has nothing to average, and that point
  is recorded as chance, 1/K.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from timm.models.vision_transformer import VisionTransformer

from vitviz.analysis import attention as att
from vitviz.core.capture import capture
from vitviz.core.model import LoadedModel

Mode = Literal["pixels", "tokens"]
Kind = Literal["deletion", "insertion"]
Fill = Literal["mean", "blur"]
Progress = Callable[[float], None]
MODES: tuple[Mode, ...] = ("pixels", "tokens")
KINDS: tuple[Kind, ...] = ("deletion", "insertion")


@dataclass(frozen=True)
class Curve:
    """Probability of the explained class as patches are removed (deletion) or revealed (insertion)."""

    method: str
    mode: Mode
    kind: Kind
    fractions: np.ndarray  # (S+1,) share of patches removed / revealed, 0 … 1
    probs: np.ndarray  # (S+1,) softmax probability of the class
    auc: float  # trapezoid area under probs over fractions


# --------------------------------------------------------------------------- curve maths

def auc(fractions: np.ndarray, probs: np.ndarray) -> float:
    """Trapezoid area under (fractions, probs), with fractions rescaled to span [0, 1]."""
    f = np.asarray(fractions, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    span = f[-1] - f[0]
    if f.size < 2 or span <= 0:
        raise ValueError("a curve needs at least two increasing fractions")
    return float(np.sum((f[1:] - f[:-1]) * (p[1:] + p[:-1]) / 2) / span)


def step_counts(num_patches: int, steps: int) -> np.ndarray:
    """Patches removed/revealed after each of `steps` equal steps → (steps+1,) ints, 0 … P."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    return np.round(np.linspace(0, num_patches, steps + 1)).astype(int)


def patch_order(score: np.ndarray) -> np.ndarray:
    """Patch indices (row-major) from the highest score down → (P,); ties keep index order."""
    s = np.nan_to_num(np.asarray(score, dtype=np.float64).ravel(), nan=-np.inf)
    return np.argsort(-s, kind="stable")


def present_sets(order: np.ndarray, counts: np.ndarray, kind: Kind) -> np.ndarray:
    """Which patches are present at each step → (S+1, P) bool.

    deletion: all but the first `count` patches of `order`; insertion: only those.
    """
    p = order.size
    rank = np.empty(p, dtype=int)
    rank[order] = np.arange(p)  # rank[patch] = its position in the ordering
    top = rank[None, :] < counts[:, None]  # S+1, P: among the first `count`
    if kind == "deletion":
        return ~top
    if kind == "insertion":
        return top
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


# --------------------------------------------------------------------------- token forward

def forward_with_tokens(model: VisionTransformer, x: Tensor, keep: Tensor) -> Tensor:
    """Logits of `model` on `x` (B, 3, H, W) seeing only the patch tokens `keep` → (B, K).

    keep: (k,) patch indices (0 … P-1, row-major) shared by the batch, or (B, k) per image.
    Runs the model's own modules: patch_embed and `_pos_embed` (prefix tokens + position
    embeddings exactly as timm adds them, for every prefix layout), then keeps the prefix
    tokens and the chosen patch tokens — each with its own position — and runs
    patch_drop/norm_pre/blocks/norm/forward_head. A ViT takes any sequence length.
    """
    seq = model._pos_embed(model.patch_embed(x))  # B, N, C
    b, _, c = seq.shape
    npre = model.num_prefix_tokens
    keep = keep.to(torch.long)
    keep = keep.expand(b, -1) if keep.dim() == 1 else keep
    prefix = torch.arange(npre, device=seq.device).expand(b, -1)
    index = torch.cat([prefix, keep + npre], dim=1)  # B, npre + k
    seq = torch.gather(seq, 1, index.unsqueeze(-1).expand(-1, -1, c))
    seq = model.norm_pre(model.patch_drop(seq))
    return model.forward_head(model.norm(model.blocks(seq)))


class TokenSubset:
    """The model restricted to some patch tokens, callable like the model.

    Every attribute is the model's own (so `vitviz.core.capture` hooks the shared modules, with
    its per-call guard), only the call runs `forward_with_tokens`.
    """

    def __init__(self, model: VisionTransformer, keep: Tensor):
        self._model = model
        self._keep = keep

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def __call__(self, x: Tensor) -> Tensor:
        return forward_with_tokens(self._model, x, self._keep)


# --------------------------------------------------------------------------- pixel removal

def removed_input(x: Tensor, patch_size: tuple[int, int], fill: Fill = "mean") -> Tensor:
    """`x` (1, 3, H, W) with every pixel "removed": zeros (the data mean, after
    normalisation) or a Gaussian blur with σ = half a patch."""
    if fill == "mean":
        return torch.zeros_like(x)
    if fill == "blur":
        from torchvision.transforms.functional import gaussian_blur
        sigma = max(patch_size) / 2
        k = 2 * int(round(3 * sigma)) + 1
        return gaussian_blur(x, kernel_size=[k, k], sigma=[sigma, sigma])
    raise ValueError(f"fill must be 'mean' or 'blur', not {fill!r}")


def pixel_mask(present: Tensor, grid: tuple[int, int], patch_size: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """(B, P) bool present patches → (B, 1, H, W) bool pixel mask (pixels past the grid: present)."""
    gh, gw = grid
    ph, pw = patch_size
    m = present.view(-1, 1, gh, gw).repeat_interleave(ph, 2).repeat_interleave(pw, 3)
    out = torch.ones(present.shape[0], 1, *size, dtype=torch.bool)
    out[:, :, : gh * ph, : gw * pw] = m
    return out


# --------------------------------------------------------------------------- probabilities

@dataclass(frozen=True)
class _Rows:
    """Distinct perturbations to run: row r is image `image[r]` with patches `present[r]`."""

    image: np.ndarray  # (R,) int: index into the batch of inputs
    present: np.ndarray  # (R, P) bool
    target: np.ndarray  # (R,) int: class whose probability is recorded


def _pixel_probs(loaded: LoadedModel, x: Tensor, rows: _Rows, fill: Fill, batch_size: int,
                 tick: Callable[[int], None]) -> np.ndarray:
    """Class probability of each row, removed patches filled in the pixels → (R,)."""
    info = loaded.info
    gone = removed_input(x, info.patch_size, fill)  # B, 3, H, W
    out = []
    for i in range(0, len(rows.image), batch_size):
        img = torch.from_numpy(rows.image[i:i + batch_size])
        mask = pixel_mask(torch.from_numpy(rows.present[i:i + batch_size]), info.grid, info.patch_size,
                          tuple(x.shape[-2:]))
        with torch.no_grad():
            logits = loaded.model(torch.where(mask, x[img], gone[img]))  # one batched forward per chunk
        target = torch.from_numpy(rows.target[i:i + batch_size])
        out.append(logits.float().softmax(-1).gather(1, target[:, None])[:, 0])
        tick(len(img))
    return torch.cat(out).numpy()


def _token_probs(loaded: LoadedModel, x: Tensor, rows: _Rows, batch_size: int,
                 tick: Callable[[int], None]) -> np.ndarray:
    """As `_pixel_probs`, dropping tokens: rows with the same token count share a forward."""
    probs = np.empty(len(rows.image))
    counts = rows.present.sum(1)
    for k in np.unique(counts):
        same = np.flatnonzero(counts == k)
        if k == 0 and loaded.info.readout == "avg":  # nothing to average: chance
            probs[same] = 1.0 / loaded.info.num_classes
            tick(len(same))
            continue
        for i in range(0, len(same), batch_size):
            part = same[i:i + batch_size]
            keep = torch.from_numpy(np.stack([np.flatnonzero(rows.present[r]) for r in part])).reshape(len(part), int(k))
            with torch.no_grad():
                logits = forward_with_tokens(loaded.model, x[torch.from_numpy(rows.image[part])], keep)
            target = torch.from_numpy(rows.target[part])
            probs[part] = logits.float().softmax(-1).gather(1, target[:, None])[:, 0].numpy()
            tick(len(part))
    return probs


def curves_batch(
    loaded: LoadedModel,
    x: Tensor,
    maps: Sequence[Mapping[str, np.ndarray]],
    targets: Sequence[int],
    *,
    modes: Iterable[Mode] = ("pixels",),
    kinds: Iterable[Kind] = KINDS,
    steps: int = 10,
    fill: Fill = "mean",
    batch_size: int = 64,
    progress: Progress | None = None,
) -> list[list[Curve]]:
    """Deletion/insertion curves for a batch of inputs `x` (B, 3, H, W).

    maps[b]: {method: (gh, gw) scores} for image b; targets[b]: the class to follow.
    Perturbed inputs are deduplicated (all methods share the untouched and the fully-removed
    input) and batched across images, methods and steps — in token mode, rows with the same
    token count share a forward. progress(fraction done) after each batch.
    Returns, per image, one Curve per (mode, method, kind), in that nesting order.
    """
    x = x.detach().float()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    if not len(maps) == len(targets) == x.shape[0]:
        raise ValueError("one map dict and one target per image")
    counts = step_counts(loaded.info.num_patches, steps)
    fractions = (counts / loaded.info.num_patches).astype(np.float32)
    modes, kinds = tuple(modes), tuple(kinds)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    # Every (image, method, kind) curve as indices into one table of distinct rows.
    table: dict[tuple[int, bytes], int] = {}
    curve_rows: dict[tuple[int, str, Kind], list[int]] = {}
    for b, image_maps in enumerate(maps):
        for method, score in image_maps.items():
            order = patch_order(score)
            for kind in kinds:
                curve_rows[b, method, kind] = [table.setdefault((b, s.tobytes()), len(table))
                                               for s in present_sets(order, counts, kind)]
    image = np.fromiter((b for b, _ in table), dtype=np.int64, count=len(table))
    present = np.stack([np.frombuffer(key, dtype=bool) for _, key in table])
    rows = _Rows(image, present, np.asarray(targets, dtype=np.int64)[image])

    done = [0]
    total = len(table) * len(modes)

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0] / total)

    out: list[list[Curve]] = [[] for _ in maps]
    for mode in modes:
        if mode == "pixels":
            probs = _pixel_probs(loaded, x, rows, fill, batch_size, tick)
        else:
            probs = _token_probs(loaded, x, rows, batch_size, tick)
        for (b, method, kind), idx in curve_rows.items():
            p = probs[idx].astype(np.float32)
            out[b].append(Curve(method, mode, kind, fractions, p, auc(fractions, p)))
    return out


def curves(loaded: LoadedModel, x: Tensor, maps: Mapping[str, np.ndarray], target: int, **kwargs) -> list[Curve]:
    """Deletion/insertion curves of several (gh, gw) maps on one input `x` (1, 3, H, W) or
    (3, H, W); keyword arguments as `curves_batch`. One Curve per (mode, method, kind)."""
    x = x.unsqueeze(0) if x.dim() == 3 else x
    return curves_batch(loaded, x, [maps], [target], **kwargs)[0]


def curve(loaded: LoadedModel, x: Tensor, score: np.ndarray, target: int, kind: Kind = "deletion",
          mode: Mode = "pixels", method: str = "map", **kwargs) -> Curve:
    """One deletion or insertion curve of one (gh, gw) map (see `curves_batch`)."""
    return curves(loaded, x, {method: score}, target, modes=(mode,), kinds=(kind,), **kwargs)[0]


# --------------------------------------------------------------------------- what if

@dataclass(frozen=True)
class WhatIf:
    """The model's answer with some patch tokens dropped."""

    probs: np.ndarray  # (K,) softmax over classes
    rollout: np.ndarray  # (gh, gw) float32: rollout of the reduced sequence, NaN on dropped patches
    kept: np.ndarray  # (gh, gw) bool
    seconds: float


def kept_patches(num_patches: int, drop: Iterable[int] = (), keep_only: Iterable[int] | None = None) -> np.ndarray:
    """(P,) bool: every patch but `drop`, or only `keep_only` when given."""
    kept = np.ones(num_patches, dtype=bool)
    if keep_only is not None:
        kept[:] = False
        kept[np.fromiter(keep_only, dtype=int)] = True
    kept[np.fromiter(drop, dtype=int)] = False
    return kept


def what_if(
    loaded: LoadedModel,
    x: Tensor | np.ndarray,
    drop: Iterable[int] = (),
    keep_only: Iterable[int] | None = None,
    fusion: att.Fusion = "mean",
    discard_ratio: float = 0.0,
) -> WhatIf:
    """Drop patch tokens (row-major indices) from input `x` (3, H, W) and re-run the model.

    One hooked forward of the reduced sequence (vitviz.core.capture): class probabilities and the
    rollout of the readout row over the tokens that are left, put back on the full grid
    (not normalised, like `Analysis.rollout`).
    """
    start = time.perf_counter()
    info = loaded.info
    x = torch.as_tensor(x).float()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    kept = kept_patches(info.num_patches, drop, keep_only)
    if not kept.any() and info.readout == "avg":
        raise ValueError("an average-pooling model needs at least one patch token")
    keep = torch.from_numpy(np.flatnonzero(kept))
    cap = capture(TokenSubset(loaded.model, keep), x)  # type: ignore[arg-type]
    attn = torch.cat(cap.attention).float()  # L, H, n, n (n = prefix + kept)
    row = att.model_rollout(att.fuse_heads(attn, fusion), info, discard_ratio, num_tokens=attn.shape[-1])
    row = row[info.num_prefix_tokens:]  # kept patches, in index order
    full = np.full(info.num_patches, np.nan, dtype=np.float32)
    full[kept] = row.numpy()
    return WhatIf(
        probs=cap.logits[0].float().softmax(-1).numpy(),
        rollout=full.reshape(info.grid),
        kept=kept.reshape(info.grid),
        seconds=time.perf_counter() - start,
    )
