"""The vitviz Gradio app: one section per stage of a ViT's forward pass.

UI wiring only: the maths lives in `vitviz.analyze` / `vitviz.attention` / `vitviz.neuron`,
the pictures in `vitviz.render` and `vitviz.ui.views`.

Running the model happens only when the image or the model changes (and for class-specific
relevance). Every other control re-draws from the `Analysis` kept per browser tab in
`gr.State`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import numpy as np
import torch
from PIL import Image

import vitviz
from vitviz import EMBEDDED_MODEL, CaptureTimeout, ImageError, ModelLoadError
from vitviz.model import choose_default_model, embedded_model_available
from . import views as V
from .text import LANG_CHOICES, tr


EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
CURATED_MODELS = (
    "vit_base_patch16_224.augreg2_in21k_ft_in1k",
    "vit_small_patch16_224.augreg_in21k_ft_in1k",
    "deit_tiny_patch16_224.fb_in1k",
    "deit_small_distilled_patch16_224.fb_in1k",
    "vit_small_patch16_224.dino",
    "vit_small_patch14_reg4_dinov2.lvd142m",
    "vit_base_patch32_224.augreg_in21k_ft_in1k",
    "vit_tiny_patch16_224",
)
MAX_FILE_SIZE = "25mb"  # the same limit vitviz.images enforces
QUEUE_SIZE = 32
CONCURRENCY = 2
MODEL_CACHE_SIZE = 3
# Per-tab state keeps the attention in half precision: ViT-B/16's (12, 12, 197, 197) stack is
# 11 MB instead of 22 MB; every map computed at analysis time is still float32-exact.
SESSION_ATTENTION_DTYPE = torch.float16
# A forward pass longer than this is stopped (between blocks) so one request cannot hold a worker.
REQUEST_TIME_LIMIT_S = 120.0
MAX_EXAMPLES = 36

CSS = """
.vv-title h1 {margin-bottom: 0.2em;}
.vv-img img {object-fit: contain;}
.vv-img label[data-testid="block-label"] {position: static !important; display: inline-flex; margin: 4px 0 6px 4px;
  white-space: normal; max-width: calc(100% - 70px);}
.vv-section {border-top: 1px solid var(--border-color-primary); padding-top: 0.6em; margin-top: 0.4em;}
.vv-status {font-size: 0.95em;}
@media (max-width: 640px) { .vv-hide-mobile {display: none;} .prose table {font-size: 0.8em;} }
"""


# --------------------------------------------------------------------------- model cache
class ModelCache:
    """A small process-wide LRU of loaded models keyed by (name, pretrained).

    Models are read-only at inference (eval mode, no grads, hooks are per call), so one
    instance can serve every user. The cache's lock only guards the dictionary; loading
    holds a per-key lock, so concurrent requests for the same model load it once while
    users of other (cached) models are never blocked by a slow load.
    """

    def __init__(self, size: int = MODEL_CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[tuple[str, bool], vitviz.LoadedModel] = OrderedDict()
        self._loading: dict[tuple[str, bool], threading.Lock] = {}

    @staticmethod
    def key(name: str, pretrained: bool) -> tuple[str, bool]:
        name = (name or "").strip()
        return (name, True) if name == EMBEDDED_MODEL else (name, bool(pretrained))

    def _cached(self, key: tuple[str, bool]) -> vitviz.LoadedModel | None:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            return None

    def get(self, name: str, pretrained: bool) -> vitviz.LoadedModel:
        """The loaded model for (name, pretrained); raises vitviz.ModelLoadError."""
        key = self.key(name, pretrained)
        hit = self._cached(key)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._cached(key)
            if hit is not None:
                return hit
            try:
                loaded = vitviz.load_model(key[0], pretrained=key[1])
                with self._lock:
                    self._models[key] = loaded
                    while len(self._models) > self.size:
                        self._models.popitem(last=False)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            return loaded

    def __contains__(self, key: tuple[str, bool]) -> bool:
        with self._lock:
            return key in self._models


MODELS = ModelCache()
EXPLANATIONS = V.AnalysisCache(6)  # per analysis and class: {method: map}, {method: seconds}
FAITHFULNESS_STEPS = 10


def explanation_maps(loaded: vitviz.LoadedModel, a: vitviz.Analysis,
                     target: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every explain method's (gh, gw) map in [0, 1] for class `target` (computed once per analysis and class)."""
    from vitviz.explain import explain_all

    def compute():
        found = explain_all(loaded, torch.from_numpy(np.asarray(a.input, dtype=np.float32)), target=int(target))
        return {m: e.map for m, e in found.items()}, {m: e.seconds for m, e in found.items()}

    return EXPLANATIONS.get(a, f"explain:{int(target)}", compute)


def faithfulness_curves(loaded: vitviz.LoadedModel, a: vitviz.Analysis, maps: dict[str, np.ndarray], target: int,
                        mode: str, progress=None) -> list:
    """Deletion + insertion curves of every map plus the random baseline (vitviz.faithfulness.Curve list)."""
    from vitviz.faithfulness import curves

    maps = dict(maps)
    maps[V.RANDOM_BASELINE] = V.random_map(a)
    return curves(loaded, torch.from_numpy(np.asarray(a.input, dtype=np.float32)), maps, int(target),
                  modes=(mode,), steps=FAITHFULNESS_STEPS, progress=progress)


def what_if_outputs(loaded: vitviz.LoadedModel, a: vitviz.Analysis, selected, keep_mode: str,
                    lang: str = "en") -> tuple[dict[str, float], np.ndarray, str]:
    """One forward of the reduced sequence → (top-5 label, rollout picture, status Markdown).

    keep_mode "drop": the selected patches are removed; "keep": only they stay. Nothing selected:
    the full sequence."""
    from vitviz.faithfulness import what_if

    sel = sorted({int(i) for i in selected or ()})
    p = a.info.num_patches
    x = np.asarray(a.input, dtype=np.float32)
    if not sel:
        w = what_if(loaded, x, fusion=a.fusion, discard_ratio=a.discard_ratio)
    elif keep_mode == "keep":
        w = what_if(loaded, x, keep_only=sel, fusion=a.fusion, discard_ratio=a.discard_ratio)
    else:
        w = what_if(loaded, x, drop=sel, fusion=a.fusion, discard_ratio=a.discard_ratio)
    kept = int(w.kept.sum())
    text = (tr("whatif_full", lang, p=p) + " " if not sel else "") + tr(
        "whatif_status", lang, kept=kept, p=p, tokens=kept + a.info.num_prefix_tokens, ms=w.seconds * 1000)
    label = V.probabilities_label(a, w.probs) if a.predictions else {}
    return label, V.what_if_image(a, w.rollout, w.kept, sel), text


