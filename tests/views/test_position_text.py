"""The position-embedding section says what the loaded model's embeddings encode, measured, not assumed."""
import numpy as np
import pytest

import vitviz
from vitviz.analysis.embeddings import PosLocality
from vitviz.views import pictures as V


@pytest.fixture(scope="module")
def info():
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False).info


GRID = PosLocality(neighbour_cos=0.8, far_cos=0.1, same_ring_far_cos=0.15, same_line_far_cos=0.4, far=5)
RADIAL = PosLocality(neighbour_cos=0.84, far_cos=0.18, same_ring_far_cos=0.85, same_line_far_cos=0.3, far=5)
NOISE = PosLocality(neighbour_cos=-0.0013, far_cos=0.0003, same_ring_far_cos=0.0, same_line_far_cos=0.0, far=5)


def test_without_an_analysis_only_the_general_explanation_is_shown(info):
    assert "This model" not in V.position_text(info, "en")


def test_a_2d_code_is_called_a_grid_with_its_numbers(info):
    text = V.position_text(info, "en", GRID)
    assert "2D grid" in text and "**0.80**" in text and "**0.10**" in text


def test_rows_and_columns_are_mentioned_only_when_they_stand_out(info):
    assert "Far patches in the same row or column" in V.position_text(info, "en", GRID)
    plain = PosLocality(neighbour_cos=0.8, far_cos=0.1, same_ring_far_cos=0.15, same_line_far_cos=0.15, far=5)
    assert "Far patches in the same row" not in V.position_text(info, "en", plain)


def test_a_distance_from_centre_code_is_named_as_such(info):
    text = V.position_text(info, "en", RADIAL)
    assert "distance from the centre" in text and "**0.85**" in text
    assert "2D grid" not in text and "Far patches in the same row" not in text


def test_random_embeddings_are_said_to_have_no_structure_without_minus_zero(info):
    text = V.position_text(info, "en", NOISE)
    assert "no spatial structure" in text and "-0.00" not in text


@pytest.mark.parametrize("loc", [GRID, RADIAL, NOISE])
def test_chinese_text_has_the_same_numbers(info, loc):
    en, zh = V.position_text(info, "en", loc), V.position_text(info, "zh", loc)
    assert "本模型" in zh
    assert sorted(w for w in en.split("**") if w[:1].isdigit()) == sorted(w for w in zh.split("**") if w[:1].isdigit())


def test_an_untrained_model_is_measured_as_having_no_structure():
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False)
    a = vitviz.analyze(loaded, np.zeros((224, 224, 3), np.uint8))
    assert a.pos_locality.pattern == "none"
