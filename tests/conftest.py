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


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_app(model: str, random_weights: bool = True):
    """Start the app in this process on a free localhost port → (url, demo); the caller closes it."""
    import os
    from vitviz.runtime import return_large_buffers_to_os
    from vitviz.ui import build_demo, configure_queue, launch_kwargs

    return_large_buffers_to_os()  # as `python app.py` does

    saved = {k: os.environ.get(k) for k in ("VITVIZ_MODEL", "VITVIZ_RANDOM_WEIGHTS")}
    os.environ.update(VITVIZ_MODEL=model, VITVIZ_RANDOM_WEIGHTS="1" if random_weights else "0")
    try:
        demo = configure_queue(build_demo())  # reads the default model from the environment
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    return f"http://127.0.0.1:{port}/", demo
