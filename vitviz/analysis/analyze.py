"""`analyze`: one hooked forward pass → every map the app shows, as a typed `Analysis`."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from vitviz.analysis import attention as att
from vitviz.core.capture import capture
from vitviz.analysis.embeddings import PosLocality, model_filter_components, pos_embed_similarity, pos_locality
from vitviz.analysis.residual import LogitLens, TokenNorms, logit_lens, token_norms
from vitviz.core.geometry import PatchGrid
from vitviz.core.images import denormalise, load_image
from vitviz.core.model import LoadedModel, ModelInfo

# Keep every layer's full attention in float32 only up to this size; above it (e.g. ViT-L/16
# at 384: 24×16×577² ≈ 511 MB) keep float16. Every map is computed in float32 either way.
FULL_PRECISION_ATTENTION_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Prediction:
    index: int
    name: str
    probability: float


@dataclass
class Analysis:
    """Everything computed from one hooked forward pass of one image.

    L layers, H heads, N tokens (prefix first), P = gh·gw patches, C width, K classes.
    """

    info: ModelInfo
    fusion: att.Fusion
    discard_ratio: float
    input: np.ndarray  # (3, H, W) float32: the exact tensor fed to the model
    image: np.ndarray  # (H, W, 3) uint8: that tensor de-normalised, what the model "sees"
    logits: np.ndarray  # (K,) float32; the (C,) feature vector for a model without a head
    predictions: tuple[Prediction, ...]  # top 5
    attention: np.ndarray  # (L, H, N, N) float32 (float16 for very large models)
    cls_attention: np.ndarray  # (L, H, gh, gw): readout (CLS) row over patch tokens
    rollout: np.ndarray  # (gh, gw): rollout of the readout row, not max-normalised
    head_rollout: np.ndarray  # (L, H, gh, gw)
    pos_embed: np.ndarray  # (N, C): position embedding actually added
    pos_similarity: np.ndarray  # (P, gh, gw)
    attention_distance: np.ndarray  # (L, H) pixels
    tokens: np.ndarray  # (L+1, N, C) float32: residual stream entering block 1, then after each block
    gelu_near_zero: np.ndarray  # (L,) share of MLP hidden units with |GELU| ≈ 0
    filter_components: np.ndarray  # (k, ph, pw, 3) in [0, 1]
    class_names: tuple[str, ...] = ()
    relevance: np.ndarray | None = None  # (gh, gw), class-specific (Chefer 2021)
    relevance_class: int | None = None
    logit_lens: LogitLens | None = None  # the prediction after every block (None: the model has no head)
    notes: tuple[str, ...] = ()  # remarks about the input image, for the user
    version: str = ""

    @property
    def grid(self) -> PatchGrid:
        return self.info.patch_grid

    @property
    def readout(self) -> torch.Tensor:
        return att.model_readout(self.info)

    @property
    def token_norms(self) -> TokenNorms:
        """The residual-stream norm of every token entering block 1 and after each block, (L+1, N)."""
        return token_norms(self.tokens, self.info.num_prefix_tokens)

    @property
    def pos_locality(self) -> PosLocality:
        """What the position embeddings encode: 2D grid, distance from the centre, or nothing."""
        return pos_locality(self.pos_similarity)

    def rollout_map(self, fusion: att.Fusion = "mean", discard_ratio: float = 0.0) -> np.ndarray:
        """Rollout for other settings, from the captured attention (no forward pass) → (gh, gw)."""
        fused = att.fuse_heads(torch.from_numpy(self.attention).float(), fusion)
        return att.patch_columns(att.model_rollout(fused, self.info, discard_ratio), self.info.grid).numpy()

    def query_attention(self, token: int) -> np.ndarray:
        """What token `token` attends to, per layer and head, over patch tokens → (L, H, gh, gw)."""
        rows = torch.from_numpy(self.attention[:, :, token, :]).float()  # L, H, N
        return att.patch_columns(rows, self.info.grid).numpy()

    def meta(self) -> dict:
        return {
            "model": self.info.name,
            "patch_size": list(self.info.patch_size),
            "grid": list(self.info.grid),
            "num_prefix_tokens": self.info.num_prefix_tokens,
            "prefix_names": list(self.info.prefix_names),
            "readout": self.info.readout,
            "fusion": self.fusion,
            "discard_ratio": self.discard_ratio,
            "relevance_class": self.relevance_class,
            "info": self.info.to_dict(),
            "predictions": [p.__dict__ for p in self.predictions],
            "notes": list(self.notes),
            "vitviz_version": self.version,
        }

    def save_npz(self, path: str | os.PathLike) -> Path:
        """Write the documented NPZ export (see README: "Analysis NPZ format")."""
        arrays = {
            "input": self.input,
            "image": self.image,
            "logits": self.logits,
            "attention": self.attention,
            "cls_attention": self.cls_attention,
            "rollout": self.rollout,
            "head_rollout": self.head_rollout,
            "pos_embed": self.pos_embed,
            "pos_similarity": self.pos_similarity,
            "attention_distance": self.attention_distance,
            "tokens": self.tokens,
            "gelu_near_zero": self.gelu_near_zero,
            "filter_components": self.filter_components,
            "meta": np.array(json.dumps(self.meta())),
        }
        if self.relevance is not None:
            arrays["relevance"] = self.relevance
        path = Path(path)
        np.savez_compressed(path, **arrays)
        return path


def preprocess(loaded: LoadedModel, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    """timm's eval transform → the input (3, H, W) float32 and its de-normalised (H, W, 3) uint8."""
    x = loaded.transform(image).float()
    return x, denormalise(x, loaded.data_config["mean"], loaded.data_config["std"])


