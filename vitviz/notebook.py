"""Jupyter, JupyterLab, VS Code and Colab: an `Analysis` displays itself, `show` picks the views,
and `widget` is the app's in-browser explorer as an anywidget.

The pictures come from the same views catalogue as the app and the CLI (`vitviz.views`); the
widget runs the app's own explorer script (`vitviz/views/explorer.js`), fed through anywidget's
messages instead of gradio's server functions.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from vitviz.analysis import analyze as _analyze
from vitviz.analysis.analyze import Analysis


@dataclass(frozen=True)
class Shown:
    """Rich output: HTML with the chosen views inlined as PNGs (what Jupyter displays)."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


def _views() -> dict[str, tuple[str, Callable[[Analysis, str], np.ndarray]]]:
    """Name → (caption key, draw(analysis, language)): the figures' labels follow `show`'s language."""
    from vitviz.views import pictures as V

    return {
        "patches": ("img_grid", lambda a, lang: V.grid_image(a)),
        "position": ("img_pos_all", V.position_all_image),
        "heads": ("img_heads", lambda a, lang: V.layer_heads_image(a, a.info.depth - 1, lang)),
        "rollout": ("img_rollout", lambda a, lang: V.rollout_image(a, lang=lang)),
        "overview": ("img_overview", lambda a, lang: V.overview_image(a)),
    }


DEFAULT_VIEWS = ("patches", "position", "heads", "rollout")


def show(result: Analysis, views: tuple[str, ...] = DEFAULT_VIEWS, lang: str = "en", width: int = 420) -> Shown:
    """The key views of `result` side by side (names: patches, position, heads, rollout, overview),
    with the prediction; display it in a notebook cell (or call `.html`)."""
    from vitviz.views.explorer import image_data_url
    from vitviz.views.text import tr

    catalogue = _views()
    unknown = [v for v in views if v not in catalogue]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; choose from {sorted(catalogue)}")
    info = result.info
    figures = []
    for name in views:
        key, draw = catalogue[name]
        caption = tr(key, lang, gh=info.grid[0], gw=info.grid[1])
        figures.append(f'<figure style="margin:0 12px 12px 0;max-width:{width}px">'
                       f'<img src="{image_data_url(draw(result, lang))}" alt="{html.escape(caption)}" '
                       f'style="width:100%;height:auto"><figcaption style="font-size:13px">'
                       f"{html.escape(caption)}</figcaption></figure>")
    top = "".join(f"<li>{html.escape(p.name)}: {p.probability:.1%}</li>" for p in result.predictions)
    head = (f"<p><b>{html.escape(info.name)}</b>: {info.input_size[1]}×{info.input_size[2]} input, "
            f"{info.grid[0]}×{info.grid[1]} patches of {info.patch_size[0]}×{info.patch_size[1]}, "
            f"{info.num_tokens} tokens, {info.depth} blocks × {info.num_heads} heads</p>")
    prediction = f"<ol>{top}</ol>" if top else f"<p>{html.escape(tr('no_head', lang, c=info.embed_dim))}</p>"
    return Shown(f'<div class="vitviz-show">{head}<div style="display:flex;flex-wrap:wrap">'
                 f'{"".join(figures)}</div>{prediction}</div>')


def analysis_html(result: Analysis) -> str:
    """`Analysis._repr_html_`: the default views."""
    return show(result).html


# ------------------------------------------------------------------ the explorer widget
ESM = """
const SCRIPT = %s;
export default {
  render({ model, el }) {
    const waiting = new Map();
    model.on("msg:custom", (msg) => {
      const done = waiting.get(msg.part);
      if (done) { waiting.delete(msg.part); done(msg.data); }
    });
    const server = { explorer_data: (token, part) => new Promise((resolve) => {
      waiting.set(part, resolve);
      model.send({ part });
    }) };
    const props = { value: model.get("value") };
    const watch = (name, callback) => model.on("change:value", () => { props.value = model.get("value"); callback(); });
    const trigger = (name, data) => {
      if (name === "select" && data && data.value) { model.set("selection", data.value.selection); model.save_changes(); }
    };
    new Function("element", "props", "trigger", "server", "watch", SCRIPT)(el, props, trigger, server, watch);
  },
};
"""


def widget(result: Analysis, mode: str = "attention", lang: str = "en"):
    """The app's explorer for `result` in a notebook (mode "attention" or "rollout"); its
    `selection` trait follows what is pinned (layer, head, query, patch or fusion, discard)."""
    try:
        import anywidget
        import traitlets
    except ImportError as exc:  # an optional extra for notebooks
        raise ImportError("vitviz.widget needs anywidget: pip install anywidget") from exc
    from vitviz.views import explorer as X

    if mode not in ("attention", "rollout"):
        raise ValueError(f"mode must be 'attention' or 'rollout', not {mode!r}")

    class Explorer(anywidget.AnyWidget):
        _esm = ESM % json.dumps(X.SCRIPT)
        _css = X.CSS
        value = traitlets.Dict().tag(sync=True)
        selection = traitlets.Dict().tag(sync=True)

        def __init__(self) -> None:
            super().__init__(value={"mode": mode, "token": "notebook", "texts": X.explorer_texts(lang),
                                    "selection": {"layer": 0, "head": 0, "query": "patch",
                                                  "patch": [result.info.grid[0] // 2, result.info.grid[1] // 2],
                                                  "fusion": result.fusion, "discard": result.discard_ratio}})
            self.on_msg(self._answer)

        def _answer(self, _widget, content, _buffers) -> None:
            part = str(content.get("part", ""))
            try:
                data = X.explorer_part(result, part)
            except ValueError as exc:
                data = {"error": str(exc)}
            self.send({"part": part, "data": data})

    return Explorer()


def install() -> None:
    """Let every `Analysis` display itself in notebooks (called by `import vitviz`)."""
    _analyze.Analysis._repr_html_ = analysis_html
