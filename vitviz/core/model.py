"""Load a timm Vision Transformer and describe it: patch size, grid, prefix tokens, depth, heads.

Everything the app shows about a model's geometry comes from the `ModelInfo` built here,
which reads it off the loaded model, never from constants.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import timm
from timm.data import ImageNetInfo, create_transform, infer_imagenet_subset, resolve_data_config
from timm.models import get_arch_name, model_entrypoint
from timm.models.vision_transformer import VisionTransformer

from vitviz.core.assets import ASSETS
from vitviz.core.geometry import PatchGrid



MODELS_DIR = Path(os.environ.get("VITVIZ_MODELS_DIR", ASSETS / "models"))
EMBEDDED_MODEL = "vitviz-shapes"
# The default when pretrained weights can be had: ImageNet-21k pre-trained, ImageNet-1k fine-tuned.
DEFAULT_PRETRAINED = "vit_base_patch16_224.augreg2_in21k_ft_in1k"

# timm modules whose models are VisionTransformer (or a subclass of it).
SUPPORTED_MODULES = ("timm.models.vision_transformer", "timm.models.deit")
SUPPORTED_TEXT = (
    "vitviz supports timm Vision Transformers built from timm's VisionTransformer "
    "(vit_*, deit_*, DINO/DINOv2 ViTs, register ViTs) with a class token or average pooling"
)
# Readout: how the classifier reads the token sequence.
READOUTS = {"token": "cls", "avg": "avg"}


class ModelLoadError(ValueError):
    """A model could not be loaded; the message is one user-facing sentence."""


@dataclass(frozen=True)
class ModelInfo:
    """Geometry and shape facts of a loaded ViT, read off the model itself."""

    name: str
    input_size: tuple[int, int, int]  # C, H, W fed to the model
    patch_size: tuple[int, int]  # ph, pw
    grid: tuple[int, int]  # gh, gw
    num_prefix_tokens: int
    prefix_names: tuple[str, ...]  # e.g. ("CLS",), ("CLS", "DIST"), ("CLS", "REG1", ...)
    depth: int
    num_heads: int
    embed_dim: int
    head_dim: int
    mlp_hidden: int
    num_classes: int
    readout: str  # "cls": the head reads token 0; "avg": the head reads the mean of patch tokens
    pos_embed_on_prefix: bool  # False for no_embed_class models (prefix tokens get no position)

    @property
    def num_patches(self) -> int:
        return self.patch_grid.num_patches

    @property
    def num_tokens(self) -> int:
        return self.patch_grid.num_tokens

    @property
    def patch_grid(self) -> PatchGrid:
        """The patch grid of the input, after the prefix tokens."""
        return PatchGrid(self.grid, self.patch_size, self.num_prefix_tokens)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class LoadedModel:
    """A ViT in eval mode with its preprocessing, class names and geometry."""

    model: VisionTransformer
    info: ModelInfo
    transform: Callable  # PIL image -> (3, H, W) float tensor, timm's eval transform
    data_config: dict
    class_names: list[str]
    source: str  # one sentence: where the weights came from
    extra: dict = field(default_factory=dict)  # e.g. the embedded model's card
    origin: tuple[str, dict] = ("", {})  # (kind, values) of `source`, for saying it in other languages

    @property
    def name(self) -> str:
        return self.info.name



def load_model(
    name: str,
    pretrained: bool = True,
    checkpoint: str | os.PathLike | None = None,
    **model_kwargs,
) -> LoadedModel:
    """Load a timm ViT by name (or the embedded `vitviz-shapes`), ready for `capture`.

    pretrained: download weights through timm's hub cache (ignored when `checkpoint` is given).
    checkpoint: a local .safetensors, or .pth/.pt read with torch.load(weights_only=True).
    model_kwargs: passed to timm.create_model (e.g. class_token=False, global_pool="avg",
        or pretrained_cfg_overlay=dict(file=...) to take "pretrained" weights from a local file).
    Raises ModelLoadError with one clear sentence on any failure.
    """
    name = name.strip()
    if is_embedded(name):
        return _load_embedded(name, checkpoint)
    _check_supported_name(name)
    want_hub = pretrained and checkpoint is None
    try:
        model = timm.create_model(name, pretrained=want_hub, **model_kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:  # timm/hub raise many types; the user needs one sentence
        if want_hub:
            raise ModelLoadError(_hub_error_sentence(name, exc)) from None
        raise ModelLoadError(f"Could not build {name}: {_first_line(exc)}") from None
    if checkpoint is not None:
        _load_checkpoint(model, checkpoint, name)
        origin = ("checkpoint", {"name": name, "file": Path(checkpoint).name})
        source = f"{name} with weights from the local checkpoint {Path(checkpoint).name}."
    elif want_hub:
        origin = ("hub", {"name": name, "tag": model.pretrained_cfg.get("tag") or "default"})
        source = f"{name} with pretrained weights ({origin[1]['tag']}) from timm's hub cache."
    else:
        origin = ("random", {"name": name})
        source = f"{name} with random weights (no pretrained weights requested): attention is not meaningful."
    return _wrap(model, name, source, class_names=_class_names(model), origin=origin)


def _check_supported_name(name: str) -> None:
    if not timm.is_model(name):
        close = difflib.get_close_matches(get_arch_name(name), timm.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelLoadError(f"Unknown model name '{name}': it is not a timm model.{hint}")
    module = model_entrypoint(get_arch_name(name)).__module__
    if module not in SUPPORTED_MODULES:
        family = module.rsplit(".", 1)[-1]
        raise ModelLoadError(f"'{name}' is a {family} model, not a plain Vision Transformer: {SUPPORTED_TEXT}.")


def _hub_error_sentence(name: str, exc: Exception) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    offline_words = ("connect", "offline", "resolve", "network", "timed out", "hub", "localentrynotfound", "http")
    if any(w in text for w in offline_words):
        return (f"Could not download pretrained weights for {name}: the model hub is unreachable "
                f"(offline?); use the embedded model '{EMBEDDED_MODEL}', a local checkpoint, or random weights.")
    return f"Could not load pretrained weights for {name}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(f"Checkpoint file not found: {path.name}.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path), device="cpu")
        if suffix in (".pth", ".pt", ".bin"):
            # weights_only refuses pickles that would run code.
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        else:
            raise ModelLoadError(f"Unsupported checkpoint type '{suffix}': use .safetensors, .pth or .pt.")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"Refused or could not read checkpoint {path.name}: only safetensors and plain tensor "
            f"state dicts (torch.load weights_only=True) are accepted ({_first_line(exc)})."
        ) from None
    for key in ("state_dict", "model", "model_ema"):  # common training-script wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"Checkpoint {path.name} does not hold a state dict of tensors.")
    return obj


def _load_checkpoint(model: torch.nn.Module, checkpoint: str | os.PathLike, name: str) -> None:
    path = Path(checkpoint)
    state = _read_state_dict(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
            if keys:
                shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
                parts.append(f"{label}: {shown}")
        raise ModelLoadError(f"Checkpoint {path.name} does not fit {name}: " + "; ".join(parts) + ".")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def _class_names(model: torch.nn.Module) -> list[str]:
    num_classes = model.num_classes
    own = model.pretrained_cfg.get("label_names") if hasattr(model, "pretrained_cfg") else None
    if own and len(own) == num_classes:
        return list(own)
    subset = infer_imagenet_subset(model)
    if subset:
        info = ImageNetInfo(subset)
        if info.num_classes() == num_classes:
            return [info.index_to_description(i) for i in range(num_classes)]
    return [f"class {i}" for i in range(num_classes)]


def _embedded_paths(name: str = EMBEDDED_MODEL) -> tuple[Path, Path]:
    return MODELS_DIR / f"{name}.json", MODELS_DIR / f"{name}.safetensors"


def embedded_models() -> list[str]:
    """The models this project trained and ships: a card `<name>.json` + weights per name in MODELS_DIR,
    the default embedded model first."""
    names = sorted(p.stem for p in MODELS_DIR.glob("vitviz-*.json") if _embedded_paths(p.stem)[1].is_file())
    return sorted(names, key=lambda n: n != EMBEDDED_MODEL)


def is_embedded(name: str) -> bool:
    """A name of the `vitviz-*` family: loaded from its card, never from the hub or with random weights."""
    return name.strip().startswith("vitviz-")


def embedded_model_available(name: str = EMBEDDED_MODEL) -> bool:
    return all(p.is_file() for p in _embedded_paths(name))


def _load_embedded(name: str, checkpoint: str | os.PathLike | None) -> LoadedModel:
    card_path, weights_path = _embedded_paths(name)
    if not card_path.is_file():
        known = ", ".join(embedded_models()) or "none"
        raise ModelLoadError(f"The embedded model's card is missing ({card_path.name}; embedded models here: {known}).")
    card = json.loads(card_path.read_text())
    model = VisionTransformer(**card["model_args"])
    model.pretrained_cfg = dict(card["pretrained_cfg"], label_names=card["class_names"])
    _load_checkpoint(model, checkpoint or weights_path, name)
    data = card.get("data_summary", "generated shapes")
    source = (f"{name}: the small ViT this project trained itself on {data} "
              f"({', '.join(card['class_names'])}); it works offline.")
    origin = ("embedded", {"name": name, "data": data, "classes": ", ".join(card["class_names"])})
    return _wrap(model, name, source, class_names=list(card["class_names"]), extra={"card": card}, origin=origin)


def _wrap(model: torch.nn.Module, name: str, source: str, class_names: list[str], extra: dict | None = None,
          origin: tuple[str, dict] = ("", {})) -> LoadedModel:
    if not isinstance(model, VisionTransformer):
        raise ModelLoadError(f"'{name}' is a {type(model).__name__}: {SUPPORTED_TEXT}.")
    if model.attn_pool is not None or model.global_pool not in READOUTS:
        raise ModelLoadError(
            f"'{name}' pools its tokens with '{model.global_pool}', so no single token row explains its "
            f"prediction: {SUPPORTED_TEXT}."
        )
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    use_explicit_attention(model)
    data_config = resolve_data_config(model=model)
    if not model.dynamic_img_size:
        # A model built with another img_size than its pretrained config's (e.g. img_size=224 for a
        # DINOv2 that ships 518) only accepts its own size: the transform must produce that.
        data_config["input_size"] = (3, *model.patch_embed.img_size)
    transform = create_transform(**data_config, is_training=False)
    return LoadedModel(model=model, info=model_info(model, name, data_config), transform=transform,
                       data_config=data_config, class_names=class_names, source=source, extra=extra or {},
                       origin=origin)


def use_explicit_attention(model: VisionTransformer) -> None:
    """Make this instance's attention compute softmax(q kᵀ · scale) explicitly.

    timm's fused scaled-dot-product attention never materialises the probabilities. This flag
    is per module instance, so other models (and other users of timm) keep the fused kernel.
    """
    for block in model.blocks:
        block.attn.fused_attn = False


def prefix_names(model: VisionTransformer) -> tuple[str, ...]:
    names = ["CLS"] if model.cls_token is not None else []
    if getattr(model, "dist_token", None) is not None:
        names.append("DIST")
    if model.reg_token is not None:
        names += [f"REG{i + 1}" for i in range(model.reg_token.shape[1])]
    if len(names) != model.num_prefix_tokens:
        raise ModelLoadError(f"Unrecognised prefix tokens: {model.num_prefix_tokens} prefix tokens but found {names}.")
    return tuple(names)


def model_info(model: VisionTransformer, name: str, data_config: dict) -> ModelInfo:
    """Read the geometry of `model` at the input size given by `data_config`."""
    input_size = tuple(int(v) for v in data_config["input_size"])
    patch_size = tuple(int(v) for v in model.patch_embed.patch_size)
    grid = (input_size[1] // patch_size[0], input_size[2] // patch_size[1])
    attn = model.blocks[0].attn
    return ModelInfo(
        name=name,
        input_size=input_size,
        patch_size=patch_size,
        grid=grid,
        num_prefix_tokens=int(model.num_prefix_tokens),
        prefix_names=prefix_names(model),
        depth=len(model.blocks),
        num_heads=int(attn.num_heads),
        embed_dim=int(model.embed_dim),
        head_dim=int(attn.head_dim),
        mlp_hidden=_mlp_hidden(model.blocks[0].mlp),
        num_classes=int(model.num_classes),
        readout=READOUTS[model.global_pool],
        pos_embed_on_prefix=model.pos_embed is not None and not model.no_embed_class,
    )


def _mlp_hidden(mlp: torch.nn.Module) -> int:
    fc1 = getattr(mlp, "fc1", None) or getattr(mlp, "fc1_x", None)
    return int(fc1.out_features) if fc1 is not None else 0


@dataclass(frozen=True)
class DefaultModel:
    """Which model the app starts with, and why (shown to the user)."""

    name: str
    pretrained: bool
    reason: str
    why: tuple[str, dict] = ("", {})  # (kind, values) of `reason`, for saying it in other languages


def hub_reachable(timeout: float = 1.5) -> bool:
    """Can the model hub be reached? A TCP connect only; False when HF_HUB_OFFLINE is set."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def pretrained_weights_cached(name: str) -> bool:
    """Are `name`'s pretrained weights already in the local hub cache (no network)?"""
    from huggingface_hub import try_to_load_from_cache

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:
        return False
    repo = getattr(cfg, "hf_hub_id", None)
    if not repo:
        return False
    repo = repo.split("@")[0]  # drop a revision
    return any(isinstance(try_to_load_from_cache(repo, f), str)
               for f in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"))


def choose_default_model(env: dict | None = None, online: Callable[[], bool] = hub_reachable,
                         rank_offline: Callable[[list[str]], tuple[str, str, dict]] | None = None) -> DefaultModel:
    """The start-up model: VITVIZ_MODEL if set; a real pretrained ViT if its weights are cached or the
    hub is reachable; otherwise an embedded model (offline: `rank_offline(names)` → (name, why, its
    values) picks among several, else the first); random weights as the last resort."""
    env = os.environ if env is None else env
    name = env.get("VITVIZ_MODEL", "").strip()
    if name:
        random = env.get("VITVIZ_RANDOM_WEIGHTS", "").strip().lower() in ("1", "true", "yes")
        return DefaultModel(name, is_embedded(name) or not random, "chosen by the VITVIZ_MODEL setting", ("env", {}))
    if pretrained_weights_cached(DEFAULT_PRETRAINED):
        return DefaultModel(DEFAULT_PRETRAINED, True, "its pretrained weights are in the local cache", ("cached", {}))
    if online():
        return DefaultModel(DEFAULT_PRETRAINED, True, "the model hub is reachable", ("online", {}))
    names = embedded_models()
    if rank_offline is not None and len(names) > 1:
        name, why, values = rank_offline(names)
        return DefaultModel(name, True, f"the model hub is unreachable, so a built-in model is used, {why}",
                            ("offline_ranked", values))
    if names:
        return DefaultModel(names[0], True, "the model hub is unreachable, so the built-in model is used", ("offline", {}))
    return DefaultModel("vit_tiny_patch16_224", False,
                        "the model hub is unreachable and the built-in model is missing: random weights", ("missing", {}))
