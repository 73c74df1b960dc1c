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


def grown_state(state: dict, depth: int, mlp_hidden: int, seed: int = 0) -> dict:
    """Weights of a trained model for a deeper and/or wider-MLP one that computes exactly the same function
    (function-preserving growth, as Net2Net, Chen et al. 2016, arXiv:1511.05641): more capacity for an
    underfitting model without training its first stage again.

    New blocks are spread between the old ones, each a copy of the block before it with its two residual
    branches' output layers (``attn.proj``, ``mlp.fc2``) zeroed, so it adds nothing until trained. New MLP
    units get small random input weights and zero output weights, so they add nothing either."""
    old_depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    if depth < old_depth:
        raise ValueError(f"cannot shrink {old_depth} blocks to {depth}")
    blocks = {i: {k.split(".", 2)[2]: v for k, v in state.items() if k.startswith(f"blocks.{i}.")}
              for i in range(old_depth)}
    placed = {i * depth // old_depth: i for i in range(old_depth)}  # new index -> old block
    out = {k: v for k, v in state.items() if not k.startswith("blocks.")}
    gen = torch.Generator().manual_seed(seed)
    source = 0
    for j in range(depth):
        source = placed.get(j, source)
        block = {k: v.clone() for k, v in blocks[source].items()}
        if j not in placed:
            for name in ("attn.proj.weight", "attn.proj.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
                block[name] = torch.zeros_like(block[name])
        block = _wider_mlp(block, mlp_hidden, gen)
        out.update({f"blocks.{j}.{k}": v for k, v in block.items()})
    return out


def _wider_mlp(block: dict, hidden: int, gen: torch.Generator) -> dict:
    w1, b1, w2 = block["mlp.fc1.weight"], block["mlp.fc1.bias"], block["mlp.fc2.weight"]  # H, C / H / C, H
    extra = hidden - w1.shape[0]
    if extra < 0:
        raise ValueError(f"cannot narrow the MLP from {w1.shape[0]} to {hidden} units")
    if extra == 0:
        return block
    new_in = torch.randn(extra, w1.shape[1], generator=gen) * 0.02  # timm's trunc_normal_(std=0.02) scale
    return {**block, "mlp.fc1.weight": torch.cat([w1, new_in.to(w1.dtype)]),
            "mlp.fc1.bias": torch.cat([b1, torch.zeros(extra, dtype=b1.dtype)]),
            "mlp.fc2.weight": torch.cat([w2, torch.zeros(w2.shape[0], extra, dtype=w2.dtype)], dim=1)}


@torch.no_grad()
def accuracy(model: VisionTransformer, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum()) for i in range(0, len(y), batch))
    return correct / len(y)
