"""Sections 6 and 7 through their handlers: the residual stream and head ablation."""
import numpy as np
import pytest
from PIL import Image

import vitviz
from vitviz.ui.page import MODELS, Session
from vitviz.ui.sections import ablation, residual
from vitviz.views import ablation as AV
from vitviz.views import pictures as V
from vitviz.views.text import tr

MODEL = "vit_tiny_patch16_224"


@pytest.fixture(scope="module")
def sess(photo, tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray(photo).save(path)
    a = vitviz.analyze(MODELS.get(MODEL, False), str(path))
    return Session(analysis=a, model_key=(MODEL, False), source={"en": "test"}, image_path=str(path))


def tile_centre(a, layer, head):
    y0, x0, y1, x1 = AV._boxes(a)[layer * a.info.num_heads + head]
    return [(x0 + x1) // 2, (y0 + y1) // 2]


def test_the_block_slider_redraws_the_patch_readings_and_norms(sess):
    out = residual.on_block(V.ViewSettings(), sess, 4)
    assert "block 4" in out["lens_patch_md"] and "block 4" in out["norms_md"]
    assert out["lens_patch_img"].shape[2] == 3


def test_a_click_switches_a_head_off_and_a_second_click_on_again(sess):
    s, a = V.ViewSettings(), sess.analysis
    first = ablation.on_pick(s, sess, tile_centre(a, 3, 2), [])
    assert first["off_state"] == [[3, 2]] and "L4 h3" in first["picked_md"]
    assert ablation.on_pick(s, sess, tile_centre(a, 3, 2), first["off_state"])["off_state"] == []


def test_running_with_heads_off_gives_new_predictions_and_rollout(sess):
    out = ablation.on_run(V.ViewSettings(), sess, [[0, 0], [0, 1], [0, 2]], "mean")
    assert "L1 h1, L1 h2, L1 h3" in out["result_md"] and len(out["ablated_label"]) == 5
    assert out["ablated_img"].ndim == 3


def test_running_with_no_head_off_asks_for_a_choice(sess):
    assert ablation.on_run(V.ViewSettings(), sess, [], "zero") == {"result_md": tr("ablation_none", "en")}


def test_head_importance_reports_progress_and_draws_the_map(sess):
    seen = []
    out = ablation.on_importance(V.ViewSettings(), sess, "zero", progress=lambda f, desc=None: seen.append(f))
    assert seen[-1] == 1.0 and out["importance_img"].ndim == 3 and "Of 36 heads" in out["importance_md"]