def list_examples() -> list[str]:
    """Image files in assets/examples/ (and its sub-folders), listed when the app is built."""
    if not EXAMPLES_DIR.is_dir():
        return []
    found = sorted(EXAMPLES_DIR.rglob("*"), key=lambda p: (len(p.relative_to(EXAMPLES_DIR).parts), str(p)))
    return [str(p) for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES][:MAX_EXAMPLES]


def model_choices() -> list[str]:
    first = [EMBEDDED_MODEL] if embedded_model_available() else []
    return first + list(CURATED_MODELS)


_EXPORT_LOCK = threading.Lock()
_EXPORT_ROOT: Path | None = None
EXPORT_KEEP_SECONDS = 15 * 60


def _export_folder() -> Path:
    """A fresh folder under one per-process temp dir; folders older than 15 minutes are removed
    (gradio has copied their files into its own cache by then)."""
    import shutil
    import time

    global _EXPORT_ROOT
    with _EXPORT_LOCK:
        if _EXPORT_ROOT is None or not _EXPORT_ROOT.is_dir():
            _EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="vitviz-export-"))
        now = time.time()
        for old in _EXPORT_ROOT.iterdir():
            if old.is_dir() and now - old.stat().st_mtime > EXPORT_KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=_EXPORT_ROOT))


# --------------------------------------------------------------------------- session state
@dataclasses.dataclass
class Session:
    """What one browser tab keeps between events."""

    analysis: vitviz.Analysis | None = None
    model_key: tuple[str, bool] | None = None
    source: str = ""
    image_path: str | None = None


