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

from vitviz.core.model import use_explicit_attention

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
    return _Recorder(model, attention_dtype, on_attention, target_class is not None, deadline).run(x, target_class)


class _Recorder:
    """One call's hooks: each method is a forward hook; `run` registers them, runs, removes them.

    Every hook first checks that the forward pass belongs to this call (`_mine`).
    """

    def __init__(self, model: VisionTransformer, attention_dtype: torch.dtype | None,
                 on_attention: AttentionCallback | None, keep_graph: bool, deadline: float | None):
        self.model = model
        self.attention_dtype = attention_dtype
        self.on_attention = on_attention
        self.keep_graph = keep_graph  # keep the probabilities in the graph, for the gradients
        self.deadline = deadline
        self.patch_out: list[Tensor] = []  # 1 × (B, P, C)
        self.embedded: list[Tensor] = []  # 1 × (B, N, C), empty without position embedding
        self.tokens: list[Tensor] = []  # L+1 × (B, N, C)
        self.probs_graph: list[Tensor] = []  # L × (B, H, N, N), still in the graph
        self.kept: list[Tensor] = []  # L × (B, H, N, N) in attention_dtype
        self.near_zero: list[Tensor] = []  # L × (B,)

    def _mine(self) -> bool:
        return _active_call.get() is self

    def on_patch_embed(self, _m, _i, out: Tensor) -> None:
        if self._mine():
            self.patch_out.append(out.detach().reshape(out.shape[0], -1, out.shape[-1]))  # B, P, C

    def on_pos_drop(self, _m, _i, out: Tensor) -> None:
        if self._mine():
            self.embedded.append(out.detach())  # B, N, C

    def on_first_block_input(self, _m, args: tuple) -> None:
        if self._mine():
            self.tokens.append(args[0].detach())  # B, N, C

    def on_block(self, _m, _i, out: Tensor) -> None:
        if not self._mine():
            return
        self.tokens.append(out.detach())  # B, N, C
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CaptureTimeout(f"The analysis ran past its time limit after block {len(self.tokens) - 1} "
                                 f"of {len(self.model.blocks)} and was stopped.")

    def on_attn_probs(self, layer: int) -> Callable:
        def hook(_m, _i, out: Tensor) -> None:
            if not self._mine():
                return
            if self.keep_graph:
                self.probs_graph.append(out)
            probs = out.detach()  # B, H, N, N
            if self.on_attention is not None:
                self.on_attention(layer, probs)
            if self.attention_dtype is not None:
                self.kept.append(probs.to(self.attention_dtype))
        return hook

    def on_gelu(self, _m, _i, out: Tensor) -> None:
        if self._mine():
            out = out.detach()
            off = (out < GELU_NEAR_ZERO) & (out > -GELU_NEAR_ZERO)  # no float copy of the hidden layer
            self.near_zero.append(off.flatten(1).sum(1) / off[0].numel())  # B

    def _register(self) -> list:
        model = self.model
        handles = [
            model.patch_embed.register_forward_hook(self.on_patch_embed),
            model.pos_drop.register_forward_hook(self.on_pos_drop),
            model.blocks[0].register_forward_pre_hook(self.on_first_block_input),
        ]
        for i, block in enumerate(model.blocks):
            handles.append(block.register_forward_hook(self.on_block))
            handles.append(block.attn.attn_drop.register_forward_hook(self.on_attn_probs(i)))
            if hasattr(block.mlp, "act"):
                handles.append(block.mlp.act.register_forward_hook(self.on_gelu))
        return handles

    def _forward(self, x: Tensor, target_class: int | Callable[[Tensor], int] | None
                 ) -> tuple[Tensor, list[Tensor] | None, int | None]:
        """Logits (B, K), d logit[target] / d attention (or None) and the target class."""
        if target_class is None:
            with torch.no_grad():
                return self.model(x), None, None
        with torch.enable_grad():
            # Parameters are frozen; a leaf input that needs grad makes the graph reach attention.
            logits = self.model(x.detach().clone().requires_grad_(True))
            if callable(target_class):
                target_class = target_class(logits.detach())
            grads = torch.autograd.grad(logits[:, target_class].sum(), self.probs_graph)
        return logits.detach(), [g.detach() for g in grads], target_class

    def run(self, x: Tensor, target_class: int | Callable[[Tensor], int] | None) -> Capture:
        use_explicit_attention(self.model)  # idempotent; per instance, never process-wide
        handles = self._register()
        reset = _active_call.set(self)
        try:
            logits, grads, target = self._forward(x, target_class)
        finally:
            _active_call.reset(reset)
            for h in handles:
                h.remove()
        patch = self.patch_out[0]
        return Capture(
            logits=logits,
            patch_embed=patch,
            pos_embed=_added_position(self.model, self.embedded[0] if self.embedded else None, patch),
            tokens=self.tokens,
            attention=self.kept,
            gelu_near_zero=torch.stack(self.near_zero) if self.near_zero else torch.zeros(0, x.shape[0]),
            attention_grads=grads,
            target_class=target,
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
