"""The residual-stream and ablation views: sentences read from the numbers, figures for any model."""
import numpy as np
import pytest

import vitviz
from vitviz.views import ablation as AV
from vitviz.views import residual as RV


def test_the_lead_sentence_names_the_final_answer_and_its_block(tiny_analysis):
    lens = tiny_analysis.logit_lens
    text = RV.lens_sentence(tiny_analysis, "en")
    assert tiny_analysis.class_names[lens.final_class] in text and f"block {lens.first_lead} of 12" in text


def test_the_lens_table_has_one_row_per_block_with_the_answer_in_bold(tiny_analysis):
    rows = RV.lens_table(tiny_analysis, "en").splitlines()[2:]
    assert len(rows) == 12 and "**" in rows[-1]


def test_a_model_without_a_head_says_so_and_draws_no_lens(photo):
    a = vitviz.analyze(vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=0), photo)
    assert "no classifier head" in RV.lens_sentence(a, "en")
    assert RV.lens_image(a) is None and RV.lens_patch_image(a, 0) is None and RV.lens_table(a, "en") == ""


def test_the_norm_sentence_counts_the_flagged_tokens_and_explains_registers(photo):
    a = vitviz.analyze(vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, reg_tokens=4), photo)
    flagged = int(a.token_norms.high_norm()[2, 5:].sum())
    text = RV.norms_text(a, 1, "en")
    assert f"{flagged} token(s)" in text and "4 register tokens" in text
    assert "register" in RV.norms_text(a, 1, "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_residual_figure_draws(tiny_analysis, lang):
    for image in (RV.lens_image(tiny_analysis, lang), RV.lens_patch_image(tiny_analysis, 3),
                  RV.norms_image(tiny_analysis, 3, lang), RV.norms_depth_image(tiny_analysis, 3, lang)):
        assert image.ndim == 3 and image.dtype == np.uint8


def test_a_click_on_a_picker_tile_names_its_layer_and_head(tiny_analysis):
    picker = AV.head_picker_image(tiny_analysis, {(2, 1)})
    y0, x0, y1, x1 = AV._boxes(tiny_analysis)[2 * 3 + 1]
    assert AV.head_at_pixel(tiny_analysis, (x0 + x1) / 2, (y0 + y1) / 2) == (2, 1)
    assert AV.head_at_pixel(tiny_analysis, 0, 0) is None
    assert picker[(y0 + y1) // 2 + 3, (x0 + x1) // 2 + 8, 0] > picker[(y0 + y1) // 2 + 3, (x0 + x1) // 2 + 8, 2]  # red


def test_the_ablation_sentence_gives_the_top_class_before_and_after(tiny, tiny_analysis, photo):
    from vitviz.analysis.ablation import head_mask, heads_off

    with heads_off(tiny, head_mask(tiny, [(0, 0)])):
        ablated = vitviz.analyze(tiny, photo)
    top = tiny_analysis.predictions[0]
    text = AV.ablation_text(tiny_analysis, ablated, {(0, 0)}, "zero", "en")
    after = float(np.exp(ablated.logits - ablated.logits.max())[top.index] / np.exp(ablated.logits - ablated.logits.max()).sum())
    assert "L1 h1" in text and f"{top.probability:.1%}" in text and f"{after:.1%}" in text
