"""The CLI's figure set and the app's views come from one catalogue of view functions."""
import numpy as np

from vitviz.views import figures
from vitviz.views import pictures as V


def test_every_standard_figure_is_a_catalogue_view():
    catalogue = {getattr(V, name) for name in V.__all__ if callable(getattr(V, name))}
    assert set(figures.STANDARD_FIGURES.values()) <= catalogue
    assert figures.STANDARD_FIGURES["rollout.png"] is V.rollout_image
    assert figures.STANDARD_FIGURES["cls_attention.png"] is V.overview_image
    assert figures.STANDARD_FIGURES["head_rollout.png"] is V.head_rollout_image


def test_standard_figures_are_the_app_pictures(tiny_analysis):
    a = tiny_analysis
    got = figures.standard_figures(a)
    assert list(got) == list(figures.STANDARD_FIGURES)
    app = {
        "patch_grid.png": V.grid_image(a, None),
        "patch_sequence.png": V.strip_image(a),
        "pos_similarity.png": V.position_all_image(a),
        "cls_attention.png": V.overview_image(a, None),
        "rollout.png": V.rollout_image(a, a.fusion, a.discard_ratio),
        "head_rollout.png": V.head_rollout_image(a),
        "attention_distance.png": V.distance_image(a, None),
        "embedding_filters.png": V.filters_image(a),
    }
    for name, picture in app.items():
        assert got[name].dtype == np.uint8 and got[name].ndim == 3
        np.testing.assert_array_equal(got[name], picture, err_msg=name)


def test_save_figures_writes_every_standard_figure(tiny_analysis, tmp_path):
    paths = figures.save_figures(tiny_analysis, tmp_path / "out")
    assert [p.name for p in paths] == list(figures.STANDARD_FIGURES)
    assert all(p.stat().st_size > 0 for p in paths)


def test_neuron_view_draws_the_cached_computation(tiny, tiny_analysis):
    from vitviz.analysis.neuron import query_computation

    a = tiny_analysis
    s = V.ViewSettings(layer=4, head=2, patch=(3, 5))
    text, image = V.neuron_view(tiny.model, a, s)
    comp = query_computation(tiny.model, a, 4, 2, V.query_token(a, s))
    assert text == V.neuron_text(tiny.model, a, s) == V.neuron_text(None, a, s, comp)
    np.testing.assert_array_equal(image, V.neuron_image(a, comp))
    assert V.block_text(a, s, tiny.model) == V.block_text(a, s)  # timm's scale is head_dim ** -0.5


def test_views_the_cli_calls_with_the_analysis_alone_still_take_the_app_settings(tiny_analysis):
    a = tiny_analysis
    assert not np.array_equal(V.grid_image(a, (3, 4)), V.grid_image(a))
    assert not np.array_equal(V.rollout_image(a, "max", 0.5), V.rollout_image(a))
    np.testing.assert_array_equal(V.rollout_image(a), V.rollout_image(a, a.fusion, a.discard_ratio))
    assert not np.array_equal(V.distance_image(a, 2), V.distance_image(a))
    assert not np.array_equal(V.overview_image(a, 2), V.overview_image(a))
