"""Explanation maps side by side: one call per method, one (gh, gw) float32 map each.

Every map is over the patch grid and normalised the same way (`unit_range`): min–max to
[0, 1] per map, a constant map becomes all zeros. Higher means "more important for the
chosen class". Methods:

* core (one hooked forward + backward shared through `Context.capture`, see vitviz.core.capture):
  ``rollout`` (Abnar & Zuidema 2020; fusion / discard_ratio options), ``head_rollout``
  (per-head rollout at one layer; default: the last layer, max over heads — the mean over
  heads would be exactly ``rollout`` because every head's (A + I)/2 already has unit rows),
  ``relevance`` (class-specific, Chefer et al. 2021), ``cls_attention`` (the readout row of
  the last layer's attention, mean of heads).
* Grad-CAM family through pytorch_grad_cam: ``gradcam``, ``eigencam`` (target layer: the
  last block's ``norm1``; tokens folded to (B, C, gh, gw) by `tokens_to_grid`).
* Captum: ``integrated_gradients``, ``input_x_gradient`` (per-pixel attributions summed over
  channels, then the absolute values summed per patch; ``sign="positive"`` keeps only the
  positive part instead).

Nothing here mutates the shared model: parameters stay frozen (the input tensor carries the
gradient), and Grad-CAM's hooks sit on a private module that only this call's forward pass
reaches, so other threads running the same model never feed them.
"""
from __future__ import annotations

import time
from contextvars import ContextVar
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

import numpy as np
import torch
from torch import Tensor

from vitviz.analysis import attention as att
from vitviz.core.capture import Capture, capture
from vitviz.core.geometry import PatchGrid
from vitviz.core.model import LoadedModel

Sign = Literal["abs", "positive"]


@dataclass(frozen=True)
class Explanation:
    """One method's map for one image and class."""

    method: str
    target: int  # class index explained
    map: np.ndarray  # (gh, gw) float32 in [0, 1] (see `unit_range`)
    seconds: float  # wall time of this method's call (see `explain_all` for shared work)


@dataclass
class Context:
    """One image, one class and the work methods can share (the hooked capture)."""

    loaded: LoadedModel
    x: Tensor  # (1, 3, H, W) normalised model input
    target: int
    _capture: Capture | None = field(default=None, repr=False)

    def capture(self) -> Capture:
        """Attention probabilities and d logit[target] / d attention, computed once."""
        if self._capture is None:
            self._capture = capture(self.loaded.model, self.x, target_class=self.target)
        return self._capture

    @property
    def readout(self) -> Tensor:
        return att.model_readout(self.loaded.info)

    def attention(self) -> Tensor:
        """(L, H, N, N) float32 attention of the one image."""
        return torch.cat(self.capture().attention).float()


# --------------------------------------------------------------------------- normalisation

def unit_range(raw: np.ndarray | Tensor) -> np.ndarray:
    """Min–max to [0, 1] → float32 of the same shape; a constant (or empty) map → zeros.

    Non-finite entries are treated as the map's minimum, so a map is always finite.
    """
    m = np.asarray(raw.detach().cpu() if isinstance(raw, Tensor) else raw, dtype=np.float64)
    finite = np.isfinite(m)
    if not finite.any():
        return np.zeros(m.shape, np.float32)
    lo, hi = m[finite].min(), m[finite].max()
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.zeros(m.shape, np.float32)
    return ((np.where(finite, m, lo) - lo) / (hi - lo)).astype(np.float32)


# --------------------------------------------------------------------------- core methods

def rollout_map(ctx: Context, fusion: att.Fusion = "mean", discard_ratio: float = 0.0) -> Tensor:
    """Attention rollout of the readout row → (gh, gw)."""
    fused = att.fuse_heads(ctx.attention(), fusion)
    return att.patch_columns(att.model_rollout(fused, ctx.loaded.info, discard_ratio), ctx.loaded.info.grid)


def head_rollout_map(ctx: Context, layer: int = -1, head: int | Literal["max"] = "max") -> Tensor:
    """Per-head rollout at `layer` → (gh, gw): one head's, or per patch the max over heads."""
    per_head = att.patch_columns(att.head_rollout(ctx.attention(), ctx.readout), ctx.loaded.info.grid)[layer]
    return per_head.amax(0) if head == "max" else per_head[head]  # per_head: H, gh, gw


