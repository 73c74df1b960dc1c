"""The training loop of the embedded model: one run, its checkpoints, logs and periodic evaluation.

AdamW with linear warm-up + cosine decay, bf16 autocast on CPU, and token labelling (Jiang et
al. 2021): an auxiliary head, used only in training, makes every patch token predict the class
of the object under it (or background) from the generator's mask.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vitviz.research.distill import distilled_loss
from vitviz.research.shapes.data import BatchStream, difficulty_at, to_tensor
from vitviz.research.shapes.export import export, stage_record
from vitviz.research.shapes.generator import CLASS_NAMES
from vitviz.research.shapes.metrics import accuracy_and_rollout_hits, held_out_samples, pos_locality
from vitviz.research.shapes.model import build_model, default_model_args, param_groups, resample_for
from vitviz.research.shapes.options import shapes_config_for

LOG_HEADER = ["step", "images", "lr", "difficulty", "loss", "cls_loss", "token_loss", "train_acc", "elapsed_s"]
EVAL_HEADER = ["step", "images", "accuracy", "rollout_hit_rate", "pos_neighbour_cos", "pos_far_cos", "elapsed_s"]
EVAL_DR_HEADER = ["step", "images", "accuracy", "rollout_hit_rate", "rollout_hit_rate_strict", "elapsed_s"]


def lr_at(step, total, base, warmup, min_lr):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


class ThreadTuner:
    """Alternate between 1 and ``n`` intra-op threads in short probes and keep the faster.

    Other jobs sharing the CPU make oversubscribed OpenMP very slow; one thread is then
    often twice as fast.  Only speed changes, not the data or the schedule."""

    def __init__(self, n, period=200, probe=8):
        self.options = sorted({1, max(1, n)})
        self.period, self.probe = period, probe
        self.current = self.options[-1]
        self.times = {}
        self.t = None
        torch.set_num_threads(self.current)

    def before(self, step):
        ph = step % self.period
        if len(self.options) > 1 and ph < self.probe * len(self.options):
            want = self.options[ph // self.probe]
            if want != torch.get_num_threads():
                torch.set_num_threads(want)
        elif torch.get_num_threads() != self.current:
            torch.set_num_threads(self.current)
        self.t = time.perf_counter()

    def after(self, step):
        ph = step % self.period
        if len(self.options) > 1 and ph < self.probe * len(self.options):
            k = self.options[ph // self.probe]
            if ph % self.probe >= 2:  # skip warm-up steps after a switch
                self.times.setdefault(k, []).append(time.perf_counter() - self.t)
            if ph == self.probe * len(self.options) - 1:
                self.current = min(self.times, key=lambda k: np.median(self.times[k]))
                self.times = {}


def _write_csv(path, rows, header):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(header)
        w.writerows(rows)


# ----------------------------------------------------------------------------
# one run

@dataclass
class Run:
    """What a run carries from step to step and into its checkpoint."""

    args: argparse.Namespace
    model_args: dict
    model: nn.Module
    aux: nn.Module  # token-labelling head (training only, not exported)
    opt: torch.optim.Optimizer
    teacher: nn.Module | None = None  # --teacher (training only)
    start: int = 0
    elapsed_before: float = 0.0
    images_seen: int = 0
    stages: list = field(default_factory=list)  # earlier training stages this run starts from (--init-from)

    @property
    def out(self) -> Path:
        return Path(self.args.out)

    @property
    def snap_dir(self) -> Path:
        return self.out / "pos_snapshots"

    def save_checkpoint(self, step: int, elapsed: float) -> None:
        path = self.out / "checkpoint.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "aux": self.aux.state_dict(), "opt": self.opt.state_dict(),
                    "step": step, "elapsed": elapsed, "images_seen": self.images_seen, "args": vars(self.args),
                    "stages": self.stages, "model_args": self.model_args}, tmp)
        os.replace(tmp, path)

    def snapshot(self, step: int) -> None:
        np.save(self.snap_dir / f"step_{step:06d}.npy",
                self.model.pos_embed.detach().float().numpy()[0].astype(np.float16))


def new_run(args) -> Run:
    """Build the model, its token head and optimiser, then resume (--resume), start a new stage
    from another run's weights (--init-from) or start afresh (clearing old logs and snapshots)."""
    a = args
    model_args = default_model_args(a.img_size, a.patch_size, a.embed_dim, a.depth, a.heads, a.mlp_ratio)
    torch.manual_seed(a.seed)
    model = build_model(model_args)
    # With --share-head the token head only adds a "background" logit and the class logits of
    # every patch come from the model's own head, so patch features are trained in the very
    # space the CLS readout uses.
    aux = nn.Linear(a.embed_dim, 1 if a.share_head else len(CLASS_NAMES) + 1)
    opt = torch.optim.AdamW(param_groups(model, aux, a.weight_decay), lr=a.lr, betas=(0.9, 0.999))
    from vitviz.research.shapes.teacher import load as load_teacher  # it imports this module
    run = Run(args, model_args, model, aux, opt, teacher=load_teacher(a.teacher) if a.teacher else None)
    if a.resume:
        _resume(run)
    else:
        if a.init_from:
            _init_from(run)
        for f in ("log.csv", "eval.csv", "eval_dr.csv"):
            (run.out / f).unlink(missing_ok=True)
        if run.snap_dir.exists():
            shutil.rmtree(run.snap_dir)
    if a.snapshot_every:
        run.snap_dir.mkdir(exist_ok=True)
    return run


