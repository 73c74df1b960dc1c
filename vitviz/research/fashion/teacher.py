"""A small CNN teacher for distilling vitviz-fashion (DeiT, Touvron et al. 2021, arXiv:2012.12877, §5).

A ViT trained from scratch on 55k small images lacks a CNN's locality prior; DeiT shows that a convnet
teacher's labels pass some of it on. The teacher is only a training aid: it is trained on the same 55k
train images (the validation and test splits stay unseen), is never shipped and never shown in the app.

    python -m vitviz.research.fashion.teacher --out runs/teacher --epochs 12
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vitviz.research.distill import conv_bn_relu

from . import data
from .loop import batch_at, lr_at
from .model import accuracy


class TeacherCNN(nn.Sequential):
    """28 px, one channel → 10 logits: three stages of 3x3 convolutions, max-pooling between them."""

    def __init__(self, width: int = 32, classes: int = len(data.CLASS_NAMES)):
        w = width
        super().__init__(
            conv_bn_relu(1, w), conv_bn_relu(w, w), nn.MaxPool2d(2),            # B, w, 14, 14
            conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),  # B, 2w, 7, 7
            conv_bn_relu(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # B, 4w
            nn.Dropout(0.2), nn.Linear(4 * w, classes))


def load(path: Path) -> TeacherCNN:
    state = torch.load(path, weights_only=False)
    model = TeacherCNN(state["width"])
    model.load_state_dict(state["model"])
    return model.eval()


def command_for(args: dict) -> str:
    return "python -m vitviz.research.fashion.teacher " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in args.items())


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--epochs", type=float, default=12)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val = data.train_and_validation()
    val_x, val_y = torch.from_numpy(data.normalise(val.images)), torch.from_numpy(val.labels)
    model = TeacherCNN(args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps = int(args.epochs * len(train.labels) / args.batch)
    per_epoch = len(train.labels) // args.batch
    t0 = time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.lr, 200, 1e-5)
        model.train()
        x, y = batch_at(train, args.seed, step, args.batch)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % per_epoch == 0 or step + 1 == steps:
            acc = accuracy(model, val_x, val_y)
            print(f"step {step + 1}/{steps} loss {loss.item():.3f} val {acc:.4f} {time.time() - t0:.0f} s", flush=True)
    acc = accuracy(model, val_x, val_y)
    torch.save({"model": model.state_dict(), "width": args.width, "val_accuracy": acc, "args": vars(args),
                "seconds": time.time() - t0}, out / "teacher.pt")
    (out / "teacher.json").write_text(json.dumps({"val_accuracy": acc, "steps": steps, "args": vars(args),
                                                  "seconds": round(time.time() - t0, 1),
                                                  "command": command_for(vars(args))}, indent=1))


if __name__ == "__main__":
    main()
