"""Shared fixtures: small random-init models, built once per session (no model hub)."""
import numpy as np
import pytest
import torch

import vitviz


@pytest.fixture(scope="session")
def tiny():
    """vit_tiny_patch16_224, random init: 12 blocks, 3 heads, 14×14 grid, 197 tokens."""
    torch.manual_seed(0)
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A smooth, non-square RGB test picture (H×W×3 uint8) with structure for attention."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:240, 0:320] / 40.0
    img = np.stack([np.sin(x) * 0.5 + 0.5, np.cos(y) * 0.5 + 0.5, np.sin(x + y) * 0.5 + 0.5], -1)
    img += rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_analysis(tiny, photo):
    return vitviz.analyze(tiny, photo, relevance_class="top")
