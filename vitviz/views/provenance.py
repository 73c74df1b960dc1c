"""Where the loaded model's weights came from, and why the app started with it, in every language.

The core says both in English (`LoadedModel.source`, `DefaultModel.reason`, for the CLI and the API)
and keeps their kind and values (`origin`, `why`); the other languages are said here from those.
"""
from __future__ import annotations

from vitviz.core.model import DefaultModel, LoadedModel

SOURCE_ZH = {
    "checkpoint": "{name}，权重来自本地检查点 {file}。",
    "hub": "{name}，预训练权重（{tag}）来自 timm 的 hub 缓存。",
    "random": "{name}，随机权重（未请求预训练权重）：注意力没有意义。",
    "embedded": "{name}：本项目自己训练的小型 ViT，训练数据为{data}（{classes}）；可离线使用。",
}
DATA_ZH = {"vitviz-fashion": " Fashion-MNIST，Zalando 的 28×28 灰度服装图片", "vitviz-shapes": "生成的几何图形"}
REASON_ZH = {
    "env": "由 VITVIZ_MODEL 设置选定",
    "cached": "其预训练权重已在本地缓存中",
    "online": "可以连接模型 hub",
    "offline_ranked": "无法连接模型 hub，因此使用内置模型：选用 {name}，因为它的位置嵌入{claim}"
                      "（相邻与同环远处的余弦之差 {gap:.2f}；{others}）",
    "offline": "无法连接模型 hub，因此使用内置模型",
    "missing": "无法连接模型 hub，且内置模型缺失：使用随机权重",
}
PATTERN_ZH = {"grid": "网格", "radial": "同心方环", "none": "无明显结构"}


def source_sentences(loaded: LoadedModel, start: DefaultModel | None = None) -> dict[str, str]:
    """{lang: the status line's sentence}: where the weights came from and, for the start-up model,
    why it was chosen. A language without a template for this kind says it in English."""
    out = {"en": loaded.source + (f" Why this model: {start.reason}." if start is not None else "")}
    kind, values = loaded.origin
    if kind in SOURCE_ZH:
        if kind == "embedded":
            values = dict(values, data=DATA_ZH.get(values["name"], values["data"]))
        zh = SOURCE_ZH[kind].format(**values)
        reason = _reason_zh(start) if start is not None else ""
        if reason is not None:
            out["zh"] = zh + (f"选用原因：{reason}。" if reason else "")
    return out


def _reason_zh(start: DefaultModel) -> str | None:
    kind, values = start.why
    if kind not in REASON_ZH:
        return None
    if kind != "offline_ranked":
        return REASON_ZH[kind]
    best = values["best"]
    others = "；".join(f"{s.name} 为 {s.gap:.2f}，{PATTERN_ZH.get(s.pattern, s.pattern)}" for s in values["others"])
    claim = "构成最清晰的二维网格" if best.pattern == "grid" else "最接近二维网格"
    return REASON_ZH[kind].format(name=best.name, claim=claim, gap=best.gap, others=others)
