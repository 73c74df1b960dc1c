"""Train the embedded vitviz model (a small timm ViT) on procedurally generated shapes.

    python -m vitviz.train --out runs/final --export assets/models

Recipe (see the model card for what was tried):

* timm ``VisionTransformer`` built from keyword args, learned position embeddings
  from timm's default init, class token, ``global_pool='token'``;
* images from :mod:`vitviz.shapes` generated on the fly in worker processes,
  deterministic per step (``default_rng([seed, step])``), so resuming replays
  exactly the same data;
* **token labelling** (Jiang et al. 2021): an auxiliary linear head, used only
  in training and not exported, makes every patch token predict the class of
  the object under it (or background) from the generator's mask.  Without this
  dense signal a ViT trained from scratch sat at chance for a long time;
* a curriculum from large centred objects on flat backgrounds to the full
  cluttered setting;
* AdamW, linear warm-up + cosine decay, bf16 autocast on CPU.

Outputs in ``--out``: ``log.csv`` (learning curve), ``eval.csv``,
``checkpoint.pt`` (every ``--checkpoint-minutes``; ``--resume`` continues from it),
``pos_snapshots/step_*.npy`` (position embeddings every ``--snapshot-every``
steps) and at the end ``vitviz-shapes.safetensors`` (fp16) + ``vitviz-shapes.json``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import multiprocessing as mp
import os
import queue
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

from vitviz import embeddings
from vitviz.shapes import CLASS_NAMES, ShapesConfig, generate, patch_fractions

MODEL_NAME = "vitviz-shapes"
RECIPE_NOTES = (
    "Five stages. Stage 1 learns the task from scratch on a 7x7 grid (patch 16 at 112 px) with token labelling "
    "and a curriculum; stage 2 fine-tunes it at full difficulty; stage 3 fine-tunes it at 224 px, the 14x14 grid "
    "and 197 tokens of the classroom story, with the learned position embeddings interpolated in 2D from 7x7 to "
    "14x14 (as the ViT paper does for higher resolutions, section 3.2; timm's resample_abs_pos_embed) and trained "
    "further; stages 4 and 5 repeat stage 3 with half the peak learning rate (4000 and 7000 steps). Held-out "
    "accuracy at the end of each stage: 0.853, 0.880 (7x7), 0.935, 0.943, 0.955 (the last two on 3000 images; "
    "0.958 over the 5000 of tests/test_embedded_model.py). Training and held-out accuracy stayed equal in every "
    "stage (no overfitting), so more steps at a lower learning rate, rather than a bigger model, was the cheap "
    "next step. Remaining errors are mostly squares taken for triangles or crosses and triangles for squares. "
    "Why not 14x14 from scratch: on 2 CPU cores a 14x14 model (depth 4, width 128) ran at ~35-40 img/s "
    "and classification stayed at chance for the ~13k images a short run could afford; from the 7x7 weights it "
    "was at 0.83 held-out accuracy after 80 steps. "
    "What was tried on the way (short runs, a few minutes each; accuracy on full-difficulty held-out images): "
    "(1) random colours from the start with soft token labelling, 14x14 and 7x7: chance after 13-22k images "
    "(patch-level class loss also at chance, only object/background was learned); "
    "(2) split token loss (object/background on all patches + class on object patches, shared head): no change; "
    "(3) colour curriculum (grey light-on-dark objects first, colours randomised with difficulty): 52% train "
    "accuracy after 3k images, but it collapsed to chance when polarity became random; "
    "(4) both polarities in the grey phase: held-out 0.21 at 24k images; diagnosis on that checkpoint: "
    "0.52 with grey colours vs 0.18 with random colours at full clutter/size/position, so colour invariance "
    "was the bottleneck; "
    "(5) + the generator keeps a luminance contrast >= 70 between object and local background (hue stays "
    "random, shapes stay visible in greyscale): held-out 0.41 at 30k images and rising -> stage 1 recipe. "
    "Token labelling (Jiang et al. 2021) is essential: every patch token predicts object/background and, on "
    "object patches, the class through the model's own head (+ a background logit); the auxiliary part is "
    "not exported. "
    "Position embeddings: they learned a code of distance from the image centre (square rings in the similarity "
    "maps), not 2D position. Objects must fit inside the image, so how likely a patch is to be object depends on "
    "its distance from the centre, and patches of one object share one colour, so attention can group them by "
    "content without needing position. On the 7x7 grid (stages 1-2) the issue's measure failed (4-neighbour cos "
    "0.451 < 0.552 for pairs >= 5 apart, which on a 7x7 grid all lie on the border ring); on the 14x14 grid the "
    "same code passes it, because far pairs now include centre-to-border pairs, but far pairs on the same ring "
    "stay as similar as neighbours (pos_embed_same_ring_far_cos). Also tried on 7x7: an auxiliary "
    "relative-position loss (Liu et al. 2021: predict the grid offset of two output tokens) continued from "
    "stage 2: the loss stayed at chance (0.33) for 400 steps and the embeddings did not change; dropped. "
    "The 14x14 stages hardly moved the embeddings (4-neighbour cos 0.844 -> 0.836 over 18,000 steps). "
    "It is the data's doing, not a leftover of the 7x7 stages: the stage-5 model with its position embeddings "
    "reset to random and trained 3000 more steps learned the rings again (4-neighbour cos 0.29, same-ring far "
    "0.40, far 0.00), and its training accuracy stayed at 0.93 right after the reset: the shapes have local "
    "signatures (corners, curvature) a 16-px patch sees, so classification needs little relative position. "
    "Next, for a 2D code: a task in which the arrangement of patches decides the class."
)
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
EVAL_SEED = 987_654  # held-out images (training uses default_rng([seed, step]))


# ----------------------------------------------------------------------------
# model

def default_model_args(img_size=224, patch_size=16, embed_dim=128, depth=4, num_heads=4, mlp_ratio=4.0):
    return dict(
        img_size=img_size, patch_size=patch_size, in_chans=3, num_classes=len(CLASS_NAMES),
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
        qkv_bias=True, class_token=True, global_pool="token",
    )


def build_model(model_args: dict) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(**model_args)


# ----------------------------------------------------------------------------
# data

def difficulty_at(step: int, total: int, start: float, ramp_frac: float) -> float:
    if ramp_frac <= 0:
        return 1.0
    return float(min(1.0, start + (1.0 - start) * step / max(1.0, ramp_frac * total)))


def make_batch(seed: int, step: int, batch_size: int, cfg: ShapesConfig, patch: int):
    rng = np.random.default_rng([seed, step])
    samples = [generate(rng, cfg) for _ in range(batch_size)]
    images = np.stack([s.image for s in samples])
    labels = np.array([s.label for s in samples], np.int64)
    fracs = np.stack([patch_fractions(s.mask, patch) for s in samples]).astype(np.float16)
    return step, images, labels, fracs


def _worker(q, wid, nworkers, seed, start, total, batch_size, cfg_dict, patch, d0, ramp):
    os.environ["OMP_NUM_THREADS"] = "1"
    parent = os.getppid()
    base = ShapesConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
    for step in range(start, total):
        if step % nworkers != wid:
            continue
        cfg = base.replace(difficulty=difficulty_at(step, total, d0, ramp))
        item = make_batch(seed, step, batch_size, cfg, patch)
        while True:  # exit if the trainer died (daemon workers are not killed on SIGTERM/SIGKILL)
            try:
                q.put(item, timeout=5)
                break
            except queue.Full:
                if os.getppid() != parent:
                    q.cancel_join_thread()  # don't block on exit flushing data nobody reads
                    return


class BatchStream:
    """Batches for steps start..total-1, in order, from ``workers`` processes (0 = inline)."""

    def __init__(self, seed, start, total, batch_size, cfg: ShapesConfig, patch, d0, ramp, workers=1, prefetch=6):
        self.args = (seed, start, total, batch_size, cfg, patch, d0, ramp)
        self.workers = workers
        self.procs, self.queues = [], []
        if workers > 0:
            ctx = mp.get_context("fork")
            for w in range(workers):
                q = ctx.Queue(maxsize=prefetch)
                p = ctx.Process(target=_worker, args=(q, w, workers, seed, start, total, batch_size,
                                                      dataclasses.asdict(cfg), patch, d0, ramp), daemon=True)
                p.start()
                self.procs.append(p)
                self.queues.append(q)

    def get(self, step):
        seed, start, total, batch_size, cfg, patch, d0, ramp = self.args
        if self.workers == 0:
            return make_batch(seed, step, batch_size, cfg.replace(difficulty=difficulty_at(step, total, d0, ramp)), patch)
        out = self.queues[step % self.workers].get(timeout=600)
        assert out[0] == step, (out[0], step)
        return out

    def close(self):
        for p in self.procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


# ----------------------------------------------------------------------------
# metrics

def pos_locality(model) -> embeddings.PosLocality:
    """How 2D-local the model's learned position embeddings are (see `embeddings.PosLocality`)."""
    patches = model.pos_embed.detach()[0, model.num_prefix_tokens:]  # P, C
    return embeddings.pos_locality(embeddings.pos_embed_similarity(patches, model.patch_embed.grid_size))


