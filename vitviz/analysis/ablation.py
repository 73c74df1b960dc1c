"""Ablation: switch attention heads and patches off and run the model again.

A head is switched off by replacing its output — its slice of the concatenated head outputs
that enter the block's output projection (timm: `attn.proj`, heads in order, head_dim each) —
with zeros ("zero") or with its mean over the patch tokens ("mean"; keeps the head's average
contribution, removes what it says about each token). The projection's bias is not any head's
and stays. Head importance: each head alone ablated → Δ log-probability of the top class.

A patch is switched off by dropping its token from the sequence right after the position
embedding, as the what-if of `vitviz.analysis.faithfulness` does (`forward_with_tokens`): no
token attends to it and it reaches no output, the remaining tokens keep their own positions.
With both, a mean-ablated head takes its mean over the patch tokens that are left. The rollout of
the ablated model is computed from the attention of that ablated forward pass, each switched-off
head entering it with the mixing it still applies (`applied_attention`).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Literal

import numpy as np
import torch
from torch import Tensor, nn

from vitviz.analysis import attention as att
from vitviz.analysis.faithfulness import TokenSubset, forward_with_tokens, kept_patches
from vitviz.core.capture import capture
from vitviz.core.model import LoadedModel, ModelInfo

Mode = Literal["zero", "mean"]
MODES: tuple[Mode, ...] = ("zero", "mean")


def _ablate(x: Tensor, mask: Tensor, head_dim: int, num_prefix: int, mode: Mode) -> Tensor:
    """x (B, N, H·d) head outputs; mask (B, H) True where the head is off → new x."""
    B, N, C = x.shape
    heads = x.view(B, N, C // head_dim, head_dim)
    if mode == "zero":
        replacement = torch.zeros_like(heads)
    else:
        replacement = heads[:, num_prefix:].mean(dim=1, keepdim=True).expand_as(heads)
    off = mask[:, None, :, None].to(torch.bool)
    return torch.where(off, replacement, heads).reshape(B, N, C)


def applied_attention(probs: Tensor, off: Tensor, num_prefix: int, mode: Mode) -> Tensor:
    """The token mixing each head of one block applies, (H, n, n) probabilities → (H, n, n).

    A head on applies its attention. A head off applies none ("zero": its output is 0) or, for
    "mean", the same average of the patch tokens' values to every token: a row uniform over the
    patch columns. off: (H,) bool."""
    replacement = torch.zeros_like(probs)
    if mode == "mean":
        replacement[..., num_prefix:] = 1.0 / (probs.shape[-1] - num_prefix)
    return torch.where(off[:, None, None], replacement, probs)


@contextlib.contextmanager
def heads_off(loaded: LoadedModel, masks: Tensor, mode: Mode = "zero") -> Iterator[None]:
    """Within the block, the model runs with the heads where `masks` (L, B, H) or (L, H) is True
    switched off (per batch element for (L, B, H))."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    info = loaded.info
    masks = masks.bool()
    if masks.dim() == 2:
        masks = masks[:, None, :]
    handles = []
    for layer, block in enumerate(loaded.model.blocks):
        if not masks[layer].any():
            continue

        def pre_hook(module: nn.Module, args, layer=layer):
            (x,) = args
            m = masks[layer].expand(x.shape[0], -1) if masks.shape[1] == 1 else masks[layer]
            return (_ablate(x, m, info.head_dim, info.num_prefix_tokens, mode),)

        handles.append(block.attn.proj.register_forward_pre_hook(pre_hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def head_mask(loaded: LoadedModel, heads: Iterable[tuple[int, int]]) -> Tensor:
    """(L, H) bool mask of the (layer, head) pairs given (0-based)."""
    info = loaded.info
    mask = torch.zeros(info.depth, info.num_heads, dtype=torch.bool)
    for layer, head in heads:
        if not (0 <= layer < info.depth and 0 <= head < info.num_heads):
            raise ValueError(f"head ({layer + 1}, {head + 1}) is outside {info.depth} layers × {info.num_heads} heads")
        mask[layer, head] = True
    return mask


def patches_kept(info: ModelInfo, patches: Iterable[int]) -> np.ndarray:
    """(P,) bool: every patch but the switched-off `patches` (row-major indices)."""
    off = sorted({int(p) for p in patches})
    if off and not (0 <= off[0] and off[-1] < info.num_patches):
        raise ValueError(f"patch {off[0] if off[0] < 0 else off[-1]} is outside the {info.num_patches} patches")
    kept = kept_patches(info.num_patches, drop=off)
    if not kept.any() and info.readout == "avg":
        raise ValueError("an average-pooling model needs at least one patch token")
    return kept


def _indices(kept: np.ndarray) -> Tensor:
    """(P,) bool kept patches → (k,) the indices of their tokens among the patch tokens."""
    return torch.from_numpy(np.flatnonzero(kept))


@torch.no_grad()
def ablated_logits(loaded: LoadedModel, x: Tensor, heads: Iterable[tuple[int, int]], mode: Mode = "zero",
                   patches: Iterable[int] = ()) -> Tensor:
    """Logits (K,) of input x (3, H, W) with the given heads switched off and the tokens of the
    given patches (row-major) dropped from the sequence."""
    with heads_off(loaded, head_mask(loaded, heads), mode):
        return forward_with_tokens(loaded.model, x.unsqueeze(0), _indices(patches_kept(loaded.info, patches)))[0]


@dataclass(frozen=True)
class Ablated:
    """The model's answer with some heads and patches switched off (one hooked forward pass)."""

    logits: np.ndarray  # (K,) float32
    rollout: np.ndarray  # (gh, gw) float32: rollout of the ablated pass, not normalised; 0 on removed patches
    kept: np.ndarray  # (gh, gw) bool: the patches whose token was in the sequence
    seconds: float


def reduced_rollout(fused: Tensor, kept: np.ndarray, info: ModelInfo, discard_ratio: float = 0.0) -> np.ndarray:
    """Rollout of the readout row through the head-fused attention (L, n, n) of a sequence holding
    only the `kept` (P,) patch tokens, put back on the grid → (gh, gw); a removed patch gets 0: it
    was not there to receive attention."""
    row = att.model_rollout(fused, info, discard_ratio, num_tokens=fused.shape[-1])  # n
    full = np.zeros(info.num_patches, dtype=np.float32)
    full[kept] = row[info.num_prefix_tokens:].numpy()  # kept patches, in index order
    return full.reshape(info.grid)


def ablate(loaded: LoadedModel, x: Tensor | np.ndarray, heads: Iterable[tuple[int, int]] = (),
           patches: Iterable[int] = (), mode: Mode = "zero", fusion: att.Fusion = "mean",
           discard_ratio: float = 0.0, time_limit: float | None = None) -> Ablated:
    """Run input x (3, H, W) once more with `heads` (layer, head) off and the tokens of `patches`
    dropped: its logits and the rollout of its own attention (time_limit: seconds, as `analyze`)."""
    start = time.perf_counter()
    info = loaded.info
    kept = patches_kept(info, patches)
    x = torch.as_tensor(x).float().unsqueeze(0)  # 1, 3, H, W
    deadline = time.monotonic() + time_limit if time_limit is not None else None
    mask = head_mask(loaded, heads)
    fused: list[Tensor] = []  # L × (n, n), n = prefix + kept: each layer fused as it is computed

    def on_attention(layer: int, probs: Tensor) -> None:  # probs: 1, H, n, n
        applied = applied_attention(probs[0].float(), mask[layer], info.num_prefix_tokens, mode)
        fused.append(att.fuse_heads(applied, fusion))

    with heads_off(loaded, mask, mode):
        cap = capture(TokenSubset(loaded.model, _indices(kept)), x,  # type: ignore[arg-type]
                      attention_dtype=None, deadline=deadline, on_attention=on_attention)
    return Ablated(logits=cap.logits[0].float().numpy(),
                   rollout=reduced_rollout(torch.stack(fused), kept, info, discard_ratio),
                   kept=kept.reshape(info.grid), seconds=time.perf_counter() - start)


def _block_inputs(model: nn.Module, x: Tensor, keep: Tensor) -> tuple[list[Tensor], Tensor]:
    """The residual stream entering every block (L × (1, n, C)) and the logits, for input x (3, H, W)
    with only the patch tokens `keep` in the sequence."""
    seen: list[Tensor] = []
    handles = [b.register_forward_pre_hook(lambda m, args: seen.append(args[0])) for b in model.blocks]
    try:
        logits = forward_with_tokens(model, x.unsqueeze(0), keep)[0]
    finally:
        for h in handles:
            h.remove()
    return seen, logits


# The activations of one batch of head-importance ablations stay below this (a request must not
# need much more memory than an analysis); beyond ~MAX_BATCH rows a bigger batch is no faster.
BATCH_BYTES = 256 * 2**20
MAX_BATCH = 64


def batch_rows(info: ModelInfo) -> int:
    """How many single-head ablations run together: float32 activations of one row are the
    attention probabilities (H, N, N; explicit attention, as `capture` leaves the model) and
    about 8 token-width tensors (N, C: residual, qkv, MLP hidden) → as many rows as fit BATCH_BYTES."""
    n = info.num_tokens
    row = 4 * n * (info.num_heads * n + 8 * info.embed_dim)
    return int(np.clip(BATCH_BYTES // row, 1, MAX_BATCH))


def _run_ablations(loaded: LoadedModel, entering: list[Tensor], layers: Tensor, heads: Tensor, mode: Mode) -> Tensor:
    """Logits (R, K) of R single-head ablations, row r with head heads[r] of block layers[r] off
    (layers ascending). A row joins the batch at its own block, from the residual stream entering
    it (nothing before that block changes), so several layers' ablations share one batch."""
    info, model = loaded.info, loaded.model
    h = entering[0].new_empty(0, *entering[0].shape[1:])  # R', N, C: the rows that have joined
    for k in range(int(layers[0]), info.depth):
        joining = layers == k
        n = int(joining.sum())
        h = torch.cat([h, entering[k].expand(n, -1, -1)])  # R', N, C
        masks = torch.zeros(info.depth, h.shape[0], info.num_heads, dtype=torch.bool)
        masks[k, torch.arange(h.shape[0] - n, h.shape[0]), heads[joining]] = True  # only the rows joining here
        with heads_off(loaded, masks, mode):
            h = model.blocks[k](h)
    return model.forward_head(model.norm(h))


@torch.inference_mode()
def head_importance(loaded: LoadedModel, x: Tensor, target: int | None = None, mode: Mode = "zero",
                    batch: int | None = None, progress: Callable[[float], None] | None = None,
                    patches: Iterable[int] = ()) -> np.ndarray:
    """(L, H): log p(target | every head on) − log p(target | that head alone off), for input x
    (3, H, W), both with the tokens of `patches` dropped; target defaults to the top class.

    Ablating a head of block l changes nothing before it, so each ablation starts from the
    residual stream entering its block (from one normal forward) and runs only blocks l…L:
    about half the work of L·H full forwards. The L·H ablations run `batch` at a time (default
    `batch_rows`), in layer order; progress(fraction done) after each batch.
    """
    info = loaded.info
    entering, logits = _block_inputs(loaded.model, x, _indices(patches_kept(info, patches)))
    base = logits.log_softmax(-1)
    target = int(base.argmax()) if target is None else int(target)
    layers = torch.arange(info.depth).repeat_interleave(info.num_heads)  # L·H, layer order
    heads = torch.arange(info.num_heads).repeat(info.depth)  # L·H
    logp = torch.empty(layers.numel())
    batch = batch or batch_rows(info)
    for start in range(0, layers.numel(), batch):
        rows = slice(start, start + batch)
        logp[rows] = _run_ablations(loaded, entering, layers[rows], heads[rows], mode).log_softmax(-1)[:, target]
        if progress is not None:
            progress(min(start + batch, layers.numel()) / layers.numel())
    return (base[target] - logp).view(info.depth, info.num_heads).numpy()
