"""Property: any image that loads goes through the whole analysis to finite, normalised maps."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import vitviz


@pytest.fixture(scope="module")
def small_model():
    return vitviz.load_model("vit_tiny_patch16_224", pretrained=False, depth=2)


MODES = ["RGB", "L", "LA", "RGBA", "P", "I;16", "F", "CMYK", "1"]


@st.composite
def pictures(draw):
    w = draw(st.integers(1, 400))
    h = draw(st.integers(max(1, -(-w // 40)), min(400, w * 40)))  # inside the documented 50:1 limit
    mode = draw(st.sampled_from(MODES))
    seed = draw(st.integers(0, 2**16))
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        return Image.fromarray((rgb[..., 0].astype(np.uint16) * 257))
    if mode == "F":
        return Image.fromarray(rgb[..., 0].astype(np.float32) / 7.0 - 3.0)
    return image.convert(mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picture=pictures())
def test_any_loadable_image_gives_finite_normalised_maps(small_model, picture):
    result = vitviz.analyze(small_model, picture)
    gh, gw = small_model.info.grid
    arrays = (result.cls_attention, result.rollout, result.head_rollout, result.pos_similarity,
              result.attention_distance, result.logits, result.input)
    assert all(np.isfinite(a).all() for a in arrays)
    assert result.rollout.shape == (gh, gw)
    # Documented normalisation: rows of probabilities, rollout mass ≤ 1, cosines in [−1, 1].
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-4)
    assert (result.rollout >= 0).all() and result.rollout.sum() <= 1 + 1e-5
    assert (result.head_rollout >= 0).all() and (result.head_rollout.sum((-1, -2)) <= 1 + 1e-5).all()
    assert (np.abs(result.pos_similarity) <= 1 + 1e-5).all()
    assert sum(p.probability for p in result.predictions) <= 1 + 1e-6