def top_predictions(logits: torch.Tensor, class_names: list[str], k: int = 5) -> tuple[Prediction, ...]:
    """Softmax probabilities of the top-k classes of (K,) logits; () for a model without a head."""
    if not class_names:  # num_classes=0 (e.g. DINO backbones): the output is a feature vector
        return ()
    probs = logits.float().softmax(-1)
    top = probs.topk(min(k, probs.numel()))
    return tuple(Prediction(int(i), class_names[int(i)], float(p)) for p, i in zip(top.values, top.indices))


def analyze(
    loaded: LoadedModel,
    image,
    *,
    fusion: att.Fusion = "mean",
    discard_ratio: float = 0.0,
    relevance_class: int | Literal["top"] | None = None,
    attention_dtype: Literal["auto"] | torch.dtype = "auto",
    time_limit: float | None = None,
) -> Analysis:
    """Analyse one image (PIL image, path, bytes or H×W×3 uint8 array) with one forward pass.

    Per-layer maps are reduced in float32 as each layer's attention is computed, so the full
    (L, H, N, N) stack is kept only once, in `attention_dtype` ("auto": float32 up to 64 MB).
    relevance_class: class index, or "top" for the top-1 class, adds class-specific relevance
    (a backward pass).
    time_limit: seconds; a longer forward pass stops with vitviz.core.capture.CaptureTimeout.
    """
    from vitviz import __version__

    picture = load_image(image)
    x, seen = preprocess(loaded, picture.image)
    info = loaded.info
    readout = att.model_readout(info)
    # Written layer by layer from the hook: the full stack exists once, never as list + copy.
    attn = torch.empty(info.depth, info.num_heads, info.num_tokens, info.num_tokens,
                       dtype=_attention_dtype(info, attention_dtype))
    layers = _LayerReductions(readout, info.patch_grid, fusion, attn)
    deadline = time.monotonic() + time_limit if time_limit is not None else None
    cap = capture(loaded.model, x.unsqueeze(0), attention_dtype=None, on_attention=layers.add,
                  target_class=_relevance_target(info, relevance_class), deadline=deadline)
    head_rows = att.compose_head_rollout(torch.stack(layers.head_rows),
                                         att.rollout_prefixes(torch.stack(layers.mean)))
    relevance = None
    if cap.attention_grads is not None:
        rows = att.readout_relevance(attn.float(), torch.cat(cap.attention_grads).float(), readout)
        relevance = att.patch_columns(rows, info.grid).numpy()

    pos = cap.pos_embed  # N, C
    logits = cap.logits[0]
    tokens = torch.cat(cap.tokens)  # L+1, N, C
    return Analysis(
        info=info,
        fusion=fusion,
        discard_ratio=float(discard_ratio),
        input=x.numpy(),
        image=seen,
        logits=logits.numpy(),
        predictions=top_predictions(logits, loaded.class_names),
        attention=attn.numpy(),
        cls_attention=att.patch_columns(torch.stack(layers.cls_rows), info.grid).numpy(),
        rollout=att.patch_columns(att.model_rollout(torch.stack(layers.fused), info, discard_ratio), info.grid).numpy(),
        head_rollout=att.patch_columns(head_rows, info.grid).numpy(),
        pos_embed=pos.numpy(),
        pos_similarity=pos_embed_similarity(pos[info.patch_grid.patch_tokens], info.grid).numpy(),
        attention_distance=torch.stack(layers.distance).numpy(),
        tokens=tokens.numpy(),
        gelu_near_zero=cap.gelu_near_zero[:, 0].numpy(),
        filter_components=model_filter_components(loaded.model).numpy(),
        class_names=tuple(loaded.class_names),
        relevance=relevance,
        relevance_class=cap.target_class,
        logit_lens=logit_lens(loaded.model, tokens, info),
        notes=picture.notes,
        version=__version__,
    )


