"""vitviz: see how a Vision Transformer works, from one hooked forward pass.

    import vitviz
    loaded = vitviz.load_model("vit_base_patch16_224")
    result = vitviz.analyze(loaded, "cat.jpg")
    result.rollout          # (gh, gw)
    result.save_npz("analysis.npz")
    vitviz.show(result)     # in a notebook: the key views (an Analysis also displays itself)
    vitviz.widget(result)   # the app's attention explorer, drawn in the notebook
"""
__version__ = "0.1.0"

from vitviz.core.model import EMBEDDED_MODEL, LoadedModel, ModelInfo, ModelLoadError, load_model  # noqa: E402
from vitviz.analysis.analyze import Analysis, Prediction, analyze  # noqa: E402
from vitviz.core.assets import example_images  # noqa: E402
from vitviz.core.capture import Capture, CaptureTimeout, capture  # noqa: E402
from vitviz.core.images import ImageError, load_image  # noqa: E402
from vitviz.notebook import show, widget  # noqa: E402
from vitviz import notebook as _notebook  # noqa: E402

_notebook.install()  # an Analysis displays its key views in Jupyter / Colab

__all__ = [
    "EMBEDDED_MODEL", "Analysis", "Capture", "CaptureTimeout", "ImageError", "LoadedModel", "ModelInfo",
    "ModelLoadError", "Prediction", "analyze", "capture", "example_images", "load_image", "load_model", "show", "widget", "__version__",
]
