"""analyze(): every array of the Analysis equals an independent computation from the captured pass."""
import json

import numpy as np
import pytest
import torch

import vitviz
from test_attention_maths import reference_rollout


def test_cls_attention_is_cls_row_over_patches(tiny_analysis):
    a = tiny_analysis
    expected = a.attention[:, :, 0, 1:].reshape(*a.attention.shape[:2], 14, 14)
    np.testing.assert_allclose(a.cls_attention, expected, atol=1e-7)


def test_rollout_equals_reference_on_captured_attention(tiny_analysis):
    ref = reference_rollout(tiny_analysis.attention.astype(np.float64), "mean", 0.0)
    np.testing.assert_allclose(tiny_analysis.rollout, ref[0, 1:].reshape(14, 14), atol=1e-6)


def test_rollout_is_not_max_normalised(tiny_analysis):
    assert tiny_analysis.rollout.max() < 1.0
    assert 0 < tiny_analysis.rollout.sum() < 1.0  # the rest of the row sits on the CLS token


@pytest.mark.parametrize("fusion,discard", [("max", 0.0), ("min", 0.5), ("mean", 0.9)])
def test_streamed_rollout_matches_rollout_from_stored_attention(tiny, photo, fusion, discard):
    result = vitviz.analyze(tiny, photo, fusion=fusion, discard_ratio=discard)
    np.testing.assert_allclose(result.rollout, result.rollout_map(fusion, discard), atol=1e-6)
    ref = reference_rollout(result.attention.astype(np.float64), fusion, discard)
    np.testing.assert_allclose(result.rollout, ref[0, 1:].reshape(14, 14), atol=1e-5)


def test_head_rollout_equals_pure_function_on_stored_attention(tiny_analysis):
    a = tiny_analysis
    rows = vitviz.analysis.attention.head_rollout(torch.from_numpy(a.attention).double(), a.readout.double())
    np.testing.assert_allclose(a.head_rollout, rows[..., 1:].reshape(a.head_rollout.shape).numpy(), atol=1e-6)


def test_attention_distance_equals_pure_function(tiny_analysis):
    a = tiny_analysis
    expected = vitviz.analysis.attention.attention_distance(torch.from_numpy(a.attention), a.grid).numpy()
    np.testing.assert_allclose(a.attention_distance, expected, rtol=1e-5)


def test_query_attention_is_the_clicked_patch_row(tiny_analysis):
    a = tiny_analysis
    token = a.grid.token_index(3, 5)
    expected = a.attention[:, :, token, 1:].reshape(12, 3, 14, 14)
    np.testing.assert_allclose(a.query_attention(token), expected)


def test_pos_similarity_uses_patch_positions_only(tiny, tiny_analysis):
    pos = tiny.model.pos_embed[0, 1:].detach()
    unit = pos / pos.norm(dim=-1, keepdim=True)
    np.testing.assert_allclose(tiny_analysis.pos_similarity.reshape(196, 196), (unit @ unit.T).numpy(), atol=1e-5)


def test_predictions_are_softmax_top5(tiny_analysis):
    probs = torch.from_numpy(tiny_analysis.logits).softmax(-1)
    top = probs.topk(5)
    assert [p.index for p in tiny_analysis.predictions] == top.indices.tolist()
    assert [p.probability for p in tiny_analysis.predictions] == pytest.approx(top.values.tolist())


def test_relevance_is_for_the_top_class(tiny_analysis):
    assert tiny_analysis.relevance_class == int(np.argmax(tiny_analysis.logits))
    assert tiny_analysis.relevance.shape == (14, 14) and np.isfinite(tiny_analysis.relevance).all()


def test_relevance_equals_pure_function_on_captured_gradients(tiny, photo):
    result = vitviz.analyze(tiny, photo, relevance_class=3)
    x = torch.from_numpy(result.input).unsqueeze(0)
    cap = vitviz.capture(tiny.model, x, target_class=3)
    r = vitviz.analysis.attention.relevance(torch.cat(cap.attention), torch.cat(cap.attention_grads))
    np.testing.assert_allclose(result.relevance, r[0, 1:].reshape(14, 14).numpy(), atol=1e-6)


def test_input_is_exact_tensor_fed_to_model(tiny, tiny_analysis):
    with torch.no_grad():
        logits = tiny.model(torch.from_numpy(tiny_analysis.input).unsqueeze(0))[0]
    np.testing.assert_allclose(tiny_analysis.logits, logits.numpy(), atol=1e-5)


def test_image_is_the_denormalised_input(tiny, tiny_analysis):
    mean = np.array(tiny.data_config["mean"]).reshape(3, 1, 1)
    std = np.array(tiny.data_config["std"]).reshape(3, 1, 1)
    expected = np.clip(tiny_analysis.input * std + mean, 0, 1).transpose(1, 2, 0) * 255
    assert np.abs(tiny_analysis.image.astype(float) - expected).max() <= 0.5 + 1e-6


def test_average_pooling_model_reads_out_the_patch_mean(photo):
    loaded = vitviz.load_model("vit_medium_patch16_gap_256", pretrained=False, depth=2)
    result = vitviz.analyze(loaded, photo)
    expected = result.attention.mean(axis=2).reshape(2, 8, 16, 16)  # mean over the patch queries
    np.testing.assert_allclose(result.cls_attention, expected, atol=1e-6)


def test_large_attention_is_kept_in_half_precision_with_exact_maps(photo):
    loaded = vitviz.load_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=2)
    result = vitviz.analyze(loaded, photo)
    assert result.attention.dtype == np.float16
    np.testing.assert_allclose(result.cls_attention, result.attention[:, :, 0, 5:].astype(np.float32).reshape(2, 6, 37, 37), atol=1e-3)


def test_npz_round_trip(tmp_path, tiny_analysis):
    path = tiny_analysis.save_npz(tmp_path / "a.npz")
    with np.load(path) as z:
        assert z["input"].shape == (3, 224, 224) and z["input"].dtype == np.float32
        assert z["attention"].shape == (12, 3, 197, 197)
        for key in ("logits", "cls_attention", "rollout", "head_rollout", "pos_similarity", "attention_distance"):
            np.testing.assert_array_equal(z[key], getattr(tiny_analysis, key))
        meta = json.loads(str(z["meta"]))
    assert meta["model"] == "vit_tiny_patch16_224" and meta["grid"] == [14, 14] and meta["num_prefix_tokens"] == 1
    assert meta["fusion"] == "mean" and meta["vitviz_version"] == vitviz.__version__


def test_model_without_head_has_no_predictions(photo):
    loaded = vitviz.load_model("vit_small_patch8_224", pretrained=False, depth=1)
    result = vitviz.analyze(loaded, photo)
    assert result.predictions == () and result.logits.shape == (384,)
    with pytest.raises(ValueError, match="no classifier head"):
        vitviz.analyze(loaded, photo, relevance_class="top")


def test_analyze_accepts_path_pil_and_array(tiny, photo, tmp_path):
    from PIL import Image
    path = tmp_path / "p.png"
    Image.fromarray(photo).save(path)
    a = vitviz.analyze(tiny, path).logits
    np.testing.assert_allclose(vitviz.analyze(tiny, Image.fromarray(photo)).logits, a, atol=1e-6)
    np.testing.assert_allclose(vitviz.analyze(tiny, photo).logits, a, atol=1e-6)
