"""The logit lens and token norms, read from the captured residual stream."""
import numpy as np
import pytest
import torch

import vitviz
from vitviz.analysis.residual import HIGH_NORM_FACTOR, LogitLens, logit_lens, token_norms


def test_the_last_row_of_the_logit_lens_is_the_models_logits(tiny_analysis):
    lens = tiny_analysis.logit_lens
    assert lens.logits.shape == (tiny_analysis.info.depth, tiny_analysis.info.num_classes)
    np.testing.assert_allclose(lens.logits[-1], tiny_analysis.logits, atol=1e-5)
    assert lens.final_class == int(np.argmax(tiny_analysis.logits))


@pytest.mark.parametrize("kwargs", [dict(global_pool="avg", class_token=False), dict(reg_tokens=4)])
def test_the_lens_reads_the_models_own_readout(photo, kwargs):
    model = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=3, **kwargs)
    a = vitviz.analyze(model, photo)
    np.testing.assert_allclose(a.logit_lens.logits[-1], a.logits, atol=1e-5)
    assert a.logit_lens.patch_probability.shape == (3, 14, 14)


def test_an_early_block_is_read_through_the_final_norm_and_head(tiny, tiny_analysis):
    """Independently: block 5's CLS token → model.norm → model.head."""
    cls = torch.from_numpy(tiny_analysis.tokens[5, 0])
    with torch.no_grad():
        expected = tiny.model.head(tiny.model.norm(cls))
    np.testing.assert_allclose(tiny_analysis.logit_lens.logits[4], expected.numpy(), atol=1e-5)


def test_each_patch_tokens_own_reading_gives_its_top_class_and_final_class_probability(tiny, tiny_analysis):
    a, lens = tiny_analysis, tiny_analysis.logit_lens
    token = torch.from_numpy(a.tokens[7, 1 + 3 * 14 + 5])  # block 7, patch (3, 5)
    with torch.no_grad():
        p = tiny.model.head(tiny.model.norm(token)).softmax(-1)
    assert lens.patch_top[6, 3, 5] == int(p.argmax())
    assert lens.patch_probability[6, 3, 5] == pytest.approx(float(p[lens.final_class]), abs=1e-6)


def test_the_first_lead_is_where_the_final_answer_leads_for_good():
    logits = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [3, 1, 0]], dtype=np.float32)
    lens = LogitLens(logits, np.zeros((5, 1, 1)), np.zeros((5, 1, 1), int), final_class=0)
    assert lens.first_lead == 4
    np.testing.assert_allclose(lens.probabilities.sum(axis=1), 1, rtol=1e-6)


def test_a_model_without_a_head_has_no_logit_lens(photo):
    model = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=0)
    assert vitviz.analyze(model, photo).logit_lens is None


def test_token_norms_flag_tokens_far_above_the_layers_median():
    tokens = np.ones((2, 6, 4), dtype=np.float32)  # 1 prefix + 5 patches, norm 2 each
    tokens[1, 3] *= HIGH_NORM_FACTOR + 1
    norms = token_norms(tokens, num_prefix=1)
    np.testing.assert_allclose(norms.norms[0], 2.0)
    flagged = norms.high_norm()
    assert flagged[1, 3] and flagged.sum() == 1


def test_the_analysis_gives_every_tokens_norm_after_every_block(tiny_analysis):
    norms = tiny_analysis.token_norms.norms
    assert norms.shape == (13, 197)
    np.testing.assert_allclose(norms[4, 10], np.linalg.norm(tiny_analysis.tokens[4, 10]), rtol=1e-5)
