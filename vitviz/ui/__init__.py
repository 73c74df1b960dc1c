"""The Gradio app (imports gradio): `build_demo()` builds it, `main()` serves it."""
from vitviz.ui.app import build_demo, configure_queue, launch_kwargs, main

__all__ = ["build_demo", "configure_queue", "launch_kwargs", "main"]