def _resume(run: Run) -> None:
    path = run.out / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--resume: no checkpoint at {path}")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    run.model.load_state_dict(ck["model"])
    run.aux.load_state_dict(ck["aux"])
    if "opt" in ck:
        run.opt.load_state_dict(ck["opt"])
    else:  # a compact copy (compact_copy: weights only) restarts AdamW's moments at this step
        print(f"note: {path} has no optimizer state; AdamW restarts its moments", file=sys.stderr)
    run.start, run.elapsed_before, run.images_seen = ck["step"], ck["elapsed"], ck["images_seen"]
    run.stages = ck.get("stages", [])
    if ck["args"].get("steps") != run.args.steps:
        print(f"note: resuming with --steps {run.args.steps} (checkpoint had {ck['args'].get('steps')})", file=sys.stderr)
    print(f"resumed from {path} at step {run.start}", file=sys.stderr)


def _init_from_export(run: Run, path: Path) -> None:
    """A new stage from exported fp16 weights (vitviz-shapes.safetensors + its .json card): the card's
    stages (or, without them, its own training record) become this run's earlier stages; the
    token-labelling head is not exported, so it starts afresh."""
    import json
    from safetensors.torch import load_file
    card = json.loads(path.with_suffix(".json").read_text())
    if {**card["model_args"], "img_size": run.args.img_size} != run.model_args:
        raise SystemExit(f"--init-from: model args differ: {card['model_args']} vs {run.model_args}")
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    run.model.load_state_dict(resample_for(run.model, state))
    tr = card["training"]
    run.stages = list(tr.get("stages") or [{"command": card.get("reproduce", ""), "steps": tr["steps"],
                                            "images_seen_total": tr["images_seen"],
                                            "training_time_total_s": tr["training_time_s"]}])
    run.elapsed_before, run.images_seen = float(tr["training_time_s"]), int(tr["images_seen"])
    print(f"initialised from {path} ({tr['steps']} steps; token head afresh)", file=sys.stderr)


def _init_from(run: Run) -> None:
    """A new stage (fresh optimizer + schedule) starting from another run's weights."""
    if str(run.args.init_from).endswith(".safetensors"):
        return _init_from_export(run, Path(run.args.init_from))
    ck = torch.load(run.args.init_from, map_location="cpu", weights_only=False)
    if {**ck["model_args"], "img_size": run.args.img_size} != run.model_args:
        raise SystemExit(f"--init-from: model args differ: {ck['model_args']} vs {run.model_args}")
    run.model.load_state_dict(resample_for(run.model, ck["model"]))
    run.aux.load_state_dict(ck["aux"])
    run.stages = ck.get("stages", []) + [stage_record(ck)]
    run.elapsed_before, run.images_seen = ck["elapsed"], ck["images_seen"]
    print(f"initialised from {run.args.init_from} (step {ck['step']})", file=sys.stderr)


# ----------------------------------------------------------------------------
# one step