def relevance_map(ctx: Context) -> Tensor:
    """Class-specific relevance (Chefer et al. 2021) of the readout row → (gh, gw)."""
    cap = ctx.capture()
    rows = att.readout_relevance(ctx.attention(), torch.cat(cap.attention_grads).float(), ctx.readout)
    return att.patch_columns(rows, ctx.loaded.info.grid)


def cls_attention_map(ctx: Context, layer: int = -1) -> Tensor:
    """Raw attention of the readout (CLS) row at `layer`, mean of heads → (gh, gw)."""
    fused = att.fuse_heads(ctx.attention()[layer], "mean")  # N, N
    return att.patch_columns(att.readout_rows(fused, ctx.readout), ctx.loaded.info.grid)


# --------------------------------------------------------------------------- Grad-CAM family

def tokens_to_grid(tokens: Tensor, grid: PatchGrid) -> Tensor:
    """grad-cam reshape_transform: (B, N, C) tokens → (B, C, gh, gw) patch tokens.

    Drops the prefix tokens (CLS, distillation, registers) and folds the rest row-major,
    as timm lays them out.
    """
    patches = tokens[:, grid.patch_tokens, :].transpose(1, 2)  # B, C, P
    return grid.fold(patches)


# Set only while this thread runs a Grad-CAM forward pass (ContextVars are per thread).
_cam_call: ContextVar[object | None] = ContextVar("vitviz_cam_call", default=None)


def _single_thread_blas():
    """Limit numpy's BLAS to one thread (EigenCAM's SVD): on a busy 2-core machine a
    multi-threaded OpenBLAS SVD of a (P, C) matrix took seconds instead of ~50 ms."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed matter
        from contextlib import nullcontext
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


@lru_cache(maxsize=None)
def _at_patch_grid(cam_class: type) -> type:
    """The grad-cam class, asked for its raw (gh, gw) map: `get_target_width_height` is
    grad-cam's own hook for the output size, and None there means "do not resize"."""
    return type(f"{cam_class.__name__}AtPatchGrid", (cam_class,), {"get_target_width_height": lambda self, x: None})


def _grad_cam(ctx: Context, cam_class: type) -> Tensor:
    """Run one pytorch_grad_cam class on the last block's norm1 → (gh, gw)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, info = ctx.loaded.model, ctx.loaded.info
    # grad-cam hooks a private tap, which the guard below routes norm1's output through only
    # during this call: other threads' forward passes on the shared model never reach it.
    tap = torch.nn.Identity()
    me = object()

    def guard(_m, _i, out: Tensor) -> Tensor | None:
        return tap(out) if _cam_call.get() is me else None

    handle = model.blocks[-1].norm1.register_forward_hook(guard)
    reset = _cam_call.set(me)
    try:
        cam = _at_patch_grid(cam_class)(model=model, target_layers=[tap],
                                        reshape_transform=lambda t: tokens_to_grid(t, info.patch_grid))
        try:
            with torch.enable_grad(), _single_thread_blas():
                # Frozen parameters: a private leaf input that needs grad lets the gradient
                # reach the activations (without it grad-cam's backward has nothing to do).
                x = ctx.x.detach().clone().requires_grad_(True)
                out = cam(input_tensor=x, targets=[ClassifierOutputTarget(ctx.target)])
        finally:
            # Explicit release rather than `with cam:`, whose __exit__ swallows IndexError.
            cam.activations_and_grads.release()
    finally:
        _cam_call.reset(reset)
        handle.remove()
    return torch.from_numpy(np.asarray(out[0], dtype=np.float32))


def gradcam_map(ctx: Context) -> Tensor:
    """Grad-CAM (Selvaraju et al. 2017) on the last block's norm1 → (gh, gw)."""
    from pytorch_grad_cam import GradCAM
    return _grad_cam(ctx, GradCAM)


def eigencam_map(ctx: Context) -> Tensor:
    """EigenCAM (Muhammad & Yeasin 2020): first principal component of norm1 tokens → (gh, gw).

    Class-agnostic (no gradients); the sign of a principal component is arbitrary.
    """
    from pytorch_grad_cam import EigenCAM
    return _grad_cam(ctx, EigenCAM)


# --------------------------------------------------------------------------- Captum

