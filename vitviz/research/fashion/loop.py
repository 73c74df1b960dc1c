"""Training loop: AdamW, linear warm-up + cosine decay, label smoothing, shifts and flips; resumable.

    python -m vitviz.research.fashion.loop --out runs/fashion7 --grid 7 --steps 12000
    python -m vitviz.research.fashion.loop --out runs/fashion14 --grid 14 --steps 3000 --init-from runs/fashion7
A compact copy of a run (model weights, logs, snapshots; no optimiser state) is kept in
``training/`` so a run longer than one session continues on a fresh machine:
``cp -r training/fashion14 runs/ && python -m vitviz.research.fashion.loop --out runs/fashion14 ... --resume``.
Run directory: ``log.csv``, ``val.csv``, ``checkpoint.pt`` (``--resume`` continues from it, with the same
data order: batches are drawn from ``default_rng([seed, step])``), ``pos_snapshots/step_*.npy`` and
``final.pt`` at the end.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vitviz.research.distill import distilled_loss
from . import data
from .model import FashionConfig, accuracy, build, finer_grid_state, grown_state


def lr_at(step: int, total: int, base: float, warmup: int, floor: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * t))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, plain = [], []
    for name, p in model.named_parameters():
        (plain if p.ndim < 2 or name in ("pos_embed", "cls_token") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def batch_at(train: data.Split, seed: int, step: int, size: int, erase: float = 0.0
             ) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng([seed, step])
    idx = rng.integers(0, len(train.labels), size)
    x = data.normalise(data.augment(train.images[idx], rng, erase=erase))
    return torch.from_numpy(x), torch.from_numpy(train.labels[idx])


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--grid", type=int, default=7, choices=(7, 14))
    ap.add_argument("--depth", type=int, default=6)
    # the model's size (FashionConfig's defaults): the 14x14 runs of width 128 fit the training images no
    # better than the validation ones (0.908 vs 0.907, training/README.md), so capacity is what limits them
    ap.add_argument("--embed-dim", type=int, default=FashionConfig.embed_dim)
    ap.add_argument("--heads", type=int, default=FashionConfig.num_heads)
    ap.add_argument("--mlp-ratio", type=float, default=FashionConfig.mlp_ratio)
    ap.add_argument("--drop-path", type=float, default=FashionConfig.drop_path_rate)
    ap.add_argument("--steps", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--snapshot-every", type=int, default=100)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", help="run directory of a coarser-grid run (its final.pt)")
    ap.add_argument("--teacher", help="teacher.pt of vitviz.research.fashion.teacher: distil its hard labels (DeiT)")
    ap.add_argument("--distill-weight", type=float, default=0.5, help="share of the loss on the teacher's labels")
    ap.add_argument("--erase", type=float, default=0.0, help="random erasing probability per image (data.random_erase)")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=False, help="bf16 autocast (slower than float32 on the CPU of stages 1-2, faster on one with AVX-512 bf16)")
    return ap.parse_args(argv)


class Run:
    """One run directory: model, optimiser, logs; ``step`` counts finished optimiser steps."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.out = args, Path(args.out)
        (self.out / "pos_snapshots").mkdir(parents=True, exist_ok=True)
        self.config = FashionConfig(grid=args.grid, depth=args.depth, embed_dim=args.embed_dim, num_heads=args.heads,
                                    mlp_ratio=args.mlp_ratio, drop_path_rate=args.drop_path)
        self.model = build(self.config)
        self.opt = torch.optim.AdamW(param_groups(self.model, args.weight_decay), lr=args.lr)
        self.step, self.seconds = 0, 0.0
        self.teacher = None
        if args.teacher:
            from .teacher import load
            self.teacher = load(Path(args.teacher))
        ckpt = self.out / "checkpoint.pt"
        if args.resume and ckpt.exists():
            self._load(torch.load(ckpt, weights_only=False))
        elif args.init_from:
            self._init_from(Path(args.init_from) / "final.pt")
        (self.out / "args.json").write_text(json.dumps(vars(args), indent=1))

    def _load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if "opt" in state:  # a compact checkpoint (model only) restarts AdamW's moments at this step
            self.opt.load_state_dict(state["opt"])
        self.step, self.seconds = state["step"], state["seconds"]

    def _init_from(self, path: Path) -> None:
        prev = torch.load(path, weights_only=False)
        state = prev["model"]
        if prev["config"]["grid"] != self.config.grid:
            state = finer_grid_state(state, prev["config"]["grid"], self.config.grid)
        hidden = self.model.blocks[0].mlp.fc1.out_features
        if len(self.model.blocks) != prev["config"]["depth"] or state["blocks.0.mlp.fc1.weight"].shape[0] != hidden:
            state = grown_state(state, len(self.model.blocks), hidden, seed=self.args.seed)
        self.model.load_state_dict(state)

    def save(self, name: str = "checkpoint.pt") -> None:
        tmp = self.out / (name + ".tmp")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                    "seconds": self.seconds, "config": self.config.to_dict(), "args": vars(self.args)}, tmp)
        tmp.replace(self.out / name)

    def snapshot(self) -> None:
        pos = self.model.pos_embed.detach().float().numpy()[0].astype(np.float16)
        np.save(self.out / "pos_snapshots" / f"step_{self.step:06d}.npy", pos)

    def log(self, name: str, row: dict) -> None:
        path = self.out / name
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> float:
    a = run.args
    for g in run.opt.param_groups:
        g["lr"] = lr_at(run.step, a.steps, a.lr, a.warmup, a.min_lr)
    run.model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.amp):
        logits = run.model(x)
        if run.teacher is None:
            loss = F.cross_entropy(logits, y, label_smoothing=a.label_smoothing)
        else:
            with torch.no_grad():
                taught = run.teacher(x).argmax(-1)
            loss = distilled_loss(logits, y, taught, a.distill_weight, a.label_smoothing)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.opt.step()
    return loss.item()


