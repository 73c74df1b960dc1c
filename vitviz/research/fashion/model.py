"""The training-time model (28 px, one channel) and the step from a 7x7 to a 14x14 patch grid."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from .data import CLASS_NAMES


@dataclass(frozen=True)
class FashionConfig:
    grid: int = 7  # patches per side at 28 px: 7 (patch 4) or 14 (patch 2)
    embed_dim: int = 128
    depth: int = 6
    num_heads: int = 4
    mlp_ratio: float = 2.0
    drop_path_rate: float = 0.05

    @property
    def patch_size(self) -> int:
        return 28 // self.grid

    def model_args(self) -> dict:
        return dict(img_size=28, patch_size=self.patch_size, in_chans=1, num_classes=len(CLASS_NAMES),
                    embed_dim=self.embed_dim, depth=self.depth, num_heads=self.num_heads,
                    mlp_ratio=self.mlp_ratio, qkv_bias=True, class_token=True, global_pool="token",
                    drop_path_rate=self.drop_path_rate)

    def to_dict(self) -> dict:
        return asdict(self)


def build(config: FashionConfig) -> VisionTransformer:
    return VisionTransformer(**config.model_args())


def finer_grid_state(state: dict, old_grid: int, new_grid: int) -> dict:
    """Weights of a ``old_grid``² model for a ``new_grid``² one at the same 28 px.

    Patch kernel: a finer patch is seen as if zoomed to the old patch size (nearest upsampling), so each
    new kernel weight is the sum of the old weights over the block it covers. Position embeddings:
    interpolated in 2D (ViT paper, section 3.2; timm's ``resample_abs_pos_embed``)."""
    factor = new_grid // old_grid
    w = state["patch_embed.proj.weight"]  # C, 1, p, p
    c, ch, p, _ = w.shape
    q = p // factor
    summed = w.reshape(c, ch, q, factor, q, factor).sum(dim=(3, 5))  # C, 1, q, q
    pos = resample_abs_pos_embed(state["pos_embed"], [new_grid, new_grid], [old_grid, old_grid],
                                 num_prefix_tokens=1)
    return {**state, "patch_embed.proj.weight": summed, "pos_embed": pos}


@torch.no_grad()
def accuracy(model: VisionTransformer, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum()) for i in range(0, len(y), batch))
    return correct / len(y)
