"""Offline, the app starts with the embedded model whose position embeddings best show a 2D grid."""
import pytest

import vitviz
from vitviz.analysis import offline_default as OD
from vitviz.core import model as vm

pytestmark = pytest.mark.skipif(not all(vm.embedded_model_available(n) for n in ("vitviz-shapes", "vitviz-fashion")),
                                reason="needs both embedded models")


def test_the_fashion_models_position_embeddings_are_a_grid_and_the_shapes_models_are_not():
    fashion = OD.position_story("vitviz-fashion", vitviz.load_model("vitviz-fashion"))
    shapes = OD.position_story("vitviz-shapes", vitviz.load_model("vitviz-shapes"))
    assert fashion.pattern == "grid" and fashion.gap >= 0.3
    assert shapes.pattern == "radial" and abs(shapes.gap) < 0.15


def test_the_offline_default_is_the_model_with_the_clearest_grid_and_says_why():
    name, why, values = OD.choose(["vitviz-shapes", "vitviz-fashion"], vitviz.load_model)
    assert name == "vitviz-fashion"
    assert "2D grid" in why and "vitviz-shapes" in why and "radial" in why
    assert values["best"].name == name and [s.name for s in values["others"]] == ["vitviz-shapes"]


def test_the_start_up_choice_uses_the_ranking_only_offline():
    rank = lambda names: ("vitviz-fashion", "ranked", {})
    offline = vm.choose_default_model(env={}, online=lambda: False, rank_offline=rank)
    assert (offline.name, offline.pretrained) == ("vitviz-fashion", True) and "unreachable" in offline.reason
    assert "ranked" in offline.reason
    chosen = vm.choose_default_model(env={"VITVIZ_MODEL": "vitviz-shapes"}, online=lambda: False, rank_offline=rank)
    assert chosen.name == "vitviz-shapes"  # VITVIZ_MODEL still overrides
