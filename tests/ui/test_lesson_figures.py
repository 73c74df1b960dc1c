"""The lesson's figures travel beside its value, not in it: gradio copies every value on every status message."""
from __future__ import annotations

import gc
import re

from vitviz.ui.sections import lesson
from vitviz.views import lesson as LV


def page_of(tiny, tiny_analysis, lang="en") -> tuple[lesson.LessonPage, list]:
    steps = LV.lesson_steps(tiny_analysis, tiny, lang)
    return lesson.lesson_page(steps, lang, "meta"), steps


def test_the_value_names_its_figures_and_holds_none_of_their_pixels(tiny, tiny_analysis):
    page, steps = page_of(tiny, tiny_analysis)
    assert "data:image" not in page.html and len(page.html) < 64 * 1024
    indices = [int(i) for i in re.findall(r'<img class="vvl-img" data-fig="(\d+)"', page.html)]
    with_figure = [s for s in steps if s.figure is not None]
    assert indices == list(range(len(with_figure)))
    assert [page.figures[i] for i in indices] == [LV.figure_url(s.figure) for s in with_figure]
    source = int(re.search(r'<img class="vvl-input" alt="" data-fig="(\d+)"', page.html).group(1))
    image = next(s.data["image"] for s in steps if s.animation and "image" in s.data)
    assert page.figures[source] == LV.figure_url(image)  # the animations' source picture


def test_the_figures_are_fetched_with_the_token_in_the_value_and_no_other(tiny, tiny_analysis):
    page, _ = page_of(tiny, tiny_analysis)
    token = re.search(r'data-figures="([^"]+)"', page.html).group(1)
    assert len(token) >= 40
    assert lesson.lesson_figures([token]) == list(page.figures) == lesson.lesson_figures(token)
    other, _ = page_of(tiny, tiny_analysis, "zh")
    assert other.html != page.html and re.search(r'data-figures="([^"]+)"', other.html).group(1) != token
    assert lesson.lesson_figures(["not-a-token"]) == {"error": "stale"} == lesson.lesson_figures([None])


def test_a_dropped_page_can_no_longer_be_fetched(tiny, tiny_analysis):
    page, _ = page_of(tiny, tiny_analysis)
    token = re.search(r'data-figures="([^"]+)"', page.html).group(1)
    del page
    gc.collect()
    assert lesson.lesson_figures([token]) == {"error": "stale"}
