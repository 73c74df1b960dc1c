"""The shapes evaluation: object patches, pointing, energy, the report, and the embedded model."""
import json

import numpy as np
import pytest
import torch

import vitviz
from vitviz.research import explanations as ev
from vitviz.analysis import faithfulness as fa
from vitviz.core.model import EMBEDDED_MODEL, embedded_model_available
from vitviz.research.shapes.generator import ShapesConfig, covered_patches, generate


def test_a_patch_is_on_the_object_when_half_its_pixels_are():
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, :2] = True  # patch (0, 0): 2 of 4 pixels
    mask[2, 2] = True  # patch (1, 1): 1 of 4 pixels
    np.testing.assert_array_equal(covered_patches(mask, 2), [[True, False], [False, False]])


def test_pointing_hit_looks_only_at_the_top_patch():
    on = np.array([[False, True], [False, False]])
    assert ev.pointing_hit(np.array([[0.1, 0.9], [0.8, 0.0]]), on)
    assert not ev.pointing_hit(np.array([[0.1, 0.8], [0.9, 0.0]]), on)


def test_energy_is_the_share_of_mass_on_object_patches():
    on = np.array([[True, False], [False, False]])
    assert ev.energy(np.array([[3.0, 1.0], [0.0, 0.0]]), on) == pytest.approx(0.75)


def test_energy_of_an_all_zero_map_is_the_object_share():
    on = np.array([[True, False], [False, False]])
    assert ev.energy(np.zeros((2, 2)), on) == pytest.approx(0.25)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    torch.manual_seed(0)
    lm = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=1)
    settings = ev.Settings(n=2, seed=3, steps=2, ig_steps=2)
    results = ev.score_explanations(lm, settings)
    out = tmp_path_factory.mktemp("docs")
    return results, ev.write(results, out, "python -m vitviz.research.explanations --n 2")


def test_report_scores_every_method_and_a_random_baseline(report):
    results, _ = report
    assert list(results["methods"]) == [*vitviz.analysis.explain.METHODS, ev.RANDOM]
    for scores in results["methods"].values():
        for key, _, _ in ev.COLUMNS:
            assert np.isfinite(scores[key])


def test_report_checks_every_method_against_a_randomly_initialised_copy(report):
    results, (_, md_path) = report
    for method, scores in results["methods"].items():
        if method != ev.RANDOM:
            assert 0 <= scores["random_weights"]["pointing"] <= 1 and 0 <= scores["random_weights"]["energy"] <= 1
    assert "## Model-randomisation check" in md_path.read_text()


def test_randomised_copy_has_fresh_weights_and_leaves_the_model_alone():
    torch.manual_seed(0)
    lm = vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=1)
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    control = ev.randomised_copy(lm, seed=5)
    after = control.model.state_dict()
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())
    assert not torch.equal(after["blocks.0.attn.qkv.weight"], before["blocks.0.attn.qkv.weight"])
    assert not torch.equal(after["pos_embed"], before["pos_embed"])
    torch.testing.assert_close(ev.randomised_copy(lm, seed=5).model.state_dict()["pos_embed"], after["pos_embed"])


def test_report_uses_the_predicted_class_for_a_model_without_shape_classes(report):
    results, _ = report
    assert results["target"] == "predicted" and results["accuracy"] is None


def test_report_writes_json_and_a_markdown_table(report):
    results, (json_path, md_path) = report
    assert json.loads(json_path.read_text())["n"] == 2
    md = md_path.read_text()
    assert "python -m vitviz.research.explanations --n 2" in md and "seed 3" in md
    assert all(f"| {m} |" in md for m in results["methods"])


def test_main_explains_how_to_proceed_without_the_embedded_weights(monkeypatch, capsys):
    monkeypatch.setattr(ev, "embedded_model_available", lambda: False)
    assert ev.main(["--n", "1"]) == 2
    assert "--model" in capsys.readouterr().err


@pytest.mark.skipif(not embedded_model_available(),
                    reason=f"the embedded model's weights ({EMBEDDED_MODEL}) are not in vitviz/assets/models yet")
def test_deleting_object_patches_first_hurts_the_embedded_model_more_than_random_order():
    lm = vitviz.load_model(EMBEDDED_MODEL)
    rng = np.random.default_rng(7)
    config = ShapesConfig(image_size=lm.info.input_size[1])
    object_first, random_order = [], []
    for _ in range(8):
        s = generate(rng, config)
        x = ev.sample_input(lm, s.image)
        truth = covered_patches(s.mask, lm.info.patch_size[0]).astype(np.float32)
        curves = fa.curves(lm, x, {"object": truth, "random": rng.random(lm.info.grid)}, s.label,
                           kinds=("deletion",), steps=10)
        object_first.append(curves[0].auc)
        random_order.append(curves[1].auc)
    assert np.mean(object_first) < np.mean(random_order)


def test_findings_say_when_a_random_order_beats_every_method():
    def scores(deletion):
        return {"pointing": 0.5, "energy": 0.5, "deletion/tokens": deletion,
                "stderr": {"pointing": 0.0, "energy": 0.0, "deletion/tokens": 0.0}}
    beaten = {"methods": {"rollout": scores(0.7), ev.RANDOM: scores(0.6)}}
    fair = {"methods": {"rollout": scores(0.2), ev.RANDOM: scores(0.6)}}
    assert "random order beats every method" in ev.findings(beaten)[-1]
    assert "random order beats" not in " ".join(ev.findings(fair))