def compact_copy(run_dir: Path, dest: Path) -> None:
    """Model weights (no optimiser state), logs and snapshots of a run, small enough to commit."""
    import shutil
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("checkpoint.pt", "final.pt"):
        if (run_dir / name).exists():
            state = torch.load(run_dir / name, weights_only=False)
            torch.save({k: v for k, v in state.items() if k != "opt"}, dest / name)
    for name in ("args.json", "log.csv", "val.csv"):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, dest / name)
    shutil.copytree(run_dir / "pos_snapshots", dest / "pos_snapshots", dirs_exist_ok=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val = data.train_and_validation()
    val_x, val_y = torch.from_numpy(data.normalise(val.images)), torch.from_numpy(val.labels)
    run = Run(args)
    if run.step == 0:
        run.snapshot()
    last_ckpt, t0 = time.time(), time.time()
    while run.step < args.steps:
        loss = train_step(run, *batch_at(train, args.seed, run.step, args.batch, args.erase))
        run.step += 1
        run.seconds += time.time() - t0
        t0 = time.time()
        if run.step % 50 == 0:
            run.log("log.csv", {"step": run.step, "loss": round(loss, 4), "lr": run.opt.param_groups[0]["lr"],
                                "seconds": round(run.seconds, 1)})
        if args.snapshot_every and run.step % args.snapshot_every == 0:
            run.snapshot()
        if run.step % args.val_every == 0 or run.step == args.steps:
            acc = accuracy(run.model, val_x, val_y)
            run.log("val.csv", {"step": run.step, "val_accuracy": round(acc, 4), "seconds": round(run.seconds, 1)})
            print(f"step {run.step} loss {loss:.3f} val {acc:.4f} {run.seconds / 60:.1f} min", flush=True)
            t0 = time.time()
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            run.save()
            last_ckpt = time.time()
    run.save()
    run.save("final.pt")


if __name__ == "__main__":
    main()
