"""What the embedded model is scored on while it trains and when it is exported.

Accuracy, where attention rollout points (through `vitviz.core.capture` and
`vitviz.analysis.attention`, the product's own code) and how 2D-local the learned position
embeddings are.
"""
from __future__ import annotations

import numpy as np
import torch

from vitviz.analysis import attention as att
from vitviz.analysis import embeddings
from vitviz.research.pointing import predict_with_rollout
from vitviz.research.shapes.data import to_tensor
from vitviz.research.shapes.generator import ShapesConfig, generate, near_object_patches, patch_fractions

EVAL_SEED = 987_654  # held-out images (training uses default_rng([seed, step]))


def held_out_samples(cfg: ShapesConfig, n: int, seed: int = EVAL_SEED) -> list:
    """`n` images no training step draws: image i from default_rng([seed, i])."""
    return [generate(np.random.default_rng([seed, i]), cfg) for i in range(n)]


def pos_locality(model) -> embeddings.PosLocality:
    """How 2D-local the model's learned position embeddings are (see `embeddings.PosLocality`)."""
    patches = model.pos_embed.detach()[0, model.num_prefix_tokens:]  # P, C
    return embeddings.pos_locality(embeddings.pos_embed_similarity(patches, model.patch_embed.grid_size))


def rollout_batch(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, K) and the rollout map (B, gh, gw) of `x` (B, 3, H, W): `predict_with_rollout`."""
    return predict_with_rollout(model, x)


@torch.no_grad()
def accuracy_and_rollout_hits(model, samples, patch, batch_size=50, rollout=True) -> dict:
    """Accuracy and rollout pointing rates on a list of shapes.Sample.

    rollout_hit_rate: the top rollout patch touches the object (dilated by one patch);
    rollout_chance_rate: the same for a uniformly random patch; rollout_hit_rate_strict: the
    top patch is itself ≥ 25 % object.
    """
    model.eval()
    correct, hits, strict, chance = 0, 0, 0, 0.0
    for i in range(0, len(samples), batch_size):
        chunk = samples[i:i + batch_size]
        x = to_tensor(np.stack([s.image for s in chunk]))
        if not rollout:
            logits = model(x)
        else:
            logits, maps = rollout_batch(model, x)
            for s, m in zip(chunk, maps.numpy()):
                top = np.unravel_index(m.argmax(), m.shape)
                target = near_object_patches(s.mask, patch)
                hits += bool(target[top])
                chance += float(target.mean())  # hit rate of a uniformly random patch
                strict += bool(patch_fractions(s.mask, patch)[top] >= 0.25)
        correct += int((logits.argmax(-1).numpy() == np.array([s.label for s in chunk])).sum())
    n = len(samples)
    return {"accuracy": correct / n, "rollout_hit_rate": (hits / n) if rollout else None,
            "rollout_chance_rate": (chance / n) if rollout else None,
            "rollout_hit_rate_strict": (strict / n) if rollout else None, "n": n}