def teacher_labels(teacher: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The teacher's labels (B,) for the student's input `x` (B, 3, H, W), shown at the teacher's own
    image size (area-averaged when the student's images are an integer multiple of it)."""
    size = teacher.image_size
    if x.shape[-1] != size:
        x = F.avg_pool2d(x, x.shape[-1] // size) if x.shape[-1] % size == 0 else F.interpolate(x, size, mode="area")
    with torch.no_grad():
        return teacher(x).argmax(-1)


def token_loss(tok_logits: torch.Tensor, fracs: np.ndarray, y: torch.Tensor, args) -> torch.Tensor:
    """Token-labelling loss of patch logits (B, P, 1 + C) against object fractions (B, gh, gw)."""
    f = torch.from_numpy(fracs.astype(np.float32)).flatten(1)  # (B, P)
    tl = tok_logits.float()
    if args.token_loss == "soft":
        # soft (C+1)-way target: background (1 - f) / object class (f), mean over all patches
        tgt = torch.zeros(*f.shape, len(CLASS_NAMES) + 1)
        tgt[..., 0] = 1 - f
        tgt.scatter_(2, (y + 1).view(-1, 1, 1).expand(-1, f.shape[1], 1), f.unsqueeze(-1))
        return -(tgt * F.log_softmax(tl, -1)).sum(-1).mean()
    # "split": object/background (binary, all patches) + class (C-way) on object
    # patches only, so the class signal is not drowned by the many background patches
    fg_min = getattr(args, "token_fg_min_frac", 0.5)
    fg = F.binary_cross_entropy_with_logits(tl[..., 1:].logsumexp(-1) - tl[..., 0], (f >= fg_min).float())
    on = f >= args.token_min_frac
    if on.any():
        yy = y.view(-1, 1).expand_as(f)[on]
        cls_tok = F.cross_entropy(tl[..., 1:][on], yy)
    else:
        cls_tok = tl.sum() * 0
    return cls_tok + args.token_fg_weight * fg


def train_step(run: Run, step: int, batch) -> tuple[tuple[float, float, float], float, float]:
    """One optimiser step on `batch` → ((loss, class loss, token loss), train accuracy, lr)."""
    args, model, aux = run.args, run.model, run.aux
    model.train()
    _, images, labels, fracs = batch
    x = to_tensor(images)
    y = torch.from_numpy(labels)
    lr = lr_at(step, args.steps, args.lr, args.warmup, args.min_lr)
    for g in run.opt.param_groups:
        g["lr"] = lr
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
        feats = model.forward_features(x)
        logits = model.forward_head(feats)
        tok_logits = None
        if args.token_label_weight > 0:
            pt = feats[:, model.num_prefix_tokens:]
            tok_logits = torch.cat([aux(pt), model.head(pt)], -1) if args.share_head else aux(pt)
    logits = logits.float()
    if run.teacher is None:
        cls_loss = F.cross_entropy(logits, y)
    else:
        cls_loss = distilled_loss(logits, y, teacher_labels(run.teacher, x), args.distill_weight)
    loss = cls_loss
    tok_loss = torch.zeros(())
    if tok_logits is not None:
        tok_loss = token_loss(tok_logits, fracs, y, args)
        loss = loss + args.token_label_weight * tok_loss
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(aux.parameters()), 1.0)
    run.opt.step()
    run.images_seen += len(labels)
    acc = (logits.argmax(-1) == y).float().mean().item()
    return (loss.item(), cls_loss.item(), tok_loss.item()), acc, lr


# ----------------------------------------------------------------------------
# the loop

@dataclass
class _Log:
    """Running means between two log lines."""

    losses: list = field(default_factory=list)
    accs: list = field(default_factory=list)

    def write(self, run: Run, done: int, step: int, lr: float, elapsed: float, bar) -> None:
        a = run.args
        l, acc = np.mean(self.losses, 0), np.mean(self.accs)
        difficulty = difficulty_at(step, a.steps, a.curriculum_start, a.curriculum_frac)
        row = [done, run.images_seen, f"{lr:.3e}", f"{difficulty:.3f}", f"{l[0]:.4f}", f"{l[1]:.4f}",
               f"{l[2]:.4f}", f"{acc:.4f}", f"{elapsed:.1f}"]
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{l[0]:.3f}", cls=f"{l[1]:.3f}", acc=f"{acc:.2f}")
        self.losses, self.accs = [], []
        _write_csv(run.out / "log.csv", [row], LOG_HEADER)


def held_out_sets(cfg, n: int) -> tuple[list, list | None]:
    """Validation images: the plain generator's (eval.csv) and, when the run mixes in domain
    randomisation, as many domain-randomised ones (eval_dr.csv); both from default_rng([EVAL_SEED, i])."""
    plain = held_out_samples(cfg.replace(domain_random=0.0), n)
    dr = held_out_samples(cfg.replace(domain_random=1.0), n) if cfg.domain_random > 0 else None
    return plain, dr


def _evaluate(run: Run, held_out, done: int, elapsed: float) -> None:
    plain, dr = held_out if isinstance(held_out, tuple) else (held_out, None)
    ev = accuracy_and_rollout_hits(run.model, plain, run.args.patch_size, rollout=True)
    pl = pos_locality(run.model)
    _write_csv(run.out / "eval.csv", [[done, run.images_seen, f"{ev['accuracy']:.4f}", f"{ev['rollout_hit_rate']:.4f}",
                                       f"{pl.neighbour_cos:.4f}", f"{pl.far_cos:.4f}", f"{elapsed:.1f}"]], EVAL_HEADER)
    msg = (f"\n[eval step {done}] acc={ev['accuracy']:.3f} rollout={ev['rollout_hit_rate']:.3f} "
           f"pos near={pl.neighbour_cos:.3f} far={pl.far_cos:.3f}")
    if dr:
        ed = accuracy_and_rollout_hits(run.model, dr, run.args.patch_size, rollout=True)
        _write_csv(run.out / "eval_dr.csv", [[done, run.images_seen, f"{ed['accuracy']:.4f}",
                                              f"{ed['rollout_hit_rate']:.4f}", f"{ed['rollout_hit_rate_strict']:.4f}",
                                              f"{elapsed:.1f}"]], EVAL_DR_HEADER)
        msg += f" | domain-random acc={ed['accuracy']:.3f} rollout={ed['rollout_hit_rate']:.3f}"
    print(msg, file=sys.stderr, flush=True)


def _progress_bar(args, start: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return range(start, args.steps)
    return tqdm(range(start, args.steps), initial=start, total=args.steps, disable=args.no_progress,
                dynamic_ncols=True, mininterval=2.0)


def _stop_reason(args, done: int, t0: float) -> str | None:
    if args.stop_at and done >= args.stop_at:
        return f"stopping at step {done} (--stop-at); continue with --resume"
    if args.max_minutes and time.time() - t0 > args.max_minutes * 60:
        return f"stopping at step {done}: --max-minutes reached"
    return None


def train(args) -> dict:
    """Train (or resume) one run as `args` say, checkpoint it and export weights + card → the card."""
    torch.set_num_threads(args.threads)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    run = new_run(args)
    cfg, start = shapes_config_for(args), run.start
    held_out = held_out_sets(cfg, args.eval_images)
    stream = BatchStream(args.seed, start, args.steps, args.batch_size, cfg, args.patch_size,
                         args.curriculum_start, args.curriculum_frac, workers=args.workers)
    t0 = last_ckpt = time.time()
    log, bar, step = _Log(), _progress_bar(args, start), start
    try:
        if args.snapshot_every and start == 0:
            run.snapshot(0)
        tuner = ThreadTuner(args.threads) if args.auto_threads else None
        for step in bar:
            if tuner:
                tuner.before(step)
            losses, acc, lr = train_step(run, step, stream.get(step))
            if tuner:
                tuner.after(step)
            log.losses.append(losses)
            log.accs.append(acc)
            done = step + 1
            elapsed = run.elapsed_before + time.time() - t0
            if done % args.log_every == 0 or done == args.steps:
                log.write(run, done, step, lr, elapsed, bar)
            if args.snapshot_every and done % args.snapshot_every == 0:
                run.snapshot(done)
            if args.eval_every and done % args.eval_every == 0 and done < args.steps:
                _evaluate(run, held_out, done, elapsed)
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                run.save_checkpoint(done, elapsed)
                last_ckpt = time.time()
            reason = _stop_reason(args, done, t0)
            if reason:
                print("\n" + reason, file=sys.stderr)
                break
    finally:
        stream.close()
    done = step + 1 if args.steps > start else start
    elapsed = run.elapsed_before + time.time() - t0
    run.save_checkpoint(done, elapsed)
    return export(run.model, args, run.model_args, cfg, run.out, done, run.images_seen, elapsed, run.stages)
