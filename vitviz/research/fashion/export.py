"""Export a 28-px training run as the served ``vitviz-fashion``: (224, 224, 3) in 16x16 patches.

The served model reads a greyscale picture enlarged 8x with nearest-neighbour sampling and copied
into three channels. Its patch kernel is the trained one spread over 8x8-pixel blocks and the three
channels, divided by 8*8*3, so every token sees exactly what the 28-px model saw
(tests/research/test_fashion.py proves the equality); position embeddings, blocks and head are unchanged.

    python -m vitviz.research.fashion.export runs/fashion14 --out assets/models
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

from . import data
from .model import FashionConfig

NAME = "vitviz-fashion"
SERVED_SIZE = 224


def served_model_args(config: FashionConfig) -> dict:
    args = config.model_args()
    args.update(img_size=SERVED_SIZE, patch_size=SERVED_SIZE // config.grid, in_chans=3, drop_path_rate=0.0)
    return args


def spread_kernel(weight: torch.Tensor, factor: int, channels: int = 3) -> torch.Tensor:
    """(C, 1, p, p) kernel on grey pixels -> (C, channels, p*factor, p*factor) on enlarged RGB pixels."""
    big = weight.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)  # C, 1, P, P
    return big.expand(-1, channels, -1, -1) / (factor * factor * channels)


def collapse_kernel(weight: torch.Tensor, factor: int) -> torch.Tensor:
    """Inverse of `spread_kernel` for a block-constant kernel: (C, 3, P, P) -> (C, 1, P/factor, P/factor)."""
    c, ch, big, _ = weight.shape
    small = big // factor
    return weight.reshape(c, ch, small, factor, small, factor).sum(dim=(1, 3, 5))[:, None]


def served_state(state: dict, config: FashionConfig) -> dict:
    factor = SERVED_SIZE // 28
    return {**state, "patch_embed.proj.weight": spread_kernel(state["patch_embed.proj.weight"], factor)}


def pretrained_cfg() -> dict:
    return {"input_size": [3, SERVED_SIZE, SERVED_SIZE], "mean": [data.MEAN] * 3, "std": [data.STD] * 3,
            "crop_pct": 1.0, "interpolation": "nearest", "num_classes": len(data.CLASS_NAMES)}


def export(run_dir: Path, out_dir: Path, card_extra: dict | None = None) -> Path:
    ckpt = torch.load(run_dir / "final.pt", weights_only=False)
    config = FashionConfig(**ckpt["config"])
    model = VisionTransformer(**served_model_args(config))
    model.load_state_dict(served_state(ckpt["model"], config))
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{NAME}.safetensors"
    save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, str(weights))
    card = {"name": NAME, "architecture": "timm.models.vision_transformer.VisionTransformer",
            "model_args": served_model_args(config), "class_names": list(data.CLASS_NAMES),
            "pretrained_cfg": pretrained_cfg(),
            "weights": {"file": weights.name, "dtype": "float32", "bytes": weights.stat().st_size,
                        "num_params": sum(p.numel() for p in model.parameters())},
            "training_config": config.to_dict(), **(card_extra or {})}
    card_path = out_dir / f"{NAME}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=Path("assets/models"))
    args = ap.parse_args(argv)
    print(export(args.run_dir, args.out))


if __name__ == "__main__":
    main()
