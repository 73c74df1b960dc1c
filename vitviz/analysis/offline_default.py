"""Which embedded model the app starts with when the model hub is out of reach, chosen by a number.

The classroom story of position embeddings is the ViT paper's figure 7 (centre): each patch's
embedding most similar to its 2D neighbours. The embedded model whose own position embeddings show
that best is the offline default: the largest gap between the mean cosine of 4-neighbour pairs and
that of far pairs on the same square ring around the centre (`PosLocality`, what the app's position
section measures), which is high for a 2D grid and ≈ 0 for a code of distance from the centre.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from vitviz.analysis.analyze import analyze
from vitviz.core.model import LoadedModel


@dataclass(frozen=True)
class PositionStory:
    """One model's position-embedding measurement."""

    name: str
    pattern: str  # "grid", "radial" or "none"
    gap: float  # 4-neighbour cos − same-ring-far cos (far pairs when no ring pair exists)


def position_story(name: str, loaded: LoadedModel) -> PositionStory:
    """Measure `loaded`'s position embeddings (through the same analysis the app runs)."""
    _, h, w = loaded.info.input_size
    loc = analyze(loaded, np.zeros((h, w, 3), np.uint8)).pos_locality
    other = loc.same_ring_far_cos if loc.same_ring_far_cos is not None else loc.far_cos
    return PositionStory(name, loc.pattern, loc.neighbour_cos - (other if other is not None else loc.neighbour_cos))


def choose(names: list[str], load: Callable[[str], LoadedModel]) -> tuple[str, str, dict]:
    """(name, why, values): the model among `names` whose position embeddings form the clearest 2D
    grid, the English sentence why, and its numbers (for saying it in other languages)."""
    stories = [position_story(n, load(n)) for n in names]
    best = max(stories, key=lambda s: (s.pattern == "grid", s.gap))
    others = "; ".join(f"{s.name}: {s.gap:.2f}, {s.pattern}" for s in stories if s is not best)
    claim = "form the clearest 2D grid" if best.pattern == "grid" else "are the closest to a 2D grid"
    why = (f"{best.name}, because its position embeddings {claim} (neighbour minus same-ring-far "
           f"cosine {best.gap:.2f}; {others})")
    return best.name, why, {"best": best, "others": [s for s in stories if s is not best]}
