"""The embedded model's architecture (a small timm ViT), its optimiser groups and stage-to-stage resizing."""
from __future__ import annotations

import math

import torch.nn as nn
from timm.layers import resample_abs_pos_embed

from vitviz.research.shapes.generator import CLASS_NAMES


def default_model_args(img_size=224, patch_size=16, embed_dim=128, depth=4, num_heads=4, mlp_ratio=4.0):
    return dict(
        img_size=img_size, patch_size=patch_size, in_chans=3, num_classes=len(CLASS_NAMES),
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
        qkv_bias=True, class_token=True, global_pool="token",
    )


def build_model(model_args: dict) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(**model_args)


def param_groups(model, aux, wd):
    """AdamW groups: weight decay on matrices, none on biases, norms, pos_embed and cls_token."""
    decay, no_decay = [], []
    skip = {"pos_embed", "cls_token"}
    for mod in (model, aux):
        for n, p in mod.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or n in skip else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def resample_for(model: nn.Module, state: dict) -> dict:
    """`state` with its position embedding resized to `model`'s patch grid.

    Fine-tuning at a higher resolution, as in the ViT paper (Dosovitskiy et al. 2021, 3.2):
    the patch size stays, the grid grows, and the learned position embeddings are
    interpolated in 2D to the new grid (timm's `resample_abs_pos_embed`, bicubic)."""
    pos = state["pos_embed"]  # 1, prefix + gh * gw, C
    if pos.shape == model.pos_embed.shape:
        return state
    prefix = model.num_prefix_tokens
    old = int(math.isqrt(pos.shape[1] - prefix))
    resized = resample_abs_pos_embed(pos, list(model.patch_embed.grid_size), [old, old], num_prefix_tokens=prefix)
    return {**state, "pos_embed": resized}