def hand_over_upload_untouched(image: gr.Image) -> gr.Image:
    """Make `image` pass the uploaded file's path to handlers without opening it.

    gr.Image opens uploads with PIL before the handler runs, so a corrupt file or a
    decompression bomb would fail inside gradio with a generic error; vitviz.load_image
    gives each of those one clear sentence instead. (Set on the instance: a gr.Image
    subclass would make gradio write a .pyi stub next to this module.)
    """
    default = image.preprocess

    def preprocess(payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return default(payload)

    image.preprocess = preprocess
    return image


def save_png_atomically(image: Image.Image, cache_dir: str | Path) -> str:
    """Write `image` as PNG to `cache_dir/<sha256>/image.png` and return the path.

    Content-addressed like gradio's own cache, but written under a temporary name and
    renamed into place, and an existing file is reused untouched: identical pictures for
    two users never rewrite a file one of them is still downloading.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    folder = Path(cache_dir) / hashlib.sha256(data).hexdigest()
    path = folder / "image.png"
    try:
        os.utime(path)  # already there: delete_cache ages files by time, a re-served picture starts afresh
        return str(path)
    except FileNotFoundError:  # new, or removed by delete_cache a moment ago
        pass
    folder.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=".image.", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def serve_outputs_atomically(image: gr.Image) -> gr.Image:
    """Make output `image` hand gradio a finished file instead of an array or PIL image.

    gradio saves array/PIL outputs content-addressed with a plain `write_bytes`, so when
    concurrent users get the same picture (the same example image), a later write truncates
    the file while an earlier user is still downloading it (seen as failed requests in the
    concurrency benchmark). A path inside gradio's cache is served as it is. (Set on the
    instance, like `hand_over_upload_untouched`.)
    """
    default = image.postprocess

    def postprocess(value):
        if isinstance(value, np.ndarray):
            value = Image.fromarray(value)
        if isinstance(value, Image.Image):
            value = save_png_atomically(value, image.GRADIO_CACHE)
        return default(value)

    image.postprocess = postprocess
    return image


def delete_cache() -> tuple[int, int]:
    """(every, older than) seconds for gradio's temp-file cleanup; VITVIZ_DELETE_CACHE="60,120" overrides.

    Default: files older than an hour are removed every 30 minutes.
    """
    every, age = (int(v) for v in os.environ.get("VITVIZ_DELETE_CACHE", "1800,3600").split(","))
    return every, age


def guard_cache_cleanup() -> None:
    """Keep gradio's `delete_cache` task alive while requests are being served.

    gradio (6.31) walks its live temp-file sets while request threads add to them: the first
    "Set changed size during iteration" ends the scheduled task for good, and from then on every
    upload and output picture stays on disk (a Space fills its disk). Here gradio's own cleanup
    runs on snapshots of the sets (copying a set is atomic under the GIL), what it deleted is
    then taken out of the live sets, and any other error is logged instead of ending the task.
    Idempotent.
    """
    from gradio import route_utils
    cleanup = route_utils.delete_files_created_by_app
    if getattr(cleanup, "vitviz_guard", False):
        return

    def guarded(blocks, age):
        live = list(blocks.temp_file_sets)
        before = [set(files) for files in live]
        snapshot = SimpleNamespace(blocks=dict(blocks.blocks), temp_file_sets=[set(files) for files in before])
        try:
            cleanup(snapshot, age)  # removes what it deleted from the snapshot's sets
        except Exception:  # one failed sweep must not stop all later ones
            logging.getLogger(__name__).exception("gradio temp-file cleanup failed; retrying at the next sweep")
        for files, old, kept in zip(live, before, snapshot.temp_file_sets):
            files -= old - kept

    guarded.vitviz_guard = True
    route_utils.delete_files_created_by_app = guarded


def _settings(lang, layer, head, patch, query, fusion, discard) -> V.ViewSettings:
    return V.ViewSettings(lang=lang or "en", layer=max(0, int(layer or 1) - 1), head=int(head or 0),
                          patch=tuple(patch) if patch else (0, 0), query=query or "patch",
                          fusion=fusion or "mean", discard=float(discard or 0.0))


def _clamp(a: vitviz.Analysis, s: V.ViewSettings) -> V.ViewSettings:
    gh, gw = a.info.grid
    patch = (min(max(s.patch[0], 0), gh - 1), min(max(s.patch[1], 0), gw - 1))
    query = s.query if s.query in a.info.prefix_names else "patch"
    return dataclasses.replace(s, layer=min(s.layer, a.info.depth - 1), head=min(s.head, a.info.num_heads - 1),
                               patch=patch, query=query)


def _model(session: Session) -> vitviz.LoadedModel:
    return MODELS.get(*session.model_key)


def _is_random(session: Session) -> bool:
    return bool(session.model_key) and not session.model_key[1] and session.model_key[0] != EMBEDDED_MODEL


# --------------------------------------------------------------------------- the UI
def build_demo() -> gr.Blocks:
    start = choose_default_model()
    name0, random0 = start.name, not start.pretrained
    examples = list_examples()
    choices = model_choices()
    if name0 not in choices:
        choices = [name0] + choices

    guard_cache_cleanup()
    with gr.Blocks(title="vitviz: inside a Vision Transformer", fill_width=False, delete_cache=delete_cache(),
                   analytics_enabled=False) as demo:
        session = gr.State(Session())
        patch_state = gr.State(None)

        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=330):
                title_md = gr.Markdown(tr("title"), elem_classes="vv-title")
            with gr.Column(scale=1, min_width=230):
                lang = gr.Radio(LANG_CHOICES, value="en", label=tr("language"), elem_id="vv-lang")
        intro_md = gr.Markdown(tr("intro"))

        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                image_in = hand_over_upload_untouched(gr.Image(
                    type="filepath", label=tr("image"), sources=["upload", "clipboard"], height=300, elem_id="vv-input"))
                examples_block = None
                if examples:
                    examples_block = gr.Examples(examples=[[p] for p in examples], inputs=[image_in],
                                                 label=tr("examples"), examples_per_page=12)
            with gr.Column(scale=1, min_width=300):
                model_dd = gr.Dropdown(choices=choices, value=name0, allow_custom_value=True, label=tr("model"),
                                       elem_id="vv-model")
                random_cb = gr.Checkbox(value=random0, label=tr("random_weights"), elem_id="vv-random")
                status_md = gr.Markdown(tr("status_image"), elem_classes="vv-status", elem_id="vv-status")
                label = gr.Label(num_top_classes=5, label=tr("label"), elem_id="vv-label")

        # 1. input and patches
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-input"):
            a_md = gr.Markdown(tr("sec_a"))
            with gr.Row(equal_height=False):
                grid_img = gr.Image(label=tr("img_grid_static"), interactive=False, format="png", elem_id="vv-grid",
                                    elem_classes="vv-img", buttons=["download", "fullscreen"])
                with gr.Column():
                    strip_img = gr.Image(label=tr("img_strip"), interactive=False, format="png", elem_id="vv-strip",
                                         elem_classes="vv-img", buttons=["download", "fullscreen"])
                    patch_md = gr.Markdown("", elem_id="vv-patch")
            with gr.Row(equal_height=False):
                shapes_md = gr.Markdown("", elem_id="vv-shapes")
                with gr.Column():
                    filters_img = gr.Image(label=tr("img_filters"), interactive=False, format="png",
                                           elem_id="vv-filters", elem_classes="vv-img", buttons=["download"])
                    filters_md = gr.Markdown(tr("filters_expl"))

        # 2. position embeddings
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-position"):
            b_md = gr.Markdown(tr("sec_b"))
            with gr.Row(equal_height=False):
                pos_all_img = gr.Image(label=tr("img_pos_all"), interactive=False, format="png", elem_id="vv-pos-all",
                                       elem_classes="vv-img", buttons=["download", "fullscreen"])
                pos_patch_img = gr.Image(label=tr("img_pos_patch"), interactive=False, format="png",
                                         elem_id="vv-pos-patch", elem_classes="vv-img", buttons=["download"])

        # 3. attention
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-attention"):
            c_md = gr.Markdown(tr("sec_c"))
            with gr.Row():
                layer_sl = gr.Slider(1, 12, value=1, step=1, label=tr("layer"), elem_id="vv-layer")
                head_rd = gr.Radio([("1", 0)], value=0, label=tr("head"), elem_id="vv-head")
                query_rd = gr.Radio([(tr("query_patch"), "patch"), ("CLS", "CLS")], value="patch",
                                    label=tr("query_kind"), elem_id="vv-query")
            with gr.Row(equal_height=False):
                query_img = gr.Image(label=tr("img_query"), interactive=False, format="png", elem_id="vv-query-img",
                                     elem_classes="vv-img", buttons=["download", "fullscreen"])
                with gr.Column():
                    query_heads_img = gr.Image(label=tr("img_query_heads"), interactive=False, format="png",
                                               elem_id="vv-query-heads", elem_classes="vv-img", buttons=["download"])
                    heads_img = gr.Image(label=tr("img_heads"), interactive=False, format="png", elem_id="vv-heads",
                                         elem_classes="vv-img", buttons=["download"])
            with gr.Row(equal_height=False):
                overview_img = gr.Image(label=tr("img_overview"), interactive=False, format="png",
                                        elem_id="vv-overview", elem_classes="vv-img", buttons=["download", "fullscreen"])
                with gr.Column():
                    distance_img = gr.Image(label=tr("img_distance"), interactive=False, format="png",
                                            elem_id="vv-distance", elem_classes="vv-img", buttons=["download"])
                    distance_md = gr.Markdown("")
            with gr.Row(equal_height=False):
                with gr.Column():
                    neuron_md = gr.Markdown(tr("sub_neuron"), elem_id="vv-neuron-md")
                    neuron_img = gr.Image(label=tr("img_neuron"), interactive=False, format="png", elem_id="vv-neuron",
                                          elem_classes="vv-img", buttons=["download", "fullscreen"])
                with gr.Column():
                    block_md = gr.Markdown(tr("sub_block"), elem_id="vv-block-md")
                    block_img = gr.Image(label=tr("img_block"), interactive=False, format="png", elem_id="vv-block",
                                         elem_classes="vv-img", buttons=["download"])

        # 4. rollout
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-rollout"):
            d_md = gr.Markdown(tr("sec_d"))
            with gr.Row():
                fusion_rd = gr.Radio(["mean", "max", "min"], value="mean", label=tr("fusion"), elem_id="vv-fusion")
                discard_sl = gr.Slider(0.0, 0.95, value=0.0, step=0.05, label=tr("discard"), elem_id="vv-discard")
            with gr.Row(equal_height=False):
                rollout_img = gr.Image(label=tr("img_rollout"), interactive=False, format="png", elem_id="vv-rollout",
                                       elem_classes="vv-img", buttons=["download", "fullscreen"])
                head_rollout_img = gr.Image(label=tr("img_head_rollout"), interactive=False, format="png",
                                            elem_id="vv-head-rollout", elem_classes="vv-img",
                                            buttons=["download", "fullscreen"])
            relevance_md = gr.Markdown(tr("relevance_expl"))
            with gr.Row(equal_height=False):
                with gr.Column():
                    class_dd = gr.Dropdown(choices=[], label=tr("relevance_class"), elem_id="vv-class")
                    relevance_btn = gr.Button(tr("relevance_button"), elem_id="vv-relevance-btn")
                relevance_img = gr.Image(label=tr("img_relevance"), interactive=False, format="png",
                                         elem_id="vv-relevance", elem_classes="vv-img", buttons=["download"])

        # 5. prediction
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-prediction"):
            e_md = gr.Markdown(tr("sec_e"), elem_id="vv-pred-md")
            label2 = gr.Label(num_top_classes=5, label=tr("label"), elem_id="vv-label2")

        # 6. export
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-export"):
            f_md = gr.Markdown(tr("sec_f") + "\n\n" + tr("expl_f"))
            export_btn = gr.Button(tr("export_button"), elem_id="vv-export-btn")
            files_out = gr.File(label=tr("export_files"), file_count="multiple", interactive=False, elem_id="vv-files")

        # 7. can we trust it?
        with gr.Column(elem_classes="vv-section", elem_id="vv-sec-trust"):
            g_md = gr.Markdown(V.explanations_text(), elem_id="vv-trust-md")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=240):
                    expl_class_dd = gr.Dropdown(choices=[], label=tr("explain_class"), elem_id="vv-explain-class")
                    explain_btn = gr.Button(tr("explain_button"), elem_id="vv-explain-btn")
                    explain_md = gr.Markdown("", elem_id="vv-explain-status")
                explain_img = gr.Image(label=tr("img_explanations"), interactive=False, format="png", scale=3,
                                       elem_id="vv-explanations", elem_classes="vv-img",
                                       buttons=["download", "fullscreen"])
            faith_md = gr.Markdown(tr("sub_faith") + "\n\n" + tr("expl_faith"), elem_id="vv-faith-md")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=240):
                    faith_mode_rd = gr.Radio([(tr("faith_pixels"), "pixels"), (tr("faith_tokens"), "tokens")],
                                             value="pixels", label=tr("faith_mode"), elem_id="vv-faith-mode")
                    faith_mode_md = gr.Markdown(tr("expl_faith_mode"))
                    faith_btn = gr.Button(tr("faith_button"), elem_id="vv-faith-btn")
                with gr.Column(scale=3):
                    faith_img = gr.Image(label=tr("img_faith"), interactive=False, format="png", elem_id="vv-faith",
                                         elem_classes="vv-img", buttons=["download", "fullscreen"])
                    auc_md = gr.Markdown("", elem_id="vv-auc")
            whatif_md = gr.Markdown(tr("sub_whatif") + "\n\n" + tr("expl_whatif"), elem_id="vv-whatif-md")
            whatif_state = gr.State([])
            with gr.Row(equal_height=False):
                whatif_img = gr.Image(label=tr("img_whatif"), interactive=False, format="png", elem_id="vv-whatif",
                                      elem_classes="vv-img", buttons=["fullscreen"])
                with gr.Column():
                    whatif_mode_rd = gr.Radio([(tr("whatif_drop"), "drop"), (tr("whatif_keep"), "keep")],
                                              value="drop", label=tr("whatif_mode"), elem_id="vv-whatif-mode")
                    whatif_reset_btn = gr.Button(tr("whatif_reset"), elem_id="vv-whatif-reset")
                    whatif_status_md = gr.Markdown("", elem_id="vv-whatif-status")
                    whatif_label = gr.Label(num_top_classes=5, label=tr("whatif_label"), elem_id="vv-whatif-label")

        # hidden API components (for gradio_client): /analyze and /model_info
        with gr.Column(visible=False):
            api_image = gr.File(type="filepath", label="image")
            api_model = gr.Textbox(label="model")
            api_random = gr.Checkbox(label="random_weights")
            api_label = gr.Label(label="top5")
            api_rollout = gr.Image(format="png", label="rollout")
            api_grid = gr.Image(format="png", label="patch grid")
            api_meta = gr.JSON(label="meta")
            api_btn = gr.Button("analyze")

        # ------------------------------------------------------------------ handlers
        labelled = {  # component → text key of its label (for switching language)
            lang: "language", model_dd: "model", random_cb: "random_weights", image_in: "image", label: "label",
            grid_img: "img_grid_static", strip_img: "img_strip", filters_img: "img_filters",
            pos_all_img: "img_pos_all", pos_patch_img: "img_pos_patch", layer_sl: "layer", head_rd: "head",
            query_rd: "query_kind", query_img: "img_query", query_heads_img: "img_query_heads",
            heads_img: "img_heads", overview_img: "img_overview", distance_img: "img_distance",
            neuron_img: "img_neuron", block_img: "img_block", fusion_rd: "fusion", discard_sl: "discard",
            rollout_img: "img_rollout", head_rollout_img: "img_head_rollout", class_dd: "relevance_class",
            relevance_img: "img_relevance", label2: "label", files_out: "export_files",
            expl_class_dd: "explain_class", explain_img: "img_explanations", faith_img: "img_faith",
            whatif_img: "img_whatif", whatif_label: "whatif_label",
        }
        buttons = {relevance_btn: "relevance_button", export_btn: "export_button", explain_btn: "explain_button",
                   faith_btn: "faith_button", whatif_reset_btn: "whatif_reset"}
        fixed_md = {title_md: "title", intro_md: "intro", filters_md: "filters_expl", relevance_md: "relevance_expl"}

        def query_choices(a: vitviz.Analysis, lang_: str):
            return [(tr("query_patch", lang_), "patch")] + [(n, n) for n in a.info.prefix_names]

        def status_text(sess: Session, lang_: str) -> str:
            if sess.model_key is None:
                return tr("status_image", lang_)
            text = tr("status", lang_, source=sess.source)
            a = sess.analysis
            if a is not None:
                _, h, w = a.info.input_size
                text += "  \n" + tr("analysed", lang_, model=a.info.name, h=h, w=w, tokens=a.info.num_tokens,
                                     depth=a.info.depth, heads=a.info.num_heads)
                if a.notes:
                    text += "  \n" + " ".join(f"ℹ️ {n}" for n in a.notes)
            else:
                text += "  \n" + tr("status_image", lang_)
            return text

        def patch_text(a: vitviz.Analysis, s: V.ViewSettings) -> str:
            token = a.grid.token_index(*s.patch)
            return tr("selected_patch", s.lang, row=s.patch[0], col=s.patch[1], token=token, n=a.info.num_tokens)

        def texts(sess: Session, s: V.ViewSettings) -> dict:
            """Every language-dependent text (labels, explanations), for the current model."""
            out: dict[Any, Any] = {c: gr.update(label=tr(k, s.lang)) for c, k in labelled.items()}
            out.update({c: gr.update(value=tr(k, s.lang)) for c, k in buttons.items()})
            out.update({c: tr(k, s.lang) for c, k in fixed_md.items()})
            out[f_md] = tr("sec_f", s.lang) + "\n\n" + tr("expl_f", s.lang)
            out.update({
                g_md: V.explanations_text(s.lang),
                faith_md: tr("sub_faith", s.lang) + "\n\n" + tr("expl_faith", s.lang),
                faith_mode_md: tr("expl_faith_mode", s.lang),
                whatif_md: tr("sub_whatif", s.lang) + "\n\n" + tr("expl_whatif", s.lang),
                faith_mode_rd: gr.update(label=tr("faith_mode", s.lang), choices=[
                    (tr("faith_pixels", s.lang), "pixels"), (tr("faith_tokens", s.lang), "tokens")]),
                whatif_mode_rd: gr.update(label=tr("whatif_mode", s.lang), choices=[
                    (tr("whatif_drop", s.lang), "drop"), (tr("whatif_keep", s.lang), "keep")]),
            })
            out[status_md] = status_text(sess, s.lang)
            a = sess.analysis
            info = a.info if a is not None else None
            if info is None and sess.model_key is not None:
                info = _model(sess).info
            if info is not None:
                out[a_md] = V.input_text(info, s.lang)
                out[shapes_md] = V.shape_table(info, s.lang)
                out[b_md] = V.position_text(info, s.lang, a.pos_locality if a is not None else None)
                out[c_md] = V.attention_text(info, s.lang)
                out[distance_md] = V.distance_text(info, s.lang)
                out[d_md] = V.rollout_text(info, s.lang)
                out[e_md] = V.prediction_text(info, s.lang, _is_random(sess))
                out[grid_img] = gr.update(label=tr("img_grid", s.lang, gh=info.grid[0], gw=info.grid[1]))
            if a is not None:
                s = _clamp(a, s)
                out[patch_md] = patch_text(a, s)
                out[query_rd] = gr.update(label=tr("query_kind", s.lang), choices=query_choices(a, s.lang))
                out[neuron_md] = V.neuron_text(_model(sess).model, a, s)
                out[block_md] = V.block_text(a, s, _model(sess).model)
            return out

        def head_views(sess: Session, a: vitviz.Analysis, s: V.ViewSettings) -> dict:
            """What depends on the query token, layer and head."""
            text, fig = V.neuron_view(_model(sess).model, a, s)
            return {query_img: V.query_image(a, s), query_heads_img: V.query_heads_image(a, s),
                    neuron_md: text, neuron_img: fig}

        def patch_views(sess: Session, a: vitviz.Analysis, s: V.ViewSettings) -> dict:
            out = head_views(sess, a, s)
            out.update({grid_img: V.grid_image(a, s.patch), patch_md: patch_text(a, s),
                        pos_patch_img: V.position_patch_image(a, s.patch)})
            return out

        def layer_views(sess: Session, a: vitviz.Analysis, s: V.ViewSettings) -> dict:
            out = head_views(sess, a, s)
            out.update({
                heads_img: V.layer_heads_image(a, s.layer),
                overview_img: V.overview_image(a, s.layer),
                distance_img: V.distance_image(a, s.layer),
                block_md: V.block_text(a, s, _model(sess).model),
                block_img: V.block_stats_image(a, s.layer),
            })
            return out

        def everything(sess: Session, s: V.ViewSettings) -> dict:
            a = sess.analysis
            s = _clamp(a, s)
            out = texts(sess, s)
            out.update(layer_views(sess, a, s))
            out.update({grid_img: gr.update(value=V.grid_image(a, s.patch),
                                            label=tr("img_grid", s.lang, gh=a.info.grid[0], gw=a.info.grid[1])),
                        patch_md: patch_text(a, s), pos_patch_img: V.position_patch_image(a, s.patch)})
            out.update({
                strip_img: V.strip_image(a),
                filters_img: V.filters_image(a),
                pos_all_img: V.position_all_image(a),
                rollout_img: V.rollout_image(a, s.fusion, s.discard),
                head_rollout_img: V.head_rollout_image(a),
                label: V.prediction_label(a) or None,
                label2: V.prediction_label(a) or None,
                layer_sl: gr.update(maximum=a.info.depth, value=s.layer + 1, label=tr("layer", s.lang)),
                head_rd: gr.update(choices=[(str(h + 1), h) for h in range(a.info.num_heads)], value=s.head,
                                   label=tr("head", s.lang)),
                query_rd: gr.update(choices=query_choices(a, s.lang), value=s.query, label=tr("query_kind", s.lang)),
                class_dd: gr.update(choices=V.class_choices(a),
                                    value=a.predictions[0].index if a.predictions else None,
                                    label=tr("relevance_class", s.lang), interactive=bool(a.predictions)),
                relevance_btn: gr.update(interactive=bool(a.predictions)),
                relevance_img: V.relevance_image(a),
                files_out: None,
                patch_state: list(s.patch),
                # 7: cleared for the new image; what-if starts from the full sequence (no extra forward)
                expl_class_dd: gr.update(choices=V.class_choices(a),
                                         value=a.predictions[0].index if a.predictions else None,
                                         label=tr("explain_class", s.lang), interactive=bool(a.predictions)),
                explain_img: None, explain_md: "", faith_img: None, auc_md: "",
                whatif_state: [], whatif_status_md: "",
                whatif_img: V.what_if_image(a, a.rollout, np.ones(a.info.grid, dtype=bool)),
                whatif_label: V.prediction_label(a) or None,
            })
            return out

        all_outputs = [session, patch_state, status_md, model_dd, title_md, intro_md, lang, random_cb, image_in,
                       label, a_md, grid_img, strip_img, patch_md, shapes_md, filters_img, filters_md, b_md,
                       pos_all_img, pos_patch_img, c_md, layer_sl, head_rd, query_rd, query_img, query_heads_img,
                       heads_img, overview_img, distance_img, distance_md, neuron_md, neuron_img, block_md,
                       block_img, d_md, fusion_rd, discard_sl, rollout_img, head_rollout_img, relevance_md,
                       class_dd, relevance_btn, relevance_img, e_md, label2, f_md, export_btn, files_out,
                       g_md, expl_class_dd, explain_btn, explain_md, explain_img, faith_md, faith_mode_rd,
                       faith_mode_md, faith_btn, faith_img, auc_md, whatif_md, whatif_state, whatif_img,
                       whatif_mode_rd, whatif_reset_btn, whatif_status_md, whatif_label]

        def run(image_path, model_name, random_w, lang_, layer, head, query, fusion, discard, patch, sess: Session,
                progress=gr.Progress()):
            """Load the model if it changed, run the forward pass once, draw everything."""
            sess = sess or Session()
            s = _settings(lang_, layer, head, patch, query, fusion, discard)
            key = ModelCache.key(model_name, not random_w)
            new = dataclasses.replace(sess)
            if key != sess.model_key or new.analysis is None:
                if key not in MODELS:
                    progress(0.05, desc=tr("loading", s.lang, name=key[0]))
                try:
                    loaded = MODELS.get(*key)
                except ModelLoadError as exc:
                    gr.Warning(tr("model_failed", s.lang, msg=str(exc)), duration=12)
                    if sess.model_key is None:
                        return {status_md: status_text(sess, s.lang)}
                    # Put the controls back to the model that stays loaded.
                    prev_name, prev_pretrained = sess.model_key
                    return {model_dd: prev_name, random_cb: not prev_pretrained and prev_name != EMBEDDED_MODEL,
                            status_md: status_text(sess, s.lang)}
                if key != sess.model_key:
                    new = Session(model_key=key, source=loaded.source, image_path=sess.image_path)
            else:
                loaded = MODELS.get(*key)
            if image_path:
                progress(0.4, desc=tr("running", s.lang))
                try:
                    a = vitviz.analyze(loaded, image_path, fusion=s.fusion, discard_ratio=s.discard,
                                       attention_dtype=SESSION_ATTENTION_DTYPE, time_limit=REQUEST_TIME_LIMIT_S)
                except (ImageError, CaptureTimeout) as exc:
                    gr.Warning(tr("bad_image", s.lang, msg=str(exc)), duration=12)
                    out = texts(new, s) if new.analysis is not None or new.model_key else {}
                    out.update({session: new, status_md: status_text(new, s.lang)})
                    return out
                new = dataclasses.replace(new, analysis=a, image_path=image_path)
            elif new.model_key == sess.model_key:
                return {status_md: status_text(sess, s.lang)}
            if new.analysis is None:
                out = texts(new, s)
                out[session] = new
                return out
            if new.analysis.info != (sess.analysis.info if sess.analysis else None):
                s = dataclasses.replace(s, patch=V.default_patch(new.analysis.info))
            out = everything(new, s)
            out[session] = new
            return out

        run_inputs = [image_in, model_dd, random_cb, lang, layer_sl, head_rd, query_rd, fusion_rd, discard_sl,
                      patch_state, session]
        image_in.change(run, run_inputs, all_outputs, api_visibility="private", trigger_mode="always_last")
        model_dd.input(run, run_inputs, all_outputs, api_visibility="private", trigger_mode="always_last")
        random_cb.input(run, run_inputs, all_outputs, api_visibility="private", trigger_mode="always_last")

        view_inputs = [lang, layer_sl, head_rd, query_rd, fusion_rd, discard_sl, patch_state, session]

        def with_analysis(fn):
            def handler(lang_, layer, head, query, fusion, discard, patch, sess, *rest):
                if sess is None or sess.analysis is None:
                    return {}
                s = _clamp(sess.analysis, _settings(lang_, layer, head, patch, query, fusion, discard))
                return fn(sess, sess.analysis, s, *rest)
            return handler

        def on_layer(sess, a, s):
            return layer_views(sess, a, s)

        def on_patch_select(lang_, layer, head, query, fusion, discard, patch, sess, evt: gr.SelectData):
            if sess is None or sess.analysis is None or evt is None or evt.index is None:
                return {}
            a = sess.analysis
            x, y = evt.index[0], evt.index[1]
            row, col = V.patch_at_display_pixel(a, x, y)
            s = _clamp(a, _settings(lang_, layer, head, [row, col], query, fusion, discard))
            out = patch_views(sess, a, s)
            out[patch_state] = [row, col]
            return out

        def on_rollout(sess, a, s):
            return {rollout_img: V.rollout_image(a, s.fusion, s.discard)}

        def on_lang(sess, a, s):
            return texts(sess, s)

        def on_lang_any(lang_, layer, head, query, fusion, discard, patch, sess):
            sess = sess or Session()
            s = _settings(lang_, layer, head, patch, query, fusion, discard)
            if sess.analysis is not None:
                s = _clamp(sess.analysis, s)
            return texts(sess, s)

        layer_sl.input(with_analysis(on_layer), view_inputs, all_outputs, api_visibility="private",
                       trigger_mode="always_last", show_progress="hidden")
        for c in (head_rd, query_rd):
            c.input(with_analysis(head_views), view_inputs, all_outputs, api_visibility="private",
                    trigger_mode="always_last", show_progress="hidden")
        for img in (grid_img, query_img, pos_patch_img):
            img.select(on_patch_select, view_inputs, all_outputs, api_visibility="private",
                       trigger_mode="always_last", show_progress="hidden")
        for c in (fusion_rd, discard_sl):
            c.input(with_analysis(on_rollout), view_inputs, all_outputs, api_visibility="private",
                    trigger_mode="always_last", show_progress="hidden")
        lang.input(on_lang_any, view_inputs, all_outputs, api_visibility="private", show_progress="hidden")

        def on_relevance(lang_, layer, head, query, fusion, discard, patch, sess, cls):
            if sess is None or sess.analysis is None or sess.image_path is None:
                return {}
            a = sess.analysis
            if not a.predictions:
                gr.Warning(tr("no_head", lang_ or "en", c=a.info.embed_dim))
                return {}
            index = int(cls) if cls is not None else a.predictions[0].index
            try:
                r = vitviz.analyze(_model(sess), sess.image_path, fusion=a.fusion, discard_ratio=a.discard_ratio,
                                   relevance_class=index, time_limit=REQUEST_TIME_LIMIT_S)
            except (ImageError, ModelLoadError, ValueError, CaptureTimeout) as exc:
                gr.Warning(str(exc))
                return {}
            new_a = dataclasses.replace(a, relevance=r.relevance, relevance_class=r.relevance_class)
            return {relevance_img: V.relevance_image(new_a), session: dataclasses.replace(sess, analysis=new_a)}

        relevance_btn.click(on_relevance, view_inputs + [class_dd], all_outputs, api_visibility="private")

        def on_export(lang_, layer, head, query, fusion, discard, patch, sess):
            if sess is None or sess.analysis is None:
                gr.Warning(tr("status_image", lang_ or "en"))
                return {}
            a = sess.analysis
            s = _clamp(a, _settings(lang_, layer, head, patch, query, fusion, discard))
            folder = _export_folder()
            stem = a.info.name.replace("/", "_").replace(".", "_")
            # The CLI's standard figure set, plus what depends on this tab's settings.
            from vitviz.figures import standard_figures

            pictures = {Path(name).stem: pic for name, pic in standard_figures(a).items()}
            pictures.update({
                "patch_grid": V.grid_image(a, s.patch),
                "rollout": V.rollout_image(a, s.fusion, s.discard),
                f"layer{s.layer + 1}_heads": V.layer_heads_image(a, s.layer),
                "query_attention": V.query_image(a, s),
                "attention_computation": V.neuron_view(_model(sess).model, a, s)[1],
                "block_measurements": V.block_stats_image(a, s.layer),
            })
            rel = V.relevance_image(a)
            if rel is not None:
                pictures["relevance"] = rel
            paths = []
            for name, pic in pictures.items():
                path = folder / f"{stem}_{name}.png"
                Image.fromarray(np.asarray(pic, dtype=np.uint8)).save(path)
                paths.append(str(path))
            paths.append(str(a.save_npz(folder / f"{stem}_analysis.npz")))
            return {files_out: paths}

        export_btn.click(on_export, view_inputs, all_outputs, api_visibility="private")

        # 7. can we trust it? (these run the model: the explain methods, the curves, one what-if forward)
        trust_errors = (ImageError, ModelLoadError, ValueError, CaptureTimeout)

        def _target(a: vitviz.Analysis, cls, lang_: str = "en") -> int:
            if not a.predictions:
                raise ValueError(tr("no_head", lang_, c=a.info.embed_dim))
            return int(cls) if cls is not None else a.predictions[0].index

        def _class_name(a: vitviz.Analysis, index: int) -> str:
            return a.class_names[index] if index < len(a.class_names) else str(index)

        def on_explain(lang_, sess, cls, progress=gr.Progress()):
            lang_ = lang_ or "en"
            if sess is None or sess.analysis is None:
                gr.Warning(tr("status_image", lang_))
                return {}
            a = sess.analysis
            try:
                target = _target(a, cls, lang_)
                progress(0.1, desc=tr("explaining", lang_))
                maps, seconds = explanation_maps(_model(sess), a, target)
            except trust_errors as exc:
                gr.Warning(str(exc))
                return {}
            text = tr("explain_done", lang_, name=_class_name(a, target), n=len(maps), seconds=sum(seconds.values()))
            return {explain_img: V.explanations_image(a, maps, seconds), explain_md: text}

        explain_btn.click(on_explain, [lang, session, expl_class_dd], all_outputs, api_visibility="private")

        def on_faithfulness(lang_, sess, cls, mode, progress=gr.Progress()):
            lang_ = lang_ or "en"
            if sess is None or sess.analysis is None:
                gr.Warning(tr("status_image", lang_))
                return {}
            a = sess.analysis
            mode = mode if mode in ("pixels", "tokens") else "pixels"
            try:
                target = _target(a, cls, lang_)
                loaded = _model(sess)
                progress(0.02, desc=tr("explaining", lang_))
                maps, seconds = explanation_maps(loaded, a, target)
                desc = tr("faith_running", lang_)
                found = faithfulness_curves(loaded, a, maps, target, mode,
                                            progress=lambda f: progress(0.1 + 0.9 * float(f), desc=desc))
            except trust_errors as exc:
                gr.Warning(str(exc))
                return {}
            name = _class_name(a, target)
            return {faith_img: V.faithfulness_image(found, lang_), auc_md: V.auc_table(found, name, mode, lang_),
                    explain_img: V.explanations_image(a, maps, seconds)}

        faith_btn.click(on_faithfulness, [lang, session, expl_class_dd, faith_mode_rd], all_outputs,
                        api_visibility="private")

        def whatif_update(lang_, sess, selected, keep_mode) -> dict:
            try:
                lab, pic, text = what_if_outputs(_model(sess), sess.analysis, selected, keep_mode, lang_ or "en")
            except trust_errors as exc:
                gr.Warning(str(exc))
                return {whatif_state: list(selected)}
            return {whatif_label: lab or None, whatif_img: pic, whatif_status_md: text, whatif_state: list(selected)}

        def on_whatif_select(lang_, sess, selected, keep_mode, evt: gr.SelectData):
            if sess is None or sess.analysis is None or evt is None or evt.index is None:
                return {}
            a = sess.analysis
            row, col = V.patch_at_display_pixel(a, evt.index[0], evt.index[1])
            idx = row * a.info.grid[1] + col
            chosen = set(int(i) for i in (selected or ()))
            chosen.symmetric_difference_update({idx})
            return whatif_update(lang_, sess, sorted(chosen), keep_mode)

        def on_whatif_mode(lang_, sess, selected, keep_mode):
            if sess is None or sess.analysis is None:
                return {}
            return whatif_update(lang_, sess, selected or [], keep_mode)

        def on_whatif_reset(lang_, sess, selected, keep_mode):
            if sess is None or sess.analysis is None:
                return {whatif_state: []}
            return whatif_update(lang_, sess, [], keep_mode)

        whatif_inputs = [lang, session, whatif_state, whatif_mode_rd]
        whatif_img.select(on_whatif_select, whatif_inputs, all_outputs, api_visibility="private",
                          trigger_mode="always_last", show_progress="minimal")
        whatif_mode_rd.input(on_whatif_mode, whatif_inputs, all_outputs, api_visibility="private",
                             trigger_mode="always_last", show_progress="minimal")
        whatif_reset_btn.click(on_whatif_reset, whatif_inputs, all_outputs, api_visibility="private")

        # ------------------------------------------------------------------ API
        def api_analyze(image_path, model_name, random_weights):
            """Analyse one image: top-5 predictions, rollout overlay, patch-grid image and metadata."""
            if not image_path:
                raise gr.Error("No image given: pass an image file.")
            try:
                loaded = MODELS.get(model_name or name0, not bool(random_weights))
                a = vitviz.analyze(loaded, image_path, time_limit=REQUEST_TIME_LIMIT_S)
            except (ImageError, ModelLoadError, CaptureTimeout) as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            meta = a.meta()
            meta["source"] = loaded.source
            return V.prediction_label(a) or None, V.rollout_image(a, "mean", 0.0), V.grid_image(a, None), meta

        api_btn.click(api_analyze, [api_image, api_model, api_random], [api_label, api_rollout, api_grid, api_meta],
                      api_name="analyze")

        def api_model_info(model_name: str, random_weights: bool = True) -> dict:
            """Shapes and geometry of a model (no image needed)."""
            try:
                loaded = MODELS.get(model_name or name0, not bool(random_weights))
            except ModelLoadError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            return dict(loaded.info.to_dict(), source=loaded.source, num_patches=loaded.info.num_patches,
                        num_tokens=loaded.info.num_tokens)

        gr.api(api_model_info, api_name="model_info")

        # On page load: show the default model's texts and start with the first example.
        def on_load(lang_, model_name, random_w):
            out: dict[Any, Any] = {}
            try:
                loaded = MODELS.get(model_name, not random_w)
                source = loaded.source
                if (model_name, bool(random_w)) == (name0, random0):  # say why this model was picked
                    source += f" ({start.reason}.)"
                sess = Session(model_key=ModelCache.key(model_name, not random_w), source=source)
                out.update(texts(sess, V.ViewSettings(lang=lang_ or "en")))
                out[status_md] = status_text(sess, lang_ or "en")
            except ModelLoadError as exc:
                out[status_md] = str(exc)
            if examples:
                preferred = [p for p in examples if "cat" in Path(p).name] or examples
                out[image_in] = preferred[0]
            return out

        demo.load(on_load, [lang, model_dd, random_cb], all_outputs, api_visibility="private")
    for block in demo.blocks.values():
        if isinstance(block, gr.Image) and block is not image_in:
            serve_outputs_atomically(block)
    demo.vitviz_examples_block = examples_block  # for tests / introspection
    return demo


def launch_kwargs() -> dict:
    """Keyword arguments for `demo.launch` (styling and limits; the caller adds host/port)."""
    return dict(css=CSS, theme=gr.themes.Soft(), max_file_size=MAX_FILE_SIZE, show_error=True)


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    """gradio's queue: QUEUE_SIZE waiting requests, CONCURRENCY workers (VITVIZ_CONCURRENCY overrides)."""
    workers = int(os.environ.get("VITVIZ_CONCURRENCY") or CONCURRENCY)
    return demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=workers)


def main() -> None:
    from vitviz.runtime import return_large_buffers_to_os

    logging.basicConfig(level=logging.INFO)
    return_large_buffers_to_os()  # a long-running server: give big attention buffers back to the OS
    demo = configure_queue(build_demo())
    port = int(os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or 7860)
    on_space = bool(os.environ.get("SPACE_ID"))
    host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    demo.launch(server_name=host, server_port=port, **launch_kwargs())


if __name__ == "__main__":
    main()
