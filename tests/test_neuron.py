"""The recomputed attention row equals the captured one."""
import numpy as np
import pytest

import vitviz
from vitviz.neuron import attention_computation, attention_entropy, token_norms


@pytest.fixture(scope="module")
def analysed():
    loaded = vitviz.load_model("vit_tiny_patch16_224", pretrained=False)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    return loaded, vitviz.analyze(loaded, image)


@pytest.mark.parametrize("layer,head,query", [(0, 0, 0), (5, 1, 17), (11, 2, 196)])
def test_probs_match_captured_attention(analysed, layer, head, query):
    loaded, a = analysed
    comp = attention_computation(loaded.model, a.tokens, layer, head, query)
    d = a.info.head_dim
    assert comp.query.shape == (d,)
    assert comp.keys.shape == (a.info.num_tokens, d)
    assert comp.scores.shape == comp.probs.shape == (a.info.num_tokens,)
    np.testing.assert_allclose(comp.probs, a.attention[layer, head, query], atol=1e-5)
    np.testing.assert_allclose(comp.scores, comp.query @ comp.keys.T * comp.scale, rtol=1e-4, atol=1e-5)
    assert comp.scale == pytest.approx(d ** -0.5)
    assert abs(comp.probs.sum() - 1) < 1e-5
    assert 0 <= comp.entropy <= np.log(a.info.num_tokens) + 1e-6


def test_bad_indices_raise(analysed):
    loaded, a = analysed
    with pytest.raises(IndexError):
        attention_computation(loaded.model, a.tokens, a.info.depth, 0, 0)
    with pytest.raises(IndexError):
        attention_computation(loaded.model, a.tokens, 0, a.info.num_heads, 0)


def test_summaries(analysed):
    _, a = analysed
    ent = attention_entropy(a.attention)
    assert ent.shape == (a.info.depth, a.info.num_heads)
    assert token_norms(a.tokens).shape == (a.info.depth + 1,)
