"""Lesson mode: the steps follow the forward pass, and every number in them is read from the model."""
import re

import numpy as np
import pytest

import vitviz
from vitviz.analysis.neuron import query_computation
from vitviz.views import lesson as LV
from vitviz.views.handout import handout_html

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def steps(tiny, tiny_analysis):
    return LV.lesson_steps(tiny_analysis, tiny, "en")


@pytest.fixture(scope="module")
def by_key(steps):
    return {s.key: s for s in steps}


@pytest.fixture(scope="module")
def registers(photo):
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, reg_tokens=4)
    return loaded, vitviz.analyze(loaded, photo)


@pytest.fixture(scope="module")
def headless(photo):
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=0)
    return loaded, vitviz.analyze(loaded, photo)


def test_the_steps_follow_the_forward_pass(steps):
    assert [s.key for s in steps] == list(LV.STEP_KEYS)
    assert [s.animation for s in steps if s.animation] == ["patches_to_sequence", "prefix_prepend", "attention_row"]


def test_the_shapes_are_the_models(by_key):
    conv, flat, prefix = by_key["patch_conv"].body, by_key["flatten"].body, by_key["prefix"].body
    assert "(224, 224, 3) → (14, 14, 192)" in conv and "**16×16** kernel and stride **16**" in conv
    assert "(14, 14, 192) → (196, 192)" in flat
    assert "(196, 192) → (197, 192)" in prefix and "CLS" in prefix
    assert "(3, 1, 3, 197, 64)" in by_key["qkv"].body and "192 → 576" in by_key["qkv"].body
    assert "(197, 192) → (197, 768) → (197, 192)" in by_key["mlp"].body
    assert "3 × 64 = 192" in by_key["attention_out"].body
    assert "**12 blocks**" in by_key["residual"].body and "Dropout p = 0 and DropPath p = 0" in by_key["residual"].body


def test_the_patch_convolution_is_run_on_the_input(tiny, tiny_analysis):
    out = LV.patch_conv_output(tiny, tiny_analysis)
    assert out.shape == (14, 14, 192)
    tokens = tiny_analysis.tokens[0, 1:] - tiny_analysis.pos_embed[1:]  # block 1's input minus the position
    np.testing.assert_allclose(out.reshape(196, 192), tokens, atol=1e-4)


def test_the_attention_row_is_the_neuron_views(tiny, tiny_analysis, by_key):
    a = tiny_analysis
    comp = query_computation(tiny.model, a, 11, 0, a.grid.token_index(7, 7))
    step = by_key["attention_row"]
    assert "× **0.125**" in step.body and "(block 12, head 1)" in step.body and "patch (7, 7)" in step.body
    assert f"{float(comp.probs.max()):.1%}" in step.body
    assert step.data["probs"][0] == pytest.approx(float(comp.probs.max()))
    assert len(step.data["labels"]) == len(step.data["scores"]) == 8 and step.data["n"] == 197


def test_the_prediction_and_the_logit_lens_are_read_from_the_analysis(tiny_analysis, by_key):
    a = tiny_analysis
    top = a.predictions[0]
    assert f"**{top.name.split(',')[0]}** {LV.pct(top.probability)}" in by_key["head"].body
    assert "192 → 1000" in by_key["head"].body
    lens = a.logit_lens
    lead = "leads from block **1** of 12" if lens.first_lead == 1 else f"first leads at block **{lens.first_lead}** of 12"
    assert lead in by_key["logit_lens"].body
    assert f"{lens.probabilities[-1, lens.final_class]:.0%} at the end" in by_key["logit_lens"].body


def test_every_step_is_short_has_a_figure_and_says_what_it_shows(steps):
    for s in steps:
        assert LV.word_count(s.body) <= LV.MAX_WORDS, (s.key, LV.word_count(s.body))
        assert s.title and s.alt and len(s.alt.split()) >= 8, s.key
        assert s.figure is not None and s.figure.dtype == np.uint8 and s.figure.ndim == 3, s.key


def test_register_tokens_are_named_and_counted(registers):
    loaded, a = registers
    steps = {s.key: s for s in LV.lesson_steps(a, loaded, "en")}
    prefix = steps["prefix"]
    assert "(196, 192) → (201, 192)" in prefix.body
    assert "**4 register tokens** (REG1–REG4)" in prefix.body
    assert prefix.data["prefix"] == ["CLS", "REG1", "REG2", "REG3", "REG4"]
    assert "(3, 1, 3, 201, 64)" in steps["qkv"].body
    assert all(LV.word_count(s.body) <= LV.MAX_WORDS for s in steps.values())


def test_a_model_without_a_head_says_so_and_skips_the_logit_lens(headless):
    loaded, a = headless
    steps = LV.lesson_steps(a, loaded, "en")
    assert [s.key for s in steps] == [k for k in LV.STEP_KEYS if k != "logit_lens"]
    head = {s.key: s for s in steps}["head"]
    assert "no classification head" in head.body and "(192,)" in head.body and head.figure is not None
    assert all(LV.word_count(s.body) <= LV.MAX_WORDS for s in steps)


def test_dropout_and_droppath_rates_are_read_from_the_modules(photo):
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, pos_drop_rate=0.1,
                               drop_path_rate=0.2)
    assert LV.dropout_rates(loaded.model) == ("0–0.1", "0.2")
    steps = {s.key: s for s in LV.lesson_steps(vitviz.analyze(loaded, photo), loaded, "en")}
    assert "Dropout p = 0–0.1 and DropPath p = 0.2" in steps["residual"].body


def test_the_chinese_steps_are_chinese(tiny, tiny_analysis):
    zh = LV.lesson_steps(tiny_analysis, tiny, "zh")
    assert [s.key for s in zh] == list(LV.STEP_KEYS)
    for s in zh:
        assert CJK.search(s.title) or s.key == "mlp", s.key  # "MLP" is its name in Chinese too
        assert CJK.search(s.body) and CJK.search(s.alt), s.key
    assert "(3, 1, 3, 197, 64)" in {s.key: s for s in zh}["qkv"].body


def test_bodies_become_safe_html():
    assert LV.body_html("a <b> **x** `y`\n\nnext") == "<p>a &lt;b&gt; <strong>x</strong> <code>y</code></p><p>next</p>"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_handout_is_one_self_contained_page_per_step(tiny, tiny_analysis, lang):
    steps = LV.lesson_steps(tiny_analysis, tiny, lang)
    page = handout_html(steps, lang, "vit_tiny_patch16_224")
    assert page.count('<section class="step"') == len(steps) == 14
    assert page.count('src="data:image/png;base64,') == sum(s.figure is not None for s in steps)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "break-after: page" in page and f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in page
    assert len(page) < 3 * 2**20
