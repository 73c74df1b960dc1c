"""Head ablation: switch attention heads off and run the model again.

A head is switched off by replacing its output — its slice of the concatenated head outputs
that enter the block's output projection (timm: `attn.proj`, heads in order, head_dim each) —
with zeros ("zero") or with its mean over the patch tokens ("mean"; keeps the head's average
contribution, removes what it says about each token). The projection's bias is not any head's
and stays. Head importance: each head alone ablated → Δ log-probability of the top class.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, Literal

import numpy as np
import torch
from torch import Tensor, nn

from vitviz.core.model import LoadedModel

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


@torch.no_grad()
def ablated_logits(loaded: LoadedModel, x: Tensor, heads: Iterable[tuple[int, int]], mode: Mode = "zero") -> Tensor:
    """Logits (K,) of input x (3, H, W) with the given heads switched off."""
    with heads_off(loaded, head_mask(loaded, heads), mode):
        return loaded.model(x.unsqueeze(0))[0]


def _block_inputs(model: nn.Module, x: Tensor) -> tuple[list[Tensor], Tensor]:
    """The residual stream entering every block (L × (1, N, C)) and the logits, for input x (3, H, W)."""
    seen: list[Tensor] = []
    handles = [b.register_forward_pre_hook(lambda m, args: seen.append(args[0])) for b in model.blocks]
    try:
        logits = model(x.unsqueeze(0))[0]
    finally:
        for h in handles:
            h.remove()
    return seen, logits


@torch.no_grad()
def head_importance(loaded: LoadedModel, x: Tensor, target: int | None = None, mode: Mode = "zero",
                    batch: int = 16, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """(L, H): log p(target | every head on) − log p(target | that head alone off), for input x
    (3, H, W); target defaults to the top class.

    Ablating a head of block l changes nothing before it, so each block's H ablations start from
    the residual stream entering that block (from one normal forward) and run only blocks l…L:
    about half the work of L·H full forwards.
    """
    info, model = loaded.info, loaded.model
    entering, logits = _block_inputs(model, x)
    base = logits.log_softmax(-1)
    target = int(base.argmax()) if target is None else int(target)
    drops = np.empty((info.depth, info.num_heads), dtype=np.float32)
    done, total = 0, info.depth * info.num_heads
    for layer in range(info.depth):
        for start in range(0, info.num_heads, batch):
            heads = list(range(start, min(start + batch, info.num_heads)))
            masks = torch.zeros(info.depth, len(heads), info.num_heads, dtype=torch.bool)
            masks[layer, torch.arange(len(heads)), torch.tensor(heads)] = True
            h = entering[layer].expand(len(heads), -1, -1)
            with heads_off(loaded, masks, mode):
                for block in model.blocks[layer:]:
                    h = block(h)
            logp = model.forward_head(model.norm(h)).log_softmax(-1)[:, target]
            drops[layer, heads] = (base[target] - logp).numpy()
            done += len(heads)
            if progress is not None:
                progress(done / total)
    return drops
