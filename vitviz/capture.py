"""One forward pass of a timm ViT with forward hooks on every block.

Hooks are registered for one call and removed in `finally`, also when the forward raises.
Several threads may capture on the same model at once: every hook checks that the forward
pass it sees belongs to its own call (a ContextVar is per thread), so results never mix.
"""
from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor
from timm.models.vision_transformer import VisionTransformer

from .model import use_explicit_attention

# |GELU(x)| below this counts as "near zero": the unit is practically off for this token.
GELU_NEAR_ZERO = 1e-2

_active_call: ContextVar[object | None] = ContextVar("vitviz_active_capture", default=None)

AttentionCallback = Callable[[int, Tensor], None]


class CaptureTimeout(TimeoutError):
    """The forward pass ran past its deadline and was stopped between two blocks."""


@dataclass
class Capture:
    """What one hooked forward pass recorded (B images)."""

    logits: Tensor  # B, K
    patch_embed: Tensor  # B, P, C: patch-embedding output, before prefix tokens and position
    pos_embed: Tensor  # N, C: position embedding actually added (zero rows where none is added)
    tokens: list[Tensor]  # L+1 × (B, N, C): sequence entering block 1, then each block's output
    attention: list[Tensor]  # L × (B, H, N, N) attention probabilities (empty if not kept)
    gelu_near_zero: Tensor  # L, B: share of MLP hidden units with |GELU| < GELU_NEAR_ZERO
    attention_grads: list[Tensor] | None = None  # L × (B, H, N, N): d logit[target] / d attention
    target_class: int | None = None


def capture(
    model: VisionTransformer,
    x: Tensor,
    *,
    attention_dtype: torch.dtype | None = torch.float32,
    on_attention: AttentionCallback | None = None,
    target_class: int | Callable[[Tensor], int] | None = None,
    deadline: float | None = None,
) -> Capture:
    """Run `model` on `x` (B, 3, H, W) once and record every block.

    attention_dtype: dtype to keep the (B, H, N, N) probabilities in; None keeps none
        (use `on_attention(layer, probs)` to reduce each layer in float32 as it is computed).
    target_class: also return d logits[:, target_class] / d attention for every layer
        (a backward pass; needed for class-specific relevance). A callable picks the class
        from the logits (B, K) once they are known, e.g. the top-1 class.
    deadline: a time.monotonic() value; past it, the pass stops after the current block with
        CaptureTimeout (a request time limit that needs no extra thread).
    """
    use_explicit_attention(model)  # idempotent; per instance, never process-wide
    me = object()
    patch_out: list[Tensor] = []
    embedded: list[Tensor] = []
    tokens: list[Tensor] = []
    probs_graph: list[Tensor] = []
    kept: list[Tensor] = []
    near_zero: list[Tensor] = []

    def mine() -> bool:
        return _active_call.get() is me

    def on_patch_embed(_m, _i, out: Tensor) -> None:
        if mine():
            patch_out.append(out.detach().reshape(out.shape[0], -1, out.shape[-1]))  # B, P, C

    def on_pos_drop(_m, _i, out: Tensor) -> None:
        if mine():
            embedded.append(out.detach())  # B, N, C

    def on_first_block_input(_m, args: tuple) -> None:
        if mine():
            tokens.append(args[0].detach())  # B, N, C

    def on_block(_m, _i, out: Tensor) -> None:
        if mine():
            tokens.append(out.detach())  # B, N, C
            if deadline is not None and time.monotonic() > deadline:
                raise CaptureTimeout(f"The analysis ran past its time limit after block {len(tokens) - 1} "
                                     f"of {len(model.blocks)} and was stopped.")

    def on_attn_probs(layer: int) -> Callable:
        def hook(_m, _i, out: Tensor) -> None:
            if not mine():
                return
            if target_class is not None:
                probs_graph.append(out)
            probs = out.detach()  # B, H, N, N
            if on_attention is not None:
                on_attention(layer, probs)
            if attention_dtype is not None:
                kept.append(probs.to(attention_dtype))
        return hook

    def on_gelu(_m, _i, out: Tensor) -> None:
        if mine():
            out = out.detach()
            off = (out < GELU_NEAR_ZERO) & (out > -GELU_NEAR_ZERO)  # no float copy of the hidden layer
            near_zero.append(off.flatten(1).sum(1) / off[0].numel())  # B

    handles = [
        model.patch_embed.register_forward_hook(on_patch_embed),
        model.pos_drop.register_forward_hook(on_pos_drop),
        model.blocks[0].register_forward_pre_hook(on_first_block_input),
    ]
    for i, block in enumerate(model.blocks):
        handles.append(block.register_forward_hook(on_block))
        handles.append(block.attn.attn_drop.register_forward_hook(on_attn_probs(i)))
        if hasattr(block.mlp, "act"):
            handles.append(block.mlp.act.register_forward_hook(on_gelu))

    reset = _active_call.set(me)
    try:
        if target_class is None:
            with torch.no_grad():
                logits = model(x)
            grads = None
        else:
            with torch.enable_grad():
                # Parameters are frozen; a leaf input that needs grad makes the graph reach attention.
                logits = model(x.detach().clone().requires_grad_(True))
                if callable(target_class):
                    target_class = target_class(logits.detach())
                grads = torch.autograd.grad(logits[:, target_class].sum(), probs_graph)
            logits = logits.detach()
    finally:
        _active_call.reset(reset)
        for h in handles:
            h.remove()

    patch = patch_out[0]
    return Capture(
        logits=logits,
        patch_embed=patch,
        pos_embed=_added_position(model, embedded[0] if embedded else None, patch),
        tokens=tokens,
        attention=kept,
        gelu_near_zero=torch.stack(near_zero) if near_zero else torch.zeros(0, x.shape[0]),
        attention_grads=[g.detach() for g in grads] if grads is not None else None,
        target_class=target_class,
    )


def _added_position(model: VisionTransformer, embedded: Tensor | None, patch: Tensor) -> Tensor:
    """The position embedding that was added, (N, C), after any resampling for the input size.

    Recovered as (sequence after `_pos_embed`) − (prefix tokens ‖ patch tokens), so it is
    whatever timm actually added, whichever path (`no_embed_class`, dynamic size) it took.
    """
    prefix = [t for t in (model.cls_token, getattr(model, "dist_token", None), model.reg_token) if t is not None]
    bare = torch.cat([p[0] for p in prefix] + [patch[0]], dim=0)  # N, C
    if embedded is None:  # model without position embedding: nothing was added
        return torch.zeros_like(bare)
    return embedded[0] - bare