def per_patch(attr: Tensor, patch_size: tuple[int, int], sign: Sign = "abs") -> Tensor:
    """Pixel attributions (3, H, W) → (gh, gw): sum over channels, then |·| (or ·⁺) summed per patch."""
    a = attr.sum(0)  # H, W: one number per pixel, the channel contributions added up
    a = a.abs() if sign == "abs" else a.clamp(min=0)
    ph, pw = patch_size
    h, w = a.shape
    return a[: h // ph * ph, : w // pw * pw].reshape(h // ph, ph, w // pw, pw).sum((1, 3))


def integrated_gradients_map(ctx: Context, n_steps: int = 32, sign: Sign = "abs",
                             internal_batch_size: int = 32) -> Tensor:
    """Integrated Gradients (Sundararajan et al. 2017) from the data-mean (zero) input → (gh, gw)."""
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(ctx.loaded.model)
    with torch.enable_grad():
        attr = ig.attribute(ctx.x.detach().clone(), baselines=torch.zeros_like(ctx.x), target=ctx.target,
                            n_steps=n_steps, internal_batch_size=internal_batch_size)
    return per_patch(attr[0].detach(), ctx.loaded.info.patch_size, sign)


def input_x_gradient_map(ctx: Context, sign: Sign = "abs") -> Tensor:
    """Input × Gradient (Shrikumar et al. 2016) → (gh, gw)."""
    from captum.attr import InputXGradient

    with torch.enable_grad():
        attr = InputXGradient(ctx.loaded.model).attribute(ctx.x.detach().clone().requires_grad_(True), target=ctx.target)
    return per_patch(attr[0].detach(), ctx.loaded.info.patch_size, sign)


# --------------------------------------------------------------------------- registry & API

MethodFn = Callable[..., Tensor]

METHODS: dict[str, MethodFn] = {
    "rollout": rollout_map,
    "head_rollout": head_rollout_map,
    "relevance": relevance_map,
    "cls_attention": cls_attention_map,
    "gradcam": gradcam_map,
    "eigencam": eigencam_map,
    "integrated_gradients": integrated_gradients_map,
    "input_x_gradient": input_x_gradient_map,
}
# Methods that read the shared capture (one forward + backward for all of them).
CORE_METHODS = ("rollout", "head_rollout", "relevance", "cls_attention")


def model_input(loaded: LoadedModel, x_or_image) -> Tensor:
    """A (1, 3, H, W) float32 model input from a tensor or float array (3, H, W)/(1, 3, H, W)
    (e.g. `Analysis.input`), or any image `vitviz.load_image` accepts (preprocessed with the
    model's eval transform)."""
    if isinstance(x_or_image, np.ndarray) and x_or_image.dtype.kind == "f" and x_or_image.ndim in (3, 4):
        x_or_image = torch.from_numpy(x_or_image)
    if isinstance(x_or_image, Tensor):
        x = x_or_image.detach().float()
        return x.unsqueeze(0) if x.dim() == 3 else x
    from vitviz.analysis.analyze import preprocess
    from vitviz.core.images import load_image
    return preprocess(loaded, load_image(x_or_image).image)[0].unsqueeze(0)


def top_class(loaded: LoadedModel, x: Tensor) -> int:
    """Top-1 class of a (1, 3, H, W) input."""
    with torch.no_grad():
        return int(loaded.model(x)[0].argmax())


def make_context(loaded: LoadedModel, x_or_image, target: int | None = None) -> Context:
    if loaded.info.num_classes == 0:
        raise ValueError(f"{loaded.info.name} has no classifier head, so there is no class to explain.")
    x = model_input(loaded, x_or_image)
    if x.shape[0] != 1:
        raise ValueError(f"explain takes one image, got a batch of {x.shape[0]}")
    return Context(loaded, x, top_class(loaded, x) if target is None else int(target))


def _run(ctx: Context, method: str, opts: dict) -> Explanation:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    start = time.perf_counter()
    raw = METHODS[method](ctx, **opts)
    return Explanation(method, ctx.target, unit_range(raw), time.perf_counter() - start)


def explain(loaded: LoadedModel, x_or_image, method: str, target: int | None = None, **opts) -> Explanation:
    """One method's normalised (gh, gw) map for class `target` (default: top-1)."""
    return _run(make_context(loaded, x_or_image, target), method, opts)


def explain_all(
    loaded: LoadedModel,
    x_or_image,
    target: int | None = None,
    methods: Iterable[str] | None = None,
    options: dict[str, dict] | None = None,
) -> dict[str, Explanation]:
    """Several methods on one image and class → {method: Explanation}, in `methods` order.

    The core methods share one hooked forward + backward; its time is counted in the first
    core method that runs. options: per-method keyword arguments, e.g. {"rollout": {...}}.
    """
    ctx = make_context(loaded, x_or_image, target)
    options = options or {}
    return {m: _run(ctx, m, options.get(m, {})) for m in (methods or METHODS)}
