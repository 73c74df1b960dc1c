"""The recomputed attention row equals the captured one."""
import numpy as np
import pytest

import vitviz
from vitviz.analysis.neuron import (AnalysisCache, attention_computation, attention_entropy, attention_scale,
                                   depth_measurements, query_computation, token_norms)


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


def test_query_computation_is_attention_computation_cached_per_analysis(analysed):
    loaded, a = analysed
    comp = query_computation(loaded.model, a, 5, 1, 17)
    assert query_computation(loaded.model, a, 5, 1, 17) is comp  # cached
    direct = attention_computation(loaded.model, a.tokens, 5, 1, 17)
    for name in ("query", "keys", "values", "scores", "probs", "output"):
        np.testing.assert_array_equal(getattr(comp, name), getattr(direct, name))
        assert not getattr(comp, name).flags.writeable  # shared: read-only
    assert comp.scale == direct.scale == attention_scale(loaded.model, 5)
    assert query_computation(loaded.model, a, 5, 2, 17).head == 2


def test_depth_measurements_are_the_summaries(analysed):
    _, a = analysed
    norms, ent = depth_measurements(a)
    assert depth_measurements(a)[0] is norms
    np.testing.assert_allclose(norms, token_norms(a.tokens))
    np.testing.assert_allclose(ent, attention_entropy(a.attention).mean(-1))


class _FakeAnalysis:
    pass


def test_analysis_cache_identity_lru_and_release():
    import gc
    import threading

    cache = AnalysisCache(3)
    calls = []

    def compute(v):
        calls.append(v)
        return v

    a, b = _FakeAnalysis(), _FakeAnalysis()
    assert cache.get(a, "x", lambda: compute(1)) == 1
    assert cache.get(a, "x", lambda: compute(2)) == 1  # hit
    assert cache.get(b, "x", lambda: compute(3)) == 3  # another analysis, same name
    assert cache.get(a, "y", lambda: compute(4)) == 4
    assert calls == [1, 3, 4] and len(cache) == 3
    del b
    gc.collect()
    assert len(cache) == 2  # dropped with its analysis
    others = [_FakeAnalysis() for _ in range(4)]
    for o in others:
        cache.get(o, "x", lambda: 0)
    assert len(cache) == 3  # bounded
    results = []
    shared = _FakeAnalysis()
    threads = [threading.Thread(target=lambda: results.append(cache.get(shared, "z", lambda: 7))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [7] * 8
