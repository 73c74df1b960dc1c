"""The views catalogue: what each section of the app shows, computed from an `Analysis` (no gradio import).

Every function takes the analysis plus the view settings and returns pictures as (H, W, 3)
uint8 arrays and texts as Markdown; one function per picture, used by the app, the CLI's
figure set (`vitviz.views.figures`) and notebooks alike. Nothing here runs the model: the
neuron view's numbers come from `vitviz.analysis.neuron.query_computation` (which the
view functions given a model call; it computes them on demand and caches them per analysis).

The functions live in one module per section (`inputs`, `position`, `attention`, `rollout`,
`prediction`, `trust`; shared helpers in `common`) and are all importable from here:
`from vitviz.views import pictures as V; V.grid_image(a)`.
"""
from __future__ import annotations

from vitviz.analysis.neuron import AnalysisCache
from vitviz.views.attention import (attention_text, block_stats_image, block_text, distance_image, distance_text,
                                    layer_heads_image, neuron_image, neuron_text, neuron_view, overview_image,
                                    query_image)
from vitviz.views.common import (DERIVED, WIDE, ViewSettings, default_patch, display_factor, frame,
                                 layer_head_mosaic, patch_at_display_pixel, query_token, token_label)
from vitviz.views.inputs import filters_image, grid_image, input_text, shape_table, strip_image
from vitviz.views.position import position_all_image, position_patch_image, position_text
from vitviz.views.prediction import class_choices, prediction_label, prediction_text, probabilities_label
from vitviz.views.rollout import ROLLOUTS, head_rollout_image, relevance_image, rollout_image, rollout_text
from vitviz.views.trust import (HATCH, RANDOM_BASELINE, auc_table, explanations_image, explanations_text,
                                faithfulness_image, random_map, what_if_image)

__all__ = [
    "AnalysisCache", "DERIVED", "HATCH", "RANDOM_BASELINE", "ROLLOUTS", "WIDE", "ViewSettings", "attention_text",
    "auc_table", "block_stats_image", "block_text", "class_choices", "default_patch", "display_factor",
    "distance_image", "distance_text", "explanations_image", "explanations_text", "faithfulness_image",
    "filters_image", "frame", "grid_image", "head_rollout_image", "input_text", "layer_head_mosaic",
    "layer_heads_image", "neuron_image", "neuron_text", "neuron_view", "overview_image", "patch_at_display_pixel",
    "position_all_image", "position_patch_image", "position_text", "prediction_label", "prediction_text",
    "probabilities_label", "query_image", "query_token", "random_map", "relevance_image",
    "rollout_image", "rollout_text", "shape_table", "strip_image", "token_label", "what_if_image",
]
