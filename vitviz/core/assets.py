"""Where the files vitviz ships live: the embedded models (card + weights), the example images.

They are package data (`vitviz/assets/`), located with importlib.resources, so a checkout, a venv,
a `--user` or `--target` install and a wheel all find them the same way.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

# vitviz is a regular package installed as files (never zipped), so its resources are a real folder.
ASSETS = Path(str(resources.files("vitviz") / "assets"))
EXAMPLES = ASSETS / "examples"


def example_images(pattern: str = "*") -> list[Path]:
    """The bundled example images whose names match `pattern` (e.g. "shapes_*", "*.jpg"), sorted."""
    return sorted(p for p in EXAMPLES.glob(pattern) if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
