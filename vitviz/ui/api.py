"""The hidden API (for gradio_client): /analyze and /model_info."""
from __future__ import annotations

import gradio as gr

import vitviz
from vitviz import CaptureTimeout, ImageError, ModelLoadError
from vitviz.ui import page as P
from vitviz.views import pictures as V


def analyze_image(image_path, model_name: str, random_weights: bool):
    """Analyse one image → (top-5 label, rollout overlay, patch-grid image, metadata)."""
    if not image_path:
        raise gr.Error("No image given: pass an image file.")
    try:
        loaded = P.MODELS.get(model_name, not bool(random_weights))
        a = vitviz.analyze(loaded, image_path, time_limit=P.REQUEST_TIME_LIMIT_S)
    except (ImageError, ModelLoadError, CaptureTimeout) as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    meta = a.meta()
    meta["source"] = loaded.source
    return V.prediction_label(a) or None, V.rollout_image(a, "mean", 0.0), V.grid_image(a, None), meta


def model_info(model_name: str, random_weights: bool = True) -> dict:
    """Shapes and geometry of a model (no image needed)."""
    try:
        loaded = P.MODELS.get(model_name, not bool(random_weights))
    except ModelLoadError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    return dict(loaded.info.to_dict(), source=loaded.source, num_patches=loaded.info.num_patches,
                num_tokens=loaded.info.num_tokens)


def build(default_model: str) -> None:
    """The hidden components of /analyze and the /model_info endpoint (`default_model` for an empty name)."""
    with gr.Column(visible=False):
        api_image = gr.File(type="filepath", label="image")
        api_model = gr.Textbox(label="model")
        api_random = gr.Checkbox(label="random_weights")
        api_label = gr.Label(label="top5")
        api_rollout = gr.Image(format="png", label="rollout")
        api_grid = gr.Image(format="png", label="patch grid")
        api_meta = gr.JSON(label="meta")
        api_btn = gr.Button("analyze")

    def api_analyze(image_path, model_name, random_weights):
        """Analyse one image: top-5 predictions, rollout overlay, patch-grid image and metadata."""
        return analyze_image(image_path, model_name or default_model, random_weights)

    def api_model_info(model_name: str, random_weights: bool = True) -> dict:
        """Shapes and geometry of a model (no image needed)."""
        return model_info(model_name or default_model, random_weights)

    api_btn.click(api_analyze, [api_image, api_model, api_random], [api_label, api_rollout, api_grid, api_meta],
                  api_name="analyze")
    gr.api(api_model_info, api_name="model_info")