class AttentionRecorder:
    """Record attention probabilities of every block (forces the non-fused path)."""

    def __init__(self, model):
        self.maps, self.handles = [], []
        for blk in model.blocks:
            blk.attn.fused_attn = False
            self.handles.append(blk.attn.attn_drop.register_forward_hook(self._hook))

    def _hook(self, mod, inp, out):
        self.maps.append(out.detach().float())

    def remove(self):
        for h in self.handles:
            h.remove()


def rollout_maps(attn_maps: list[torch.Tensor], grid, num_prefix: int = 1) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): (B, gh, gw) from per-layer (B, heads, N, N)."""
    r = None
    for a in attn_maps:
        a = a.mean(1)
        n = a.shape[-1]
        a = (a + torch.eye(n)) / 2
        a = a / a.sum(-1, keepdim=True)
        r = a if r is None else a @ r
    return r[:, 0, num_prefix:].reshape(-1, grid[0], grid[1])


def object_patches(mask: np.ndarray, patch: int, dilate: int = 1) -> np.ndarray:
    """Patches touching the object, dilated by ``dilate`` patches (3x3 neighbourhood)."""
    g = patch_fractions(mask, patch) > 0
    out = g.copy()
    gh, gw = g.shape
    for dy in range(-dilate, dilate + 1):
        for dx in range(-dilate, dilate + 1):
            sh = np.zeros_like(g)
            sh[max(0, dy):gh + min(0, dy), max(0, dx):gw + min(0, dx)] = g[max(0, -dy):gh - max(0, dy), max(0, -dx):gw - max(0, dx)]
            out |= sh
    return out


@torch.no_grad()
def evaluate(model, samples, patch, batch_size=50, rollout=True):
    """Accuracy and rollout pointing rate on a list of shapes.Sample."""
    model.eval()
    grid = model.patch_embed.grid_size
    rec = AttentionRecorder(model) if rollout else None
    correct, hits, strict, chance = 0, 0, 0, 0.0
    try:
        for i in range(0, len(samples), batch_size):
            chunk = samples[i:i + batch_size]
            x = to_tensor(np.stack([s.image for s in chunk]))
            if rec:
                rec.maps.clear()
            logits = model(x)
            correct += int((logits.argmax(-1).numpy() == np.array([s.label for s in chunk])).sum())
            if rec:
                r = rollout_maps(rec.maps, grid, model.num_prefix_tokens).numpy()
                for s, m in zip(chunk, r):
                    top = np.unravel_index(m.argmax(), m.shape)
                    target = object_patches(s.mask, patch)
                    hits += bool(target[top])
                    chance += float(target.mean())  # hit rate of a uniformly random patch
                    strict += bool(patch_fractions(s.mask, patch)[top] >= 0.25)
    finally:
        if rec:
            rec.remove()
            for blk in model.blocks:
                blk.attn.fused_attn = True
    n = len(samples)
    return {"accuracy": correct / n, "rollout_hit_rate": (hits / n) if rollout else None,
            "rollout_chance_rate": (chance / n) if rollout else None,
            "rollout_hit_rate_strict": (strict / n) if rollout else None, "n": n}


# ----------------------------------------------------------------------------
# training

def lr_at(step, total, base, warmup, min_lr):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def param_groups(model, aux, wd):
    decay, no_decay = [], []
    skip = {"pos_embed", "cls_token"}
    for mod, prefix in ((model, ""), (aux, "aux.")):
        for n, p in mod.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or n in skip else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


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


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m vitviz.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/train", help="run directory (logs, checkpoint, snapshots, weights)")
    ap.add_argument("--export", default=None, help="also copy weights + card to this directory (e.g. assets/models)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--patch-size", type=int, default=16)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--token-label-weight", type=float, default=1.0, help="weight of the patch-token loss (0 = off)")
    ap.add_argument("--token-loss", choices=["soft", "split"], default="split")
    ap.add_argument("--token-min-frac", type=float, default=0.25,
                    help="split loss: patches with at least this object fraction get the class target")
    ap.add_argument("--token-fg-weight", type=float, default=0.5)
    ap.add_argument("--share-head", action=argparse.BooleanOptionalAction, default=True,
                    help="patch tokens use the model's head for class logits (+ a background logit)")
    ap.add_argument("--curriculum-start", type=float, default=0.0, help="difficulty at step 0")
    ap.add_argument("--curriculum-frac", type=float, default=0.4, help="fraction of steps to reach difficulty 1")
    ap.add_argument("--workers", type=int, default=1, help="data generator processes (0 = inline)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--auto-threads", action=argparse.BooleanOptionalAction, default=False,
                    help="on a shared machine: every 200 steps time 1 vs --threads torch threads and keep the faster")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--snapshot-every", type=int, default=100, help="save pos-embed snapshot every N steps (0 = off)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-images", type=int, default=300)
    ap.add_argument("--final-eval-images", type=int, default=1000)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (and export) after this much wall time in this invocation (0 = off)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop (checkpoint + export) after this step; "
                    "the schedule still follows --steps, so --resume continues the same run")
    ap.add_argument("--init-from", default=None, help="start a new stage (fresh optimizer and schedule) from the "
                    "weights of another run's checkpoint.pt; the card records all stages")
    ap.add_argument("--export-only", action="store_true", help="only (re-)export weights + card from OUT/checkpoint.pt")
    ap.add_argument("--tiny", action="store_true", help="tiny model/images for tests (seconds)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--note", default="", help="free text stored in the card")
    args = ap.parse_args(argv)
    if args.tiny:
        given = argv if argv is not None else sys.argv
        args.patch_size, args.embed_dim, args.depth, args.heads = 8, 32, 1, 2
        if "--img-size" not in given:
            args.img_size = 32
        if "--batch-size" not in given:
            args.batch_size = 8
        args.eval_images = min(args.eval_images, 20)
        args.final_eval_images = min(args.final_eval_images, 20)
    return args


def shapes_config_for(args) -> ShapesConfig:
    return ShapesConfig(image_size=args.img_size)


def _write_csv(path, rows, header):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(header)
        w.writerows(rows)


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    snap_dir = out / "pos_snapshots"
    model_args = default_model_args(args.img_size, args.patch_size, args.embed_dim, args.depth, args.heads, args.mlp_ratio)
    cfg = shapes_config_for(args)
    ckpt_path = out / "checkpoint.pt"

    torch.manual_seed(args.seed)
    model = build_model(model_args)
    # token-labelling head (training only, not exported).  With --share-head it only adds a
    # "background" logit and the class logits of every patch come from the model's own head,
    # so patch features are trained in the very space the CLS readout uses.
    aux = nn.Linear(args.embed_dim, 1 if args.share_head else len(CLASS_NAMES) + 1)
    opt = torch.optim.AdamW(param_groups(model, aux, args.weight_decay), lr=args.lr, betas=(0.9, 0.999))
    start, elapsed_before, images_seen = 0, 0.0, 0
    stages = []  # earlier training stages this run starts from (--init-from)
    if args.resume:
        if not ckpt_path.exists():
            raise SystemExit(f"--resume: no checkpoint at {ckpt_path}")
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        aux.load_state_dict(ck["aux"])
        opt.load_state_dict(ck["opt"])
        start, elapsed_before, images_seen = ck["step"], ck["elapsed"], ck["images_seen"]
        stages = ck.get("stages", [])
        if ck["args"].get("steps") != args.steps:
            print(f"note: resuming with --steps {args.steps} (checkpoint had {ck['args'].get('steps')})", file=sys.stderr)
        print(f"resumed from {ckpt_path} at step {start}", file=sys.stderr)
    else:
        if args.init_from:
            # a new stage (fresh optimizer + schedule) starting from another run's weights
            ck = torch.load(args.init_from, map_location="cpu", weights_only=False)
            if {**ck["model_args"], "img_size": args.img_size} != model_args:
                raise SystemExit(f"--init-from: model args differ: {ck['model_args']} vs {model_args}")
            model.load_state_dict(resample_for(model, ck["model"]))
            aux.load_state_dict(ck["aux"])
            stages = ck.get("stages", []) + [_stage_record(ck)]
            elapsed_before, images_seen = ck["elapsed"], ck["images_seen"]
            print(f"initialised from {args.init_from} (step {ck['step']})", file=sys.stderr)
        for f in ("log.csv", "eval.csv"):
            (out / f).unlink(missing_ok=True)
        if snap_dir.exists():
            shutil.rmtree(snap_dir)
    if args.snapshot_every:
        snap_dir.mkdir(exist_ok=True)

    patch = args.patch_size
    held_out = [generate(np.random.default_rng([EVAL_SEED, i]), cfg) for i in range(args.eval_images)]

    def save_checkpoint(step, elapsed):
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "aux": aux.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "images_seen": images_seen, "args": vars(args), "stages": stages,
                    "model_args": model_args}, tmp)
        os.replace(tmp, ckpt_path)

    def snapshot(step):
        np.save(snap_dir / f"step_{step:06d}.npy", model.pos_embed.detach().float().numpy()[0].astype(np.float16))

    stream = BatchStream(args.seed, start, args.steps, args.batch_size, cfg, patch,
                         args.curriculum_start, args.curriculum_frac, workers=args.workers)
    t0 = time.time()
    last_ckpt = t0
    rows, run_loss, run_acc = [], [], []
    try:
        from tqdm import tqdm
        bar = tqdm(range(start, args.steps), initial=start, total=args.steps, disable=args.no_progress,
                   dynamic_ncols=True, mininterval=2.0)
    except ImportError:  # pragma: no cover
        bar = range(start, args.steps)
    step = start
    try:
        if args.snapshot_every and start == 0:
            snapshot(0)
        tuner = ThreadTuner(args.threads) if args.auto_threads else None
        for step in bar:
            if tuner:
                tuner.before(step)
            model.train()
            _, images, labels, fracs = stream.get(step)
            x = to_tensor(images)
            y = torch.from_numpy(labels)
            lr = lr_at(step, args.steps, args.lr, args.warmup, args.min_lr)
            for g in opt.param_groups:
                g["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
                feats = model.forward_features(x)
                logits = model.forward_head(feats)
                tok_logits = None
                if args.token_label_weight > 0:
                    pt = feats[:, model.num_prefix_tokens:]
                    tok_logits = torch.cat([aux(pt), model.head(pt)], -1) if args.share_head else aux(pt)
            logits = logits.float()
            cls_loss = F.cross_entropy(logits, y)
            loss = cls_loss
            tok_loss = torch.zeros(())
            if tok_logits is not None:
                f = torch.from_numpy(fracs.astype(np.float32)).flatten(1)  # (B, N)
                tl = tok_logits.float()
                if args.token_loss == "soft":
                    # soft (C+1)-way target: background (1 - f) / object class (f), mean over all patches
                    tgt = torch.zeros(*f.shape, len(CLASS_NAMES) + 1)
                    tgt[..., 0] = 1 - f
                    tgt.scatter_(2, (y + 1).view(-1, 1, 1).expand(-1, f.shape[1], 1), f.unsqueeze(-1))
                    tok_loss = -(tgt * F.log_softmax(tl, -1)).sum(-1).mean()
                else:
                    # "split": object/background (binary, all patches) + class (C-way) on object
                    # patches only, so the class signal is not drowned by the many background patches
                    fg = F.binary_cross_entropy_with_logits(
                        tl[..., 1:].logsumexp(-1) - tl[..., 0], (f >= 0.5).float())
                    on = f >= args.token_min_frac
                    if on.any():
                        yy = y.view(-1, 1).expand_as(f)[on]
                        cls_tok = F.cross_entropy(tl[..., 1:][on], yy)
                    else:
                        cls_tok = tl.sum() * 0
                    tok_loss = cls_tok + args.token_fg_weight * fg
                loss = loss + args.token_label_weight * tok_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(aux.parameters()), 1.0)
            opt.step()
            if tuner:
                tuner.after(step)
            images_seen += len(labels)
            run_loss.append((loss.item(), cls_loss.item(), tok_loss.item()))
            run_acc.append((logits.argmax(-1) == y).float().mean().item())
            done = step + 1
            elapsed = elapsed_before + time.time() - t0
            if done % args.log_every == 0 or done == args.steps:
                l = np.mean(run_loss, 0)
                rows.append([done, images_seen, f"{lr:.3e}", f"{difficulty_at(step, args.steps, args.curriculum_start, args.curriculum_frac):.3f}",
                             f"{l[0]:.4f}", f"{l[1]:.4f}", f"{l[2]:.4f}", f"{np.mean(run_acc):.4f}", f"{elapsed:.1f}"])
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{l[0]:.3f}", cls=f"{l[1]:.3f}", acc=f"{np.mean(run_acc):.2f}")
                run_loss, run_acc = [], []
                _write_csv(out / "log.csv", rows, ["step", "images", "lr", "difficulty", "loss", "cls_loss",
                                                   "token_loss", "train_acc", "elapsed_s"])
                rows = []
            if args.snapshot_every and done % args.snapshot_every == 0:
                snapshot(done)
            if args.eval_every and done % args.eval_every == 0 and done < args.steps:
                ev = evaluate(model, held_out, patch, rollout=True)
                pl = pos_locality(model)
                _write_csv(out / "eval.csv", [[done, images_seen, f"{ev['accuracy']:.4f}", f"{ev['rollout_hit_rate']:.4f}",
                                               f"{pl.neighbour_cos:.4f}", f"{pl.far_cos:.4f}", f"{elapsed:.1f}"]],
                           ["step", "images", "accuracy", "rollout_hit_rate", "pos_neighbour_cos", "pos_far_cos", "elapsed_s"])
                print(f"\n[eval step {done}] acc={ev['accuracy']:.3f} rollout={ev['rollout_hit_rate']:.3f} "
                      f"pos near={pl.neighbour_cos:.3f} far={pl.far_cos:.3f}", file=sys.stderr, flush=True)
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                save_checkpoint(done, elapsed)
                last_ckpt = time.time()
            if args.stop_at and done >= args.stop_at:
                print(f"\nstopping at step {done} (--stop-at); continue with --resume", file=sys.stderr)
                break
            if args.max_minutes and time.time() - t0 > args.max_minutes * 60:
                print(f"\nstopping at step {done}: --max-minutes reached", file=sys.stderr)
                break
    finally:
        stream.close()
    done = step + 1 if args.steps > start else start
    elapsed = elapsed_before + time.time() - t0
    save_checkpoint(done, elapsed)
    return export(model, args, model_args, cfg, out, done, images_seen, elapsed, stages)


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


def _stage_record(ck) -> dict:
    a = argparse.Namespace(**{**vars(parse_args([])), **ck["args"]})
    return {"command": "python -m vitviz.train " + " ".join(_cli_args(a, keep_out=True, steps_done=ck["step"])),
            "steps": ck["step"],
            "images_seen_total": ck["images_seen"], "training_time_total_s": round(ck["elapsed"], 1)}


def export(model, args, model_args, cfg, out: Path, steps_done, images_seen, elapsed, stages=None) -> dict:
    stages = stages or []
    from safetensors.torch import save_file
    patch = args.patch_size
    test_cfg = cfg.replace(difficulty=1.0)
    held_out = [generate(np.random.default_rng([EVAL_SEED + 1, i]), test_cfg) for i in range(args.final_eval_images)]
    ev = evaluate(model, held_out, patch, rollout=True)
    pl = pos_locality(model)
    sd = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    weights = out / f"{MODEL_NAME}.safetensors"
    save_file(sd, str(weights), metadata={"format": "pt", "model": MODEL_NAME})
    # re-measure with the fp16-rounded weights actually shipped
    m16 = build_model(model_args)
    m16.load_state_dict({k: v.float() for k, v in sd.items()})
    ev16 = evaluate(m16, held_out, patch, rollout=True)
    pl16 = pos_locality(m16)
    card = {
        "name": MODEL_NAME,
        "architecture": "timm.models.vision_transformer.VisionTransformer",
        "model_args": model_args,
        "class_names": list(CLASS_NAMES),
        "pretrained_cfg": {"input_size": [3, args.img_size, args.img_size], "mean": list(MEAN), "std": list(STD),
                           "crop_pct": 1.0, "interpolation": "bilinear", "num_classes": len(CLASS_NAMES)},
        "weights": {"file": weights.name, "dtype": "float16", "bytes": weights.stat().st_size,
                    "num_params": sum(v.numel() for v in sd.values())},
        "generator": {"module": "vitviz.shapes", "config": cfg.to_dict(),
                      "curriculum": {"difficulty_start": args.curriculum_start, "ramp_fraction_of_steps": args.curriculum_frac},
                      "train_data": "generate(np.random.default_rng([seed, step]), config) per image, fresh every step"},
        "training": {"seed": args.seed, "steps": steps_done + sum(st["steps"] for st in stages), "batch_size": args.batch_size, "images_seen": images_seen,
                     "training_time_s": round(elapsed, 1), "optimizer": "AdamW", "lr": args.lr, "min_lr": args.min_lr,
                     "warmup_steps": args.warmup, "schedule": "linear warm-up + cosine", "weight_decay": args.weight_decay,
                     "token_label_weight": args.token_label_weight, "token_label_shared_head": args.share_head,
                     "token_loss": args.token_loss, "token_min_frac": args.token_min_frac, "token_fg_weight": args.token_fg_weight, "bf16_autocast": args.amp,
                     "hardware": f"CPU, {args.threads} threads", "torch": torch.__version__,
                     **({"stages": stages + [{"command": "python -m vitviz.train " + " ".join(_cli_args(args, keep_out=True, steps_done=steps_done)),
                                              "steps": steps_done, "images_seen_total": images_seen,
                                              "training_time_total_s": round(elapsed, 1)}]} if stages else {})},
        "evaluation": {
            "held_out": f"{len(held_out)} fresh images, default_rng([{EVAL_SEED + 1}, i]), difficulty 1.0",
            "accuracy": round(ev16["accuracy"], 4),
            "rollout_hit_rate": round(ev16["rollout_hit_rate"], 4),
            "rollout_hit_definition": "argmax of attention rollout (Abnar & Zuidema 2020, (A+I)/2, mean over heads) "
                                      "lies on a patch touching the object mask, dilated by one patch (3x3)",
            "rollout_chance_rate": _r(ev16["rollout_chance_rate"]),
            "rollout_chance_definition": "expected hit rate of a uniformly random patch (share of the grid "
                                         "covered by the dilated object mask)",
            "rollout_hit_rate_strict": _r(ev16["rollout_hit_rate_strict"]),
            "rollout_strict_definition": "top rollout patch is itself >= 25% covered by the object (no dilation)",
            "pos_embed_neighbour_cos": _r(pl16.neighbour_cos, 4),
            "pos_embed_far_cos": _r(pl16.far_cos, 4),
            "pos_embed_same_ring_far_cos": _r(pl16.same_ring_far_cos, 4),
            "pos_embed_definition": "mean cosine similarity of patch position embeddings (CLS excluded): "
                                    f"4-neighbour pairs vs pairs with Chebyshev distance >= {pl16.far}; "
                                    "same_ring_far: those far pairs that lie on the same square ring around the "
                                    "grid centre (high when the code is distance-from-centre rather than 2D position)",
            "fp32_before_export": {"accuracy": round(ev["accuracy"], 4), "rollout_hit_rate": round(ev["rollout_hit_rate"], 4),
                                   "pos_embed_neighbour_cos": _r(pl.neighbour_cos, 4), "pos_embed_far_cos": _r(pl.far_cos, 4)},
        },
        "reproduce": " && ".join([st["command"] for st in stages]
                                 + ["python -m vitviz.train " + " ".join(_cli_args(args, keep_out=bool(stages), steps_done=steps_done))]),
        "notes": args.note or RECIPE_NOTES,
    }
    card_path = out / f"{MODEL_NAME}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    if args.export:
        dst = Path(args.export)
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy(weights, dst / weights.name)
        shutil.copy(card_path, dst / card_path.name)
    print(json.dumps(card["evaluation"], indent=2), file=sys.stderr)
    return card


def _r(x, nd=4):
    return None if x is None else round(float(x), nd)


def _cli_args(args, keep_out=False, steps_done=None):
    """The command-line arguments that reproduce `args` (defaults left out); a run stopped
    early (--stop-at / --max-minutes) is reproduced by --stop-at at the step it reached."""
    skip = {"resume", "no_progress", "note", "export", "stop_at", "export_only", "auto_threads", "max_minutes"}
    if not keep_out:
        skip.add("out")
    defaults = vars(parse_args([]))
    out = []
    for k, v in vars(args).items():
        if k in skip or v is None or (k in defaults and defaults[k] == v and not args.tiny):
            continue
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            if k == "amp":
                out.append("--amp" if v else "--no-amp")
            elif v:
                out.append(flag)
        else:
            out += [flag, str(v)]
    if steps_done is not None and steps_done < args.steps:
        out += ["--stop-at", str(steps_done)]
    return out


def export_checkpoint(args) -> dict:
    """Re-export weights + card from OUT/checkpoint.pt without training (--export-only)."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    saved = argparse.Namespace(**{**vars(args), **{k: v for k, v in ck["args"].items()
                                                    if k not in ("export", "note", "final_eval_images")}})
    model = build_model(ck["model_args"])
    model.load_state_dict(ck["model"])
    return export(model, saved, ck["model_args"], shapes_config_for(saved), out, ck["step"], ck["images_seen"], ck["elapsed"],
                  ck.get("stages"))


def main(argv=None):
    args = parse_args(argv)
    card = export_checkpoint(args) if args.export_only else train(args)
    return 0 if card else 1


if __name__ == "__main__":
    sys.exit(main())
