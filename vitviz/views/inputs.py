"""Section 1, the input: the shape walkthrough, the patch grid, the token sequence, the embedding filters."""
from __future__ import annotations

import numpy as np

from vitviz import render as R
from vitviz.analysis.analyze import Analysis
from vitviz.core.model import ModelInfo
from vitviz.views.common import fmt
from vitviz.views.text import tr


def shape_table(info: ModelInfo, lang: str) -> str:
    """The shape walkthrough, input → head, with this model's numbers (Markdown table)."""
    f = fmt(info)
    readout_what = tr("readout_cls", lang) if info.readout == "cls" else tr("readout_avg", lang, **f)
    rows = [tr("shape_input", lang, **f), tr("shape_conv", lang, **f), tr("shape_flat", lang, **f)]
    if info.num_prefix_tokens:
        rows.append(tr("shape_prefix", lang, **f))
    rows += [tr("shape_pos", lang, **f), tr("shape_blocks", lang, **f),
             tr("shape_norm", lang, readout="CLS" if info.readout == "cls" else "mean", readout_what=readout_what, **f),
             tr("shape_head_row" if info.num_classes else "shape_no_head", lang, **f)]
    lines = [tr("shape_table_title", lang), "", tr("shape_head", lang)]
    lines += [f"| {r} |" for r in rows]
    steps = [f"({f['h']}, {f['w']}, 3)", f"({f['gh']}, {f['gw']}, {f['c']})", f"({f['p']}, {f['c']})",
             f"({f['n']}, {f['c']})", f"({f['c']},)"] + ([f"({f['k']},)"] if info.num_classes else [])
    chain = " → ".join(steps)
    lines += ["", f"`{chain}`"]
    return "\n".join(lines)


def input_text(info: ModelInfo, lang: str) -> str:
    f = fmt(info)
    if info.prefix_names == ("CLS",):
        prefix = tr("prefix_cls", lang)
    elif info.prefix_names:
        prefix = tr("prefix_many", lang, names=", ".join(info.prefix_names))
    else:
        prefix = ""
    if info.readout == "avg":
        prefix += tr("prefix_avg", lang)
    return tr("sec_a", lang) + "\n\n" + tr("expl_a", lang, prefix_sentence=prefix, **f)


def grid_image(a: Analysis, patch: tuple[int, int] | None = None) -> np.ndarray:
    """The input with its patch grid; `patch` (row, col) outlined if given."""
    return R.draw_patch_grid(a.image, a.grid, highlight=patch)


def strip_image(a: Analysis) -> np.ndarray:
    """The token sequence: prefix tokens, then every patch in order."""
    return R.patch_sequence_strip(a.image, a.grid, a.info.prefix_names)


def filters_image(a: Analysis) -> np.ndarray:
    """Principal components of the patch-embedding filters."""
    return R.filter_components_image(a.filter_components, cols=7, tile=48)
