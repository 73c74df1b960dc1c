"""The explorer's data belong to the tab that analysed the image."""
import gc

import numpy as np

import vitviz
from vitviz.ui import explorer as E
from vitviz.ui.capabilities import CapabilityStore
from vitviz.views import explorer as X
from vitviz.views.common import ViewSettings


def test_a_token_opens_only_the_analysis_it_was_issued_for(tiny_analysis):
    store = CapabilityStore()
    token = store.issue(tiny_analysis, "tab-a")
    assert store.lookup(token) is tiny_analysis
    assert store.lookup("not-" + token) is None and store.lookup("") is None


def test_each_tab_gets_its_own_unguessable_token(tiny_analysis):
    store = CapabilityStore()
    a, b = store.issue(tiny_analysis, "tab-a"), store.issue(tiny_analysis, "tab-b")
    assert a != b and len(a) >= 40
    assert store.issue(tiny_analysis, "tab-a") == a  # the same analysis keeps its token


def test_a_new_analysis_revokes_the_tabs_previous_token(tiny_analysis, tiny, photo):
    store = CapabilityStore()
    old = store.issue(tiny_analysis, "tab-a")
    second = vitviz.analyze(tiny, photo[:, ::-1].copy())
    new = store.issue(second, "tab-a")
    assert store.lookup(old) is None and store.lookup(new) is second


def test_a_closed_tab_or_a_dropped_analysis_leaves_nothing_to_fetch(tiny, photo):
    store = CapabilityStore()
    kept = vitviz.analyze(tiny, photo)
    closed = store.issue(kept, "tab-a")
    store.forget("tab-a")
    assert store.lookup(closed) is None
    dropped = store.issue(vitviz.analyze(tiny, photo), "tab-b")
    gc.collect()
    assert store.lookup(dropped) is None  # weak reference: gradio dropping the state frees the analysis


def test_the_server_function_answers_a_valid_token_and_refuses_others(tiny_analysis, monkeypatch):
    store = CapabilityStore()
    monkeypatch.setattr(E, "STORE", store)
    value = E.value("attention", ViewSettings(layer=3), "tab-a", tiny_analysis)
    assert value["selection"]["layer"] == 3 and value["texts"]["layer"] == "Layer"
    assert E.explorer_data([value["token"], "layer:3"])["layer"] == 3
    assert E.explorer_data(["forged", "meta"]) == {"error": "stale"}
    assert "error" in E.explorer_data([value["token"], "layer:99"])
    assert E.explorer_data("nonsense") == {"error": "stale"}


def test_before_an_analysis_the_explorer_gets_no_token():
    value = E.value("rollout", ViewSettings(lang="zh"), "tab-a", None)
    assert value["token"] is None and value["texts"]["fusion"] == "多头融合方式"


def test_with_a_new_analysis_the_value_brings_the_first_views_parts(tiny_analysis, monkeypatch):
    monkeypatch.setattr(E, "STORE", CapabilityStore())
    att = E.value("attention", ViewSettings(layer=2), "tab-a", tiny_analysis, inline=True)
    assert sorted(att["inline"]) == ["layer:2", "meta", "readout"]
    fetched = E.explorer_data([att["token"], "layer:2"])  # what a fetch would bring, in its deflated form
    np.testing.assert_array_equal(X.decode_rows(att["inline"]["layer:2"]["patches"]), X.decode_rows(fetched["patches"]))
    roll = E.value("rollout", ViewSettings(), "tab-a", tiny_analysis, inline=True)
    assert sorted(roll["inline"]) == ["meta", "rollout:own"] and roll["token"] == att["token"]
    assert "inline" not in E.value("attention", ViewSettings(), "tab-a", tiny_analysis)  # later values stay small
