"""Training data for the embedded model: generated shapes, one batch a step, in worker processes.

Every batch is a function of (seed, step) (``default_rng([seed, step])``), so a resumed run
replays exactly the same data; the curriculum raises the generator's difficulty with the step.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue

import numpy as np
import torch

from vitviz.core.images import normalise_pixels
from vitviz.research.shapes.generator import ShapesConfig, generate, patch_fractions

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def difficulty_at(step: int, total: int, start: float, ramp_frac: float) -> float:
    """Curriculum: difficulty `start` at step 0, rising linearly to 1 over `ramp_frac` of the steps."""
    if ramp_frac <= 0:
        return 1.0
    return float(min(1.0, start + (1.0 - start) * step / max(1.0, ramp_frac * total)))


def make_batch(seed: int, step: int, batch_size: int, cfg: ShapesConfig, patch: int):
    """(step, images (B, H, W, 3) uint8, labels (B,) int64, patch object fractions (B, gh, gw) float16)."""
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
    """(B, H, W, 3) uint8 → (B, 3, H, W) model input with this model's MEAN and STD."""
    return normalise_pixels(images, MEAN, STD)
