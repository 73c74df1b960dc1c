"""vitviz: see how a Vision Transformer works, from one hooked forward pass.

    import vitviz
    loaded = vitviz.load_model("vit_base_patch16_224")
    result = vitviz.analyze(loaded, "cat.jpg")
    result.rollout          # (gh, gw)
    result.save_npz("analysis.npz")
"""
__version__ = "0.1.0"

from vitviz.core.model import EMBEDDED_MODEL, LoadedModel, ModelInfo, ModelLoadError, load_model  # noqa: E402
from vitviz.analysis.analyze import Analysis, Prediction, analyze  # noqa: E402
from vitviz.core.capture import Capture, CaptureTimeout, capture  # noqa: E402
from vitviz.core.images import ImageError, load_image  # noqa: E402

__all__ = [
    "EMBEDDED_MODEL", "Analysis", "Capture", "CaptureTimeout", "ImageError", "LoadedModel", "ModelInfo",
    "ModelLoadError", "Prediction", "analyze", "capture", "load_image", "load_model", "__version__",
]
