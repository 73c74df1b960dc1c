"""The files one "Export" writes: the standard figures and this tab's views as PNG, the lesson handout
(HTML) and the analysis as .npz.

No gradio here: `export_analysis` returns the paths, the UI hands them to the browser.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from vitviz.analysis.analyze import Analysis
from vitviz.core.model import LoadedModel
from vitviz.views import pictures as V
from vitviz.views.handout import lesson_handout

EXPORT_KEEP_SECONDS = 15 * 60
_EXPORT_LOCK = threading.Lock()
_EXPORT_ROOT: Path | None = None


def export_folder() -> Path:
    """A fresh folder under one per-process temp dir; folders older than 15 minutes are removed
    (gradio has copied their files into its own cache by then)."""
    global _EXPORT_ROOT
    with _EXPORT_LOCK:
        if _EXPORT_ROOT is None or not _EXPORT_ROOT.is_dir():
            _EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="vitviz-export-"))
        now = time.time()
        for old in _EXPORT_ROOT.iterdir():
            if old.is_dir() and now - old.stat().st_mtime > EXPORT_KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=_EXPORT_ROOT))


def export_pictures(model, a: Analysis, s: V.ViewSettings) -> dict[str, np.ndarray]:
    """The CLI's standard figure set, plus what depends on this tab's settings: {file stem: picture},
    labelled in the tab's language."""
    from vitviz.views.figures import standard_figures

    pictures = {Path(name).stem: pic for name, pic in standard_figures(a, s.lang).items()}
    pictures.update({
        "patch_grid": V.grid_image(a, s.patch),
        "rollout": V.rollout_image(a, s.fusion, s.discard, s.lang),
        f"layer{s.layer + 1}_heads": V.layer_heads_image(a, s.layer, s.lang),
        "query_attention": V.query_image(a, s),
        "attention_computation": V.neuron_view(model, a, s)[1],
        "block_measurements": V.block_stats_image(a, s.layer, s.lang),
    })
    rel = V.relevance_image(a, s.lang)
    if rel is not None:
        pictures["relevance"] = rel
    return pictures


def export_analysis(loaded: LoadedModel, a: Analysis, s: V.ViewSettings, folder: Path | None = None) -> list[str]:
    """Write every export picture as `<model>_<name>.png`, the lesson handout in the tab's language as
    `<model>_lesson_<lang>.html` and the analysis as `<model>_analysis.npz` into `folder` (default: a
    fresh `export_folder()`); the paths written, the .npz last."""
    folder = export_folder() if folder is None else Path(folder)
    stem = a.info.name.replace("/", "_").replace(".", "_")
    paths = []
    for name, pic in export_pictures(loaded.model, a, s).items():
        path = folder / f"{stem}_{name}.png"
        Image.fromarray(np.asarray(pic, dtype=np.uint8)).save(path)
        paths.append(str(path))
    handout = folder / f"{stem}_lesson_{s.lang}.html"
    handout.write_text(lesson_handout(a, loaded, s.lang)[0], encoding="utf-8")
    paths.append(str(handout))
    paths.append(str(a.save_npz(folder / f"{stem}_analysis.npz")))
    return paths
