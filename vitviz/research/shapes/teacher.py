"""A small CNN teacher for the domain-randomised shapes (DeiT, Touvron et al. 2021, arXiv:2012.12877, §5).

The tiny ViT fine-tuned on domain-randomised images stayed near chance on them (validation 0.27-0.30 in
stage 7, six classes), so the first question is whether the randomised task can be learned at all by a
model with a convolution's locality prior, and the second whether that model's labels can teach the ViT,
as a CNN's did for vitviz-fashion. The teacher is a training aid only: trained on the training generator's
stream (``data.BatchStream``, the same seeds and settings a ViT run uses), validated on the held-out
images a ViT run validates on (``metrics.held_out_samples``), never shipped, never shown, never scored on
the evaluation renderer.

    python -m vitviz.research.shapes.teacher --out runs/shapes_teacher --img-size 112 --steps 6000 \\
        --domain-random 0.65 --dr equiluminant=0.3 --dr min_rgb=60 --dr low_contrast=0.15
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vitviz.research.distill import conv_bn_relu
from vitviz.research.shapes.data import BatchStream, to_tensor
from vitviz.research.shapes.generator import CLASS_NAMES
from vitviz.research.shapes.loop import lr_at
from vitviz.research.shapes.metrics import held_out_samples
from vitviz.research.shapes.options import shapes_config_for


class ShapesTeacher(nn.Sequential):
    """(B, 3, S, S) → 6 logits: a stride-2 stem, then stages of 3x3 convolutions, each followed by
    max-pooling (S = 112: 56, 28, 14, 7), and global average pooling; any S ≥ 32 works."""

    def __init__(self, width: int = 32, classes: int = len(CLASS_NAMES)):
        w = width
        super().__init__(
            conv_bn_relu(3, w, stride=2), conv_bn_relu(w, w), nn.MaxPool2d(2),  # B, w, S/4, S/4
            conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),    # B, 2w, S/8
            conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w), nn.MaxPool2d(2),  # B, 4w, S/16
            conv_bn_relu(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # B, 4w
            nn.Dropout(0.2), nn.Linear(4 * w, classes))


def load(path: str | Path) -> ShapesTeacher:
    """A trained teacher, in eval mode, with the image size it was trained at (`image_size`)."""
    state = torch.load(path, weights_only=False)
    model = ShapesTeacher(state["width"])
    model.load_state_dict(state["model"])
    model.image_size = int(state["args"]["img_size"])
    return model.eval()


def command_for(argv: list[str]) -> str:
    return "python -m vitviz.research.shapes.teacher " + " ".join(argv)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--img-size", type=int, default=112)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--domain-random", type=float, default=0.65)
    ap.add_argument("--dr", action="append", default=None, metavar="KEY=VALUE", help="as in shapes.train")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-images", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="data generator processes (0 = inline)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    return ap.parse_args(argv)


@torch.no_grad()
def accuracy(model: nn.Module, samples: list) -> float:
    model.eval()
    hits = 0
    for i in range(0, len(samples), 100):
        chunk = samples[i:i + 100]
        logits = model(to_tensor(np.stack([s.image for s in chunk])))
        hits += int((logits.argmax(-1) == torch.tensor([s.label for s in chunk])).sum())
    return hits / len(samples)


class TeacherRun:
    """Model, optimiser and logs of one run directory; ``step`` counts finished optimiser steps."""

    def __init__(self, args: argparse.Namespace, argv: list[str]):
        self.args, self.out = args, Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.model = ShapesTeacher(args.width)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=5e-4)
        self.step, self.seconds = 0, 0.0
        self.command = command_for([a for a in argv if a != "--resume"])
        ckpt = self.out / "checkpoint.pt"
        if args.resume and ckpt.exists():
            state = torch.load(ckpt, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
            self.step, self.seconds = state["step"], state["seconds"]

    def save(self, name: str = "checkpoint.pt", **extra) -> None:
        tmp = self.out / (name + ".tmp")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "width": self.args.width,
                    "step": self.step, "seconds": self.seconds, "args": vars(self.args), **extra}, tmp)
        tmp.replace(self.out / name)

    def log_val(self, acc: tuple[float, float], loss: float) -> None:
        path = self.out / "val.csv"
        with open(path, "a") as f:
            if f.tell() == 0:
                f.write("step,val_accuracy_dr,val_accuracy_plain,loss,seconds\n")
            f.write(f"{self.step},{acc[0]:.4f},{acc[1]:.4f},{loss:.4f},{self.seconds:.1f}\n")
        print(f"step {self.step} loss {loss:.3f} val dr {acc[0]:.4f} plain {acc[1]:.4f} "
              f"{self.seconds / 60:.1f} min", flush=True)


def train_step(run: TeacherRun, batch) -> float:
    a = run.args
    for g in run.opt.param_groups:
        g["lr"] = lr_at(run.step, a.steps, a.lr, a.warmup, 1e-5)
    _, images, labels, _ = batch
    run.model.train()
    loss = F.cross_entropy(run.model(to_tensor(images)), torch.from_numpy(labels), label_smoothing=0.1)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    return loss.item()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = TeacherRun(args, argv)
    cfg = shapes_config_for(args)
    # the held-out images of a ViT run's eval_dr.csv / eval.csv at this size
    dr, plain = (held_out_samples(cfg.replace(domain_random=share), args.eval_images) for share in (1.0, 0.0))
    stream = BatchStream(args.seed, run.step, args.steps, args.batch_size, cfg, 16, 1.0, 0.0, workers=args.workers)
    last_ckpt, t0, loss = time.time(), time.time(), float("nan")
    try:
        while run.step < args.steps:
            loss = train_step(run, stream.get(run.step))
            run.step += 1
            run.seconds += time.time() - t0
            t0 = time.time()
            if run.step % args.eval_every == 0 or run.step == args.steps:
                run.log_val((accuracy(run.model, dr), accuracy(run.model, plain)), loss)
                t0 = time.time()
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                run.save()
                last_ckpt = time.time()
    finally:
        stream.close()
    acc = (accuracy(run.model, dr), accuracy(run.model, plain))
    run.save()
    run.save("teacher.pt", val_accuracy_dr=acc[0], val_accuracy_plain=acc[1])
    (run.out / "teacher.json").write_text(json.dumps(
        {"val_accuracy_dr": acc[0], "val_accuracy_plain": acc[1], "steps": run.step, "args": vars(args),
         "seconds": round(run.seconds, 1), "command": run.command}, indent=1))


if __name__ == "__main__":
    main()