def _attention_dtype(info: ModelInfo, requested: Literal["auto"] | torch.dtype) -> torch.dtype:
    """"auto": float32 while the full (L, H, N, N) stack fits FULL_PRECISION_ATTENTION_BYTES, else float16."""
    if requested != "auto":
        return requested
    full_bytes = info.depth * info.num_heads * info.num_tokens**2 * 4
    return torch.float32 if full_bytes <= FULL_PRECISION_ATTENTION_BYTES else torch.float16


def _relevance_target(info: ModelInfo, relevance_class: int | Literal["top"] | None):
    """The `target_class` argument of `capture`: None, a class index, or the top-1 picker."""
    if relevance_class is None:
        return None
    if info.num_classes == 0:
        raise ValueError(f"{info.name} has no classifier head, so there is no class to explain.")
    return _top_class if relevance_class == "top" else int(relevance_class)


def _top_class(logits: torch.Tensor) -> int:
    return int(logits[0].argmax())


@dataclass
class _LayerReductions:
    """Per-layer float32 reductions, computed inside the attention hook (batch of one)."""

    readout: torch.Tensor  # N
    grid: PatchGrid
    fusion: att.Fusion
    store: torch.Tensor  # L, H, N, N: receives every layer's probabilities
    fused: list[torch.Tensor] = field(default_factory=list)  # L × (N, N), chosen fusion
    mean: list[torch.Tensor] = field(default_factory=list)  # L × (N, N), mean fusion
    cls_rows: list[torch.Tensor] = field(default_factory=list)  # L × (H, N)
    head_rows: list[torch.Tensor] = field(default_factory=list)  # L × (H, N)
    distance: list[torch.Tensor] = field(default_factory=list)  # L × (H,)

    def add(self, layer: int, probs: torch.Tensor) -> None:
        a = probs[0].float()  # H, N, N
        self.store[layer] = a
        self.mean.append(att.fuse_heads(a, "mean"))
        self.fused.append(self.mean[-1] if self.fusion == "mean" else att.fuse_heads(a, self.fusion))
        self.cls_rows.append(att.readout_rows(a, self.readout))
        self.head_rows.append(att.readout_residual_rows(a, self.readout))
        self.distance.append(att.attention_distance(a, self.grid))
