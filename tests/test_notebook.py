"""Notebooks: an Analysis displays itself, vitviz.show picks views, vitviz.widget is the explorer,
and the tutorial notebook runs from top to bottom."""
from pathlib import Path

import pytest

import vitviz

ROOT = Path(__file__).resolve().parents[1]


def test_an_analysis_displays_its_key_views_in_a_notebook(tiny_analysis):
    html = tiny_analysis._repr_html_()
    assert html.count("<img") == 4 and "data:image/png;base64," in html
    assert tiny_analysis.predictions[0].name in html and "197 tokens" in html


def test_show_draws_the_chosen_views_with_alt_text_in_the_chosen_language(tiny_analysis):
    shown = vitviz.show(tiny_analysis, views=("rollout", "overview"), lang="zh")
    assert shown.html.count("<img") == 2 and 'alt="叠加在图片上的注意力 Rollout"' in shown.html
    assert shown._repr_html_() == shown.html


def test_show_refuses_a_view_it_does_not_have(tiny_analysis):
    with pytest.raises(ValueError, match="unknown view"):
        vitviz.show(tiny_analysis, views=("everything",))


def test_the_widget_answers_the_explorers_requests_from_the_analysis(tiny_analysis, monkeypatch):
    explorer = vitviz.widget(tiny_analysis, lang="zh")
    sent = []
    monkeypatch.setattr(explorer, "send", sent.append)
    explorer._answer(explorer, {"part": "layer:2"}, [])
    explorer._answer(explorer, {"part": "layer:99"}, [])
    assert sent[0]["part"] == "layer:2" and sent[0]["data"]["layer"] == 2
    assert "error" in sent[1]["data"]
    assert explorer.value["texts"]["fusion"] == "多头融合方式" and "explorer_data" in explorer._esm


def test_the_widget_has_two_modes_only(tiny_analysis):
    with pytest.raises(ValueError):
        vitviz.widget(tiny_analysis, mode="everything")


@pytest.mark.slow
def test_the_tutorial_notebook_runs_and_shows_vitviz_output(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("vitviz-show" in h and "<img" in h for h in html)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
