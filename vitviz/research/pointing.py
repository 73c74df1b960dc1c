"""Where a model's attention rollout points, for a batch: the measurement behind the cards'
"top rollout patch on the object" numbers (shapes and Fashion-MNIST)."""
from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer

from vitviz.analysis import attention as att
from vitviz.core.capture import capture
from vitviz.core.model import READOUTS


@torch.no_grad()
def predict_with_rollout(model: VisionTransformer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One hooked forward pass of (B, C, H, W) → logits (B, K) and the readout row of attention
    rollout (mean over heads, no discarding) over the patch grid, (B, gh, gw) — the app's rollout.

    Each layer is fused as it is computed (the full attention stack is never kept); `capture`
    switches the model to explicit attention, and its fused flags are restored after.
    """
    fused: list[torch.Tensor] = []
    flags = [block.attn.fused_attn for block in model.blocks]
    try:
        cap = capture(model, x, attention_dtype=None,
                      on_attention=lambda _layer, probs: fused.append(att.fuse_heads(probs.float(), "mean")))
    finally:
        for block, flag in zip(model.blocks, flags):
            block.attn.fused_attn = flag
    readout = att.readout_weights(fused[0].shape[-1], model.num_prefix_tokens, READOUTS[model.global_pool])
    rows = att.readout_rollout(fused, readout)  # B, N
    return cap.logits, att.patch_columns(rows, tuple(model.patch_embed.grid_size))
