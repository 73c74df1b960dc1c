"""Section 5, the prediction: the explanation and the top classes as gradio-style labels."""
from __future__ import annotations

import numpy as np

from vitviz.analysis.analyze import Analysis
from vitviz.core.model import ModelInfo
from vitviz.views.common import fmt
from vitviz.views.text import tr


def prediction_text(info: ModelInfo, lang: str, random_weights: bool = False) -> str:
    what = tr("expl_e_cls" if info.readout == "cls" else "expl_e_avg", lang)
    if not info.num_classes:
        return tr("sec_e", lang) + "\n\n" + tr("no_head", lang, **fmt(info))
    text = tr("sec_e", lang) + "\n\n" + tr("expl_e", lang, readout_what=what, **fmt(info))
    if "DIST" in info.prefix_names:
        text += " " + tr("dist_note", lang)
    if random_weights:
        text += "\n\n" + tr("random_note", lang)
    return text


def prediction_label(a: Analysis) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in a.predictions:
        name = p.name if p.name not in out else f"{p.name} ({p.index})"
        out[name] = float(p.probability)
    return out


def class_choices(a: Analysis) -> list[tuple[str, int]]:
    return [(f"{p.name} ({p.probability:.1%})", int(p.index)) for p in a.predictions]


def probabilities_label(a: Analysis, probs: np.ndarray, k: int = 5) -> dict[str, float]:
    """Top-k of a (K,) probability vector, named like `prediction_label`."""
    probs = np.asarray(probs, dtype=np.float64)
    out: dict[str, float] = {}
    for i in np.argsort(-probs, kind="stable")[:k]:
        name = a.class_names[i] if i < len(a.class_names) else str(int(i))
        out[name if name not in out else f"{name} ({int(i)})"] = float(probs[i])
    return out
