"""Entry point: `python app.py` serves vitviz (also the Hugging Face Space entry point).

Port: GRADIO_SERVER_PORT or PORT (default 7860); binds 0.0.0.0 on a Space (SPACE_ID set),
else 127.0.0.1. VITVIZ_MODEL picks the default model (VITVIZ_RANDOM_WEIGHTS=1 for random weights).
"""
import os
import tempfile

if __name__ == "__main__":
    # Keep matplotlib's font cache in a temp dir: the app writes nothing outside temp dirs
    # (except timm's hub cache when pretrained weights are downloaded).
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="vitviz-mpl-"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from vitviz.ui.app import main

    main()
