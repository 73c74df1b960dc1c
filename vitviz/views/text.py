"""Every user-facing string of the app, in English and 简体中文.

`tr(key, lang, **values)` looks a string up and fills `{placeholders}` with str.format.
Explanations follow the classic ViT walkthrough (patches → CLS → position → encoder → head).
"""
from __future__ import annotations

LANGS = ("en", "zh")
LANG_CHOICES = [("English", "en"), ("简体中文", "zh")]

TEXT: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ header
    "title": {
        "en": "# vitviz: look inside a Vision Transformer",
        "zh": "# vitviz：看清 Vision Transformer 的每一步",
    },
    "intro": {
        "en": ("Pick an image and a model. The model runs **once**; every picture below is read from that "
               "single forward pass, following the image from pixels to prediction. Click a patch of the "
               "image to follow that patch; sliders and buttons only re-draw, they never re-run the model."),
        "zh": ("选一张图片和一个模型。模型只运行**一次**，下面所有的图都来自这一次前向传播，"
               "从像素一路跟到预测结果。点击图片上的某个图像块（patch）即可跟踪它；"
               "滑块和按钮只会重新绘图，不会重新运行模型。"),
    },
    "language": {"en": "Language / 语言", "zh": "语言 / Language"},
    "model": {"en": "Model (pick one or type any timm ViT name)", "zh": "模型（可选择，也可输入任意 timm ViT 名称）"},
    "random_weights": {"en": "Random weights (no download)", "zh": "随机权重（不下载）"},
    "image": {"en": "Image (upload, paste or pick an example)", "zh": "图片（上传、粘贴或选择示例）"},
    "examples": {"en": "Examples", "zh": "示例"},
    "status_none": {"en": "No model loaded yet.", "zh": "尚未加载模型。"},
    "status": {"en": "**Model:** {source}", "zh": "**模型：** {source}"},
    "status_image": {"en": "Upload an image or pick an example to start.", "zh": "请上传图片或选择一个示例开始。"},
    "analysed": {
        "en": "Analysed with **{model}**: {h}×{w} input, {tokens} tokens, {depth} blocks × {heads} heads.",
        "zh": "已用 **{model}** 分析：输入 {h}×{w}，{tokens} 个 token，{depth} 个 block × {heads} 个注意力头。",
    },
    "loading": {"en": "Loading model {name}…", "zh": "正在加载模型 {name}…"},
    "running": {"en": "Running the forward pass…", "zh": "正在运行前向传播…"},
    "model_failed": {"en": "{msg} The previous model stays loaded.", "zh": "{msg} 继续使用之前的模型。"},
    "bad_image": {"en": "{msg}", "zh": "图片无法使用：{msg}"},
    "selected_patch": {
        "en": "Selected patch: row {row}, column {col} → token {token} of {n}.",
        "zh": "已选图像块：第 {row} 行，第 {col} 列 → 序列中的第 {token} 个 token（共 {n} 个）。",
    },
    # ------------------------------------------------------------------ a. input and patches
    "sec_a": {"en": "## 1 · Input and patches", "zh": "## 1 · 输入与图像块（Patch）"},
    "expl_a": {
        "en": ("The image is resized and centre-cropped to **{h}×{w}** and cut into a **{gh}×{gw}** grid of "
               "**{ph}×{pw}**-pixel patches. A {ph}×{pw} convolution with stride {ph} turns each patch into one "
               "vector of **{c}** numbers (the *patch embedding*), so the picture becomes a sequence of "
               "**{p}** tokens. {prefix_sentence} Left: what the model sees, with the patch grid "
               "(click a patch to follow it). Right: the same patches as the sequence the Transformer reads."),
        "zh": ("图片先缩放并中心裁剪为 **{h}×{w}**，再切成 **{gh}×{gw}** 个 **{ph}×{pw}** 像素的图像块。"
               "一个卷积核 {ph}×{pw}、步长 {ph} 的卷积把每个图像块变成一个长度为 **{c}** 的向量（patch embedding），"
               "于是图片变成了 **{p}** 个 token 组成的序列。{prefix_sentence}"
               "左图：模型实际看到的输入和图像块网格（点击某个图像块来跟踪它）。右图：同样的图像块排成 Transformer 读入的序列。"),
    },
    "prefix_cls": {
        "en": ("A learnable **CLS** token is put in front; it gathers information from every patch and is what "
               "the classifier reads at the end."),
        "zh": "序列最前面拼接一个可学习的 **CLS** token（分类 token），它和所有图像块交互信息，最后分类只看它。",
    },
    "prefix_many": {
        "en": "The prefix tokens **{names}** are put in front of the patches.",
        "zh": "图像块前面拼接了前缀 token：**{names}**。",
    },
    "prefix_avg": {
        "en": " This model's classifier reads the **average of the patch tokens** instead of a CLS token.",
        "zh": " 这个模型的分类头读取的是**所有图像块 token 的平均值**，而不是 CLS token。",
    },
    "img_grid": {"en": "Model input with the {gh}×{gw} patch grid (click a patch)", "zh": "模型输入与 {gh}×{gw} 图像块网格（可点击）"},
    "img_grid_static": {"en": "Model input with the patch grid (click a patch)", "zh": "模型输入与图像块网格（可点击）"},
    "img_strip": {"en": "The token sequence, read left to right (prefix tokens first)", "zh": "token 序列，从左到右读（前缀 token 在最前）"},
    "img_filters": {"en": "Patch-embedding filters: first principal components", "zh": "Patch embedding 卷积核的主成分"},
    "filters_expl": {
        "en": ("The patch embedding is a linear map; its filters' principal components (ViT paper, fig. 7 left) "
               "show the basic patterns it measures in each patch (for a trained model: smooth blobs, edges, colours)."),
        "zh": "Patch embedding 是一个线性映射；它的卷积核的主成分（ViT 论文图 7 左）显示了它在每个图像块里测量的基本模式（训练好的模型里是平滑色块、边缘和颜色）。",
    },
    "shape_table_title": {"en": "### The shapes, step by step", "zh": "### 每一步的形状"},
    "shape_head": {"en": "| step | shape | what happens |\n|---|---|---|", "zh": "| 步骤 | 形状 | 做了什么 |\n|---|---|---|"},
    "shape_input": {"en": "input image | ({h}, {w}, 3) | RGB pixels after resize and crop",
                    "zh": "输入图片 | ({h}, {w}, 3) | 缩放、裁剪后的 RGB 像素"},
    "shape_conv": {"en": "patch embedding | ({gh}, {gw}, {c}) | {ph}×{pw} conv, stride {ph}: one {c}-vector per patch",
                   "zh": "patch embedding | ({gh}, {gw}, {c}) | {ph}×{pw} 卷积、步长 {ph}：每个图像块一个 {c} 维向量"},
    "shape_flat": {"en": "flatten | ({p}, {c}) | the grid becomes a sequence, row by row",
                   "zh": "展平 | ({p}, {c}) | 网格按行展平为序列"},
    "shape_prefix": {"en": "+ {names} | ({n}, {c}) | prefix token(s) concatenated in front",
                     "zh": "+ {names} | ({n}, {c}) | 在前面拼接前缀 token"},
    "shape_pos": {"en": "+ position embedding | ({n}, {c}) | a learned vector added to every token",
                  "zh": "+ 位置编码 | ({n}, {c}) | 给每个 token 加上一个可学习的向量"},
    "shape_blocks": {"en": "{depth} × Transformer block | ({n}, {c}) | attention + MLP, shape unchanged",
                     "zh": "{depth} 个 Transformer block | ({n}, {c}) | 注意力 + MLP，形状不变"},
    "shape_norm": {"en": "final LayerNorm, read {readout} | ({c},) | {readout_what}",
                   "zh": "最后的 LayerNorm，取 {readout} | ({c},) | {readout_what}"},
    "shape_no_head": {"en": "no classification head | ({c},) | this model outputs the feature vector itself (e.g. DINO)",
                      "zh": "没有分类头 | ({c},) | 这个模型直接输出特征向量（例如 DINO）"},
    "no_head": {
        "en": ("This model has **no classification head** (num_classes = 0, e.g. a self-supervised DINO "
               "backbone): its output is the ({c},) feature vector, so there are no class probabilities and no "
               "class-specific relevance. Attention and rollout still work."),
        "zh": ("这个模型**没有分类头**（num_classes = 0，例如自监督的 DINO 主干网络）：输出就是 ({c},) 的特征向量，"
               "所以没有类别概率，也没有类别相关性。注意力和 Rollout 仍然可以看。"),
    },
    "readout_cls": {"en": "only the CLS token goes on", "zh": "只保留 CLS token"},
    "readout_avg": {"en": "mean over the {p} patch tokens", "zh": "对 {p} 个图像块 token 取平均"},
    "shape_head_row": {"en": "classification head | ({k},) | linear layer: one score (logit) per class",
                       "zh": "分类头 | ({k},) | 全连接层：每个类别一个分数（logit）"},
    # ------------------------------------------------------------------ b. position
    "sec_b": {"en": "## 2 · Position embeddings", "zh": "## 2 · 位置编码"},
    "expl_b": {
        "en": ("Attention by itself does not know where a patch came from, so a learned position embedding of "
               "shape **({n}, {c})** is added to the tokens. Each small map below belongs to one patch and shows "
               "the cosine similarity of its position embedding with every other patch's (ViT paper, fig. 7 "
               "centre). A trained model learns that nearby patches, and patches in the same row or column, "
               "have similar embeddings; a random model shows noise. Below: what the loaded model has learned."),
        "zh": ("注意力本身不知道图像块来自哪里，所以要给 token 加上形状为 **({n}, {c})** 的可学习位置编码，"
               "网络才能区分不同区域。下面每个小图对应一个图像块，显示它的位置编码和所有其他图像块位置编码的余弦相似度"
               "（ViT 论文图 7 中）。训练好的模型会学到：相邻的、同行同列的图像块位置编码更相似；随机权重的模型只有噪声。下面是对当前模型的测量。"),
    },
    "pos_measured_grid": {
        "en": ("**This model:** neighbouring patches have position similarity **{near:.2f}** on average, patches "
               "≥ {far} cells apart **{farv:.2f}**: it has learned where each patch lies in the 2D grid."),
        "zh": ("**本模型：** 相邻图像块的位置编码平均相似度为 **{near:.2f}**，相距 ≥ {far} 格的为 **{farv:.2f}**："
               "它学会了每个图像块在二维网格中的位置。"),
    },
    "pos_measured_radial": {
        "en": ("**This model:** neighbouring patches have position similarity **{near:.2f}** on average, patches "
               "≥ {far} cells apart **{farv:.2f}** — but far patches at the same distance from the centre "
               "**{ring:.2f}**, as similar as neighbours. Its position embeddings encode how far a patch is from "
               "the centre (square rings in the maps), not exactly where it is."),
        "zh": ("**本模型：** 相邻图像块的位置编码平均相似度为 **{near:.2f}**，相距 ≥ {far} 格的为 **{farv:.2f}**，"
               "但与中心距离相同的远处图像块之间为 **{ring:.2f}**，和相邻图像块一样相似。它的位置编码表示的是"
               "图像块离中心有多远（图中的方形圆环），而不是确切位置。"),
    },
    "pos_measured_none": {
        "en": ("**This model:** neighbouring patches have position similarity **{near:.2f}** on average, patches "
               "≥ {far} cells apart **{farv:.2f}**: no spatial structure, as with untrained (random) embeddings."),
        "zh": ("**本模型：** 相邻图像块的位置编码平均相似度为 **{near:.2f}**，相距 ≥ {far} 格的为 **{farv:.2f}**："
               "没有空间结构，和未训练（随机）的位置编码一样。"),
    },
    "pos_measured_lines": {
        "en": " Far patches in the same row or column stay more similar (**{line:.2f}**) than other far pairs.",
        "zh": "同一行或同一列的远处图像块更相似（**{line:.2f}**），高于其他远处的图像块对。",
    },
    "img_pos_all": {"en": "Position-embedding similarity, one map per patch (−1 … 1)", "zh": "位置编码相似度，每个图像块一张图（−1 … 1）"},
    "img_pos_patch": {"en": "Similarity to the selected patch's position", "zh": "与所选图像块位置编码的相似度"},
    # figure texts (drawn into the pictures, in the page's language when a CJK font is installed)
    "fig_cosine": {"en": "cosine similarity", "zh": "余弦相似度"},
    "fig_attention_weight": {"en": "attention weight (over patch tokens)", "zh": "注意力权重（对图像块 token）"},
    "fig_distance_title": {"en": "Mean attention distance", "zh": "平均注意力距离"},
    "fig_distance_x": {"en": "Network depth (layer)", "zh": "网络深度（层）"},
    "fig_distance_y": {"en": "Mean attention distance (pixels)", "zh": "平均注意力距离（像素）"},
    "fig_one_patch": {"en": "one patch ({px} px)", "zh": "一个图像块（{px} 像素）"},
    "fig_every_value": {"en": "every value =", "zh": "所有值均为"},
    "fig_patch": {"en": "patch ({row}, {col})", "zh": "图像块 ({row}, {col})"},
    # the neuron view (how one attention row is computed)
    "fig_q_title": {"en": "query q of {query}  ({d},)", "zh": "{query} 的 query q（{d},）"},
    "fig_k_title": {"en": "keys k of all {n} tokens  ({n}, {d})", "zh": "全部 {n} 个 token 的 key k（{n}, {d}）"},
    "fig_scores_title": {"en": "scores q·k × {scale:.4g}  ({n},)", "zh": "分数 q·k × {scale:.4g}（{n},）"},
    "fig_softmax_title": {"en": "softmax → attention row  ({n},)", "zh": "softmax → 注意力行（{n},）"},
    "fig_head_dim": {"en": "dimension of the head", "zh": "注意力头内的维度"},
    "fig_token": {"en": "token", "zh": "token 序号"},
    "fig_query_mark": {"en": "query", "zh": "查询"},
    "fig_uniform": {"en": "1/N (uniform)", "zh": "1/N（均匀）"},
    "fig_max": {"en": "max: ", "zh": "最大："},
    "fig_key_index": {"en": "key token index", "zh": "key token 序号"},
    "fig_prefix_note": {"en": " (orange: prefix tokens)", "zh": "（橙色：前缀 token）"},
    # the block measurements
    "fig_mean_token_norm": {"en": "mean token norm", "zh": "token 平均范数"},
    "fig_after_block_input": {"en": "after block (0 = input)", "zh": "第几个 block 之后（0 = 输入）"},
    "fig_entropy": {"en": "attention entropy (nats)", "zh": "注意力熵（nats）"},
    "fig_gelu_zero": {"en": "GELU outputs ≈ 0 (%)", "zh": "GELU 输出 ≈ 0（%）"},
    # ------------------------------------------------------------------ c. attention
    "sec_c": {"en": "## 3 · Self-attention", "zh": "## 3 · 自注意力"},
    "expl_c": {
        "en": ("Each of the **{depth}** blocks lets every token look at every other token. Each of the "
               "**{heads}** heads has its own queries and keys of **{d}** numbers; a token's attention row says "
               "how much of each other token's value it mixes in, so after attention every patch holds a "
               "weighted sum of the others. Below: what the {readout} attends to in the chosen layer (one map per "
               "head), all layers × heads at once, and what the selected patch attends to."),
        "zh": ("**{depth}** 个 block 中的每一个都让每个 token 去看所有其他 token。**{heads}** 个注意力头各有自己的 "
               "**{d}** 维 query 和 key；一个 token 的注意力行表示它从每个其他 token 的 value 中取多少，"
               "所以注意力之后，每个图像块都拥有其他图像块的加权和。下面依次是：所选层中 {readout} 看向哪里（每个头一张图）、"
               "所有层 × 所有头的总览，以及所选图像块看向哪里。"),
    },
    "readout_name_cls": {"en": "CLS token", "zh": "CLS token"},
    "readout_name_avg": {"en": "average of the patch tokens", "zh": "图像块 token 的平均"},
    "layer": {"en": "Layer (block)", "zh": "层（block）"},
    "head": {"en": "Head", "zh": "注意力头"},
    "query_kind": {"en": "Query token", "zh": "Query token"},
    "query_patch": {"en": "selected patch", "zh": "所选图像块"},
    "img_heads": {"en": "Attention of the readout token in the chosen layer, per head", "zh": "所选层中读出 token 的注意力，每个头一张"},
    "img_overview": {"en": "Overview: readout attention for every layer (rows) × head (columns)", "zh": "总览：每一层（行）× 每个头（列）的读出注意力"},
    "img_query": {"en": "What the query token attends to (chosen layer and head; click a patch)",
                  "zh": "Query token 看向哪里（所选层和头；可点击图像块）"},
    "img_query_heads": {"en": "Same query, all heads of the chosen layer", "zh": "同一个 query，所选层的全部注意力头"},
    "img_distance": {"en": "Mean attention distance per head vs depth (ViT fig. 7 right)", "zh": "每个头的平均注意力距离随深度变化（ViT 图 7 右）"},
    "distance_expl": {
        "en": ("Mean attention distance: how far, in pixels, a head looks on average (like a CNN's receptive "
               "field). In trained ViTs some heads look far already in the first layers, others stay local; "
               "deeper layers look far. The dashed line is one patch ({ph} px); the highlighted column is the chosen layer."),
        "zh": ("平均注意力距离：一个头平均看多远（像素），类似 CNN 的感受野。训练好的 ViT 里，一些头在最前面几层就看得很远，"
               "另一些只看局部；越深的层看得越远。虚线是一个图像块的大小（{ph} 像素），高亮的一列是所选层。"),
    },
    "sub_neuron": {"en": "### How attention is computed", "zh": "### 注意力是怎么算出来的"},
    "expl_neuron": {
        "en": ("For the query token **{query}** in layer **{layer}**, head **{head}**: LayerNorm, then the `qkv` "
               "linear layer gives its query **q** ({d},) and the keys **k** of all {n} tokens ({n}, {d}). "
               "Each score is q·k × {scale:.4g} (= 1/√{d}); softmax turns the {n} scores into the attention "
               "row, which sums to 1. The strongest key is **{top}** with {top_p:.1%}; entropy {entropy:.2f} nats "
               "(uniform would be {max_entropy:.2f})."),
        "zh": ("以第 **{layer}** 层、第 **{head}** 个头中的 query token **{query}** 为例：先做 LayerNorm，再经过 `qkv` "
               "全连接层得到它的 query **q**（{d},）和所有 {n} 个 token 的 key **k**（{n}, {d}）。"
               "每个分数是 q·k × {scale:.4g}（= 1/√{d}）；softmax 把这 {n} 个分数变成注意力行，总和为 1。"
               "权重最大的 key 是 **{top}**，占 {top_p:.1%}；熵为 {entropy:.2f} nats（均匀分布为 {max_entropy:.2f}）。"),
    },
    "img_neuron": {"en": "Query, keys, scores and softmax of one head", "zh": "一个头的 query、key、分数与 softmax"},
    "sub_block": {"en": "### Inside one block", "zh": "### 一个 block 的内部"},
    "expl_block": {
        "en": ("The path of the tokens through block **{layer}** of {depth}, with this model's real shapes "
               "(batch B = 1) and one measurement from this image's forward pass per step. Dropout and DropPath "
               "are switched off at inference (the model is in eval mode), so they change nothing here. Pick the block "
               "with the layer slider above."),
        "zh": ("token 经过第 **{layer}** 个 block（共 {depth} 个）的路径，使用这个模型的真实形状（batch B = 1），"
               "每一步附上本次前向传播中测得的一个数值。推理时（eval 模式）Dropout 和 DropPath 都不起作用。用上面的层滑块选择 block。"),
    },
    "block_head": {"en": "| step | shape | measured on this image |\n|---|---|---|",
                   "zh": "| 步骤 | 形状 | 本图测量值 |\n|---|---|---|"},
    "blk_in": {"en": "block input x | ({n}, {c}) | mean token norm {norm_in:.2f}",
               "zh": "block 输入 x | ({n}, {c}) | token 平均范数 {norm_in:.2f}"},
    "blk_ln1": {"en": "LayerNorm (norm1) | ({n}, {c}) | each token: mean 0, variance 1, then scale and shift",
                "zh": "LayerNorm (norm1) | ({n}, {c}) | 每个 token 归一化为均值 0、方差 1，再缩放平移"},
    "blk_qkv": {"en": "qkv linear | ({n}, {c3}) | {c} → 3·{c} numbers per token",
                "zh": "qkv 全连接 | ({n}, {c3}) | 每个 token 从 {c} 维变为 3·{c} 维"},
    "blk_split": {"en": "split into heads | (3, 1, {heads}, {n}, {d}) | q, k, v for {heads} heads of {d} dims",
                  "zh": "拆分成多个头 | (3, 1, {heads}, {n}, {d}) | {heads} 个头的 q、k、v，每个 {d} 维"},
    "blk_scores": {"en": "q·kᵀ × scale | (1, {heads}, {n}, {n}) | scale = 1/√{d} = {scale:.4g}",
                   "zh": "q·kᵀ × scale | (1, {heads}, {n}, {n}) | scale = 1/√{d} = {scale:.4g}"},
    "blk_softmax": {"en": "softmax over keys | (1, {heads}, {n}, {n}) | mean row entropy {ent:.2f} of max {ent_max:.2f} nats",
                    "zh": "对 key 做 softmax | (1, {heads}, {n}, {n}) | 平均行熵 {ent:.2f}，最大 {ent_max:.2f} nats"},
    "blk_av": {"en": "attention · v | (1, {heads}, {n}, {d}) | a token keeps {self_att:.1%} of its attention on itself (mean)",
               "zh": "attention · v | (1, {heads}, {n}, {d}) | token 分给自己的注意力平均为 {self_att:.1%}"},
    "blk_merge": {"en": "merge heads | ({n}, {c}) | {heads} × {d} = {c}", "zh": "合并多个头 | ({n}, {c}) | {heads} × {d} = {c}"},
    "blk_proj": {"en": "proj linear | ({n}, {c}) | mixes the heads' outputs", "zh": "proj 全连接 | ({n}, {c}) | 混合各个头的输出"},
    "blk_res1": {"en": "residual add x + attn(x) | ({n}, {c}) | the input is kept and the attention output added",
                 "zh": "残差相加 x + attn(x) | ({n}, {c}) | 保留输入，加上注意力的输出"},
    "blk_ln2": {"en": "LayerNorm (norm2) | ({n}, {c}) |", "zh": "LayerNorm (norm2) | ({n}, {c}) |"},
    "blk_fc1": {"en": "MLP fc1 | ({n}, {hidden}) | widen {c} → {hidden}", "zh": "MLP fc1 | ({n}, {hidden}) | 从 {c} 维扩展到 {hidden} 维"},
    "blk_gelu": {"en": "GELU | ({n}, {hidden}) | {gelu:.1%} of the outputs are ≈ 0 (unit off)",
                 "zh": "GELU | ({n}, {hidden}) | {gelu:.1%} 的输出 ≈ 0（神经元未激活）"},
    "blk_fc2": {"en": "MLP fc2 | ({n}, {c}) | back to {c}", "zh": "MLP fc2 | ({n}, {c}) | 回到 {c} 维"},
    "blk_res2": {"en": "residual add → block output | ({n}, {c}) | mean token norm {norm_out:.2f}",
                 "zh": "残差相加 → block 输出 | ({n}, {c}) | token 平均范数 {norm_out:.2f}"},
    "img_block": {"en": "Measurements through the depth (chosen block highlighted)", "zh": "随深度变化的测量值（所选 block 高亮）"},
    # ------------------------------------------------------------------ d. rollout
    "sec_d": {"en": "## 4 · Attention rollout and relevance", "zh": "## 4 · 注意力 Rollout 与相关性"},
    "expl_d": {
        "en": ("One layer's attention tells only part of the story: information also flows through the residual "
               "connections and through {depth} layers. **Attention rollout** (Abnar & Zuidema, 2020) fuses the "
               "heads of each layer (mean, max or min), adds the identity for the residual path, and multiplies "
               "the layers together; the result shows which patches flow into the {readout}. *Discard ratio* "
               "drops the weakest attention links first. The layer × head grid shows each head's own "
               "contribution on top of the layers before it."),
        "zh": ("单独一层的注意力只说明了一部分：信息还会沿残差连接、穿过 {depth} 层流动。**注意力 Rollout**"
               "（Abnar & Zuidema, 2020）先把每层的多个头融合（平均、最大或最小），加上单位矩阵表示残差路径，"
               "再把各层相乘；结果显示哪些图像块流向了 {readout}。*丢弃比例* 会先去掉最弱的注意力连接。"
               "层 × 头网格显示每个头在前面各层基础上的贡献。"),
    },
    "fusion": {"en": "Head fusion", "zh": "多头融合方式"},
    "discard": {"en": "Discard ratio (drop the weakest links)", "zh": "丢弃比例（去掉最弱的连接）"},
    "img_rollout": {"en": "Attention rollout over the image", "zh": "叠加在图片上的注意力 Rollout"},
    "img_head_rollout": {"en": "Per-head rollout: layers (rows) × heads (columns)", "zh": "逐头 Rollout：层（行）× 头（列）"},
    "relevance_expl": {
        "en": ("**Class-specific relevance** (Chefer et al., 2021) weights each attention map by its gradient for "
               "one class, so it answers *which patches speak for this class*. It needs a backward pass, so it "
               "runs the model once more."),
        "zh": "**类别相关性**（Chefer 等，2021）用某一类别的梯度给每张注意力图加权，回答“哪些图像块支持这个类别”。它需要一次反向传播，所以会再运行一次模型。",
    },
    "relevance_class": {"en": "Class to explain (top 5)", "zh": "要解释的类别（前 5）"},
    "relevance_button": {"en": "Compute relevance", "zh": "计算相关性"},
    "img_relevance": {"en": "Relevance for the chosen class", "zh": "所选类别的相关性"},
    "fig_rollout_weight": {"en": "rollout weight", "zh": "Rollout 权重"},
    "fig_relevance": {"en": "relevance", "zh": "相关性"},
    # ------------------------------------------------------------------ e. prediction
    "sec_e": {"en": "## 5 · Prediction", "zh": "## 5 · 预测"},
    "expl_e": {
        "en": ("After the last block a final LayerNorm is applied and the {readout_what}: a vector of shape "
               "**({c},)**. One linear layer, the head, turns it into **{k}** class scores ({c},) → ({k},), and "
               "softmax turns the scores into probabilities."),
        "zh": ("最后一个 block 之后做一次 LayerNorm，然后{readout_what}：得到形状为 **({c},)** 的向量。"
               "分类头是一个全连接层，把它变成 **{k}** 个类别分数 ({c},) → ({k},)，softmax 再把分数变成概率。"),
    },
    "expl_e_cls": {"en": "CLS token is taken out", "zh": "取出 CLS token"},
    "expl_e_avg": {"en": "patch tokens are averaged", "zh": "对图像块 token 取平均"},
    "dist_note": {
        "en": ("This distilled DeiT also has a **DIST** token with its own head; at inference the prediction is "
               "the average of the CLS head and the DIST head."),
        "zh": "这个蒸馏版 DeiT 还有一个带独立分类头的 **DIST** token；推理时的预测是 CLS 分类头与 DIST 分类头输出的平均。",
    },
    "label": {"en": "Top-5 predictions", "zh": "前 5 个预测"},
    "random_note": {
        "en": "⚠️ This model has random weights: its predictions and attention are not meaningful, only the shapes and the mechanics are.",
        "zh": "⚠️ 这个模型是随机权重：它的预测和注意力没有意义，只有形状和计算过程是真实的。",
    },
    # ------------------------------------------------------------------ f. export
    "sec_f": {"en": "## 8 · Export", "zh": "## 8 · 导出"},
    "expl_f": {
        "en": ("Download the figures shown above as PNG files and the whole analysis (attention of every layer "
               "and head, rollout, tokens, position embeddings, …) as a NumPy `.npz` file for your own notebook; "
               "the lesson for this image comes along as one HTML handout (one printed page per step, "
               "opens without a network)."),
        "zh": ("把上面的图下载为 PNG，并把整个分析结果（每层每个头的注意力、Rollout、token、位置编码等）下载为 NumPy "
               "`.npz` 文件，在自己的 notebook 里继续研究；这张图片的课程也一并导出为一个 HTML 讲义（每步打印一页，"
               "无需网络即可打开）。"),
    },
    "export_button": {"en": "Prepare downloads", "zh": "准备下载文件"},
    "export_files": {"en": "Files", "zh": "文件"},
    # ------------------------------------------------------------------ g. can we trust it?
    "sec_g": {"en": "## 9 · Can we trust it?", "zh": "## 9 · 解释可信吗？"},
    "expl_g": {
        "en": ("Many methods claim to show *where the model looked*. Here they all explain the **same class** of "
               "the same image, side by side, on the same colour scale (every map normalised to [0, 1]). "
               "When they disagree, at most some of them can be right, so the second part measures them: "
               "a map is faithful if removing the patches it ranks highest really changes the prediction."),
        "zh": ("很多方法都声称能显示“模型看了哪里”。这里它们对同一张图片的**同一个类别**给出解释，并排显示，"
               "使用相同的颜色刻度（每张图都归一化到 [0, 1]）。它们互相矛盾时，最多只有一部分是对的，"
               "所以第二部分给它们打分：如果去掉某张图排得最高的图像块确实会改变预测，这张解释图才是“忠实”的。"),
    },
    "explain_class": {"en": "Class to explain", "zh": "要解释的类别"},
    "explain_button": {"en": "Compare explanations (runs the model)", "zh": "比较各种解释（会运行模型）"},
    "img_explanations": {"en": "Explanation maps, one per method (time in seconds)",
                         "zh": "各方法的解释图（括号内为耗时，秒）"},
    "explaining": {"en": "Computing the explanation maps…", "zh": "正在计算解释图…"},
    "explain_done": {
        "en": "Explained class **{name}** with {n} methods in {seconds:.1f} s.",
        "zh": "已用 {n} 种方法解释类别 **{name}**，共耗时 {seconds:.1f} 秒。",
    },
    "sub_faith": {"en": "### Faithfulness: deletion and insertion", "zh": "### 忠实度：删除曲线与插入曲线"},
    "expl_faith": {
        "en": ("**Deletion** removes the patches a map ranks highest first, in 10 steps, and follows the "
               "probability of the class: a faithful map makes it fall fast, so a **lower** area under the "
               "curve (AUC) is better. **Insertion** starts from nothing and reveals the top patches first: a "
               "**higher** AUC is better. *random* orders the patches at random, the baseline every method "
               "should beat."),
        "zh": ("**删除（Deletion）**：按解释图的排序先去掉最重要的图像块，分 10 步，跟踪该类别的概率；"
               "忠实的解释会让概率迅速下降，所以曲线下面积（AUC）**越低越好**。**插入（Insertion）**：从空白开始，"
               "先放回最重要的图像块；AUC **越高越好**。*random* 按随机顺序处理图像块，是每种方法都应该超过的基线。"),
    },
    "faith_mode": {"en": "How a patch is removed", "zh": "如何去掉一个图像块"},
    "faith_pixels": {"en": "pixels: grey the patch out", "zh": "像素：把图像块涂成灰色"},
    "faith_tokens": {"en": "tokens: drop the patch token", "zh": "token：从序列中删去该 token"},
    "expl_faith_mode": {
        "en": ("*pixels* replaces a patch's pixels with the data mean (grey), so the model still reads every "
               "token, including some grey ones it never saw in training. *tokens* drops the patch tokens from "
               "the sequence: a ViT accepts a shorter sequence, and the remaining tokens keep their own position "
               "embeddings, so nothing unnatural is added."),
        "zh": ("*像素*：把图像块的像素换成数据均值（灰色），模型仍然读入所有 token，其中包括训练时从未见过的灰色块。"
               "*token*：直接从序列中删去这些图像块的 token；ViT 可以接受更短的序列，剩下的 token 保留各自的位置编码，"
               "所以不会引入不自然的内容。"),
    },
    "faith_button": {"en": "Compute deletion and insertion curves", "zh": "计算删除曲线和插入曲线"},
    "img_faith": {"en": "Probability of the class while patches are removed / revealed",
                  "zh": "去掉 / 放回图像块时该类别的概率"},
    "faith_running": {"en": "Running the perturbed inputs…", "zh": "正在运行被扰动的输入…"},
    "auc_title": {
        "en": "**Area under the curve** for class **{name}** ({mode}; deletion: lower is better, insertion: higher is better)",
        "zh": "类别 **{name}** 的**曲线下面积**（{mode}；删除：越低越好，插入：越高越好）",
    },
    "auc_head": {"en": "| method | deletion AUC ↓ | insertion AUC ↑ |\n|---|---:|---:|",
                 "zh": "| 方法 | 删除 AUC ↓ | 插入 AUC ↑ |\n|---|---:|---:|"},
    "sub_whatif": {"en": "### What if?", "zh": "### 如果……会怎样？"},
    "expl_whatif": {
        "en": ("Click patches on the picture to select them (click again to unselect), then drop the selected "
               "patches or keep only them. Every change runs **one** forward pass of the shorter sequence and "
               "shows the new top-5 and the rollout of that reduced sequence; removed patches are hatched grey. "
               "With nothing selected, the full image is used."),
        "zh": ("点击图片上的图像块来选中它（再点一次取消），然后选择删去这些图像块，或者只保留它们。"
               "每次改动都会对更短的序列运行**一次**前向传播，显示新的前 5 个预测和这个缩短序列的 Rollout；"
               "被去掉的图像块显示为灰色斜线。没有选中任何图像块时使用完整图片。"),
    },
    "whatif_mode": {"en": "Selected patches", "zh": "选中的图像块"},
    "whatif_drop": {"en": "drop the selected", "zh": "删去选中的"},
    "whatif_keep": {"en": "keep only the selected", "zh": "只保留选中的"},
    "whatif_reset": {"en": "Reset selection", "zh": "清空选择"},
    "img_whatif": {"en": "Rollout of the reduced sequence (click patches; hatched = removed)",
                   "zh": "缩短后序列的 Rollout（点击图像块；斜线 = 已去掉）"},
    "whatif_label": {"en": "Top-5 with the reduced sequence", "zh": "缩短序列的前 5 个预测"},
    "whatif_status": {
        "en": "{kept} of {p} patches kept ({tokens} tokens); one forward pass took {ms:.0f} ms.",
        "zh": "保留了 {p} 个图像块中的 {kept} 个（{tokens} 个 token）；一次前向传播耗时 {ms:.0f} 毫秒。",
    },
    "whatif_full": {"en": "Nothing selected: the full image ({p} patches).",
                    "zh": "未选中图像块：使用完整图片（{p} 个图像块）。"},
    "fig_importance": {"en": "importance (normalised per map)", "zh": "重要性（每张图各自归一化）"},
    "fig_deletion": {"en": "deletion (lower AUC is better)", "zh": "删除（AUC 越低越好）"},
    "fig_insertion": {"en": "insertion (higher AUC is better)", "zh": "插入（AUC 越高越好）"},
    "fig_removed": {"en": "share of patches removed", "zh": "已去掉的图像块比例"},
    "fig_revealed": {"en": "share of patches revealed", "zh": "已放回的图像块比例"},
    "fig_class_probability": {"en": "class probability", "zh": "该类别的概率"},
    # ------------------------------------------------------------------ figure labels (ASCII-safe)
    "fig_depth": {"en": "Network depth (layer)", "zh": "Network depth (layer)"},
    # ------------------------------------------------------------------ the in-browser explorer
    "x_layer": {"en": "Layer", "zh": "层"},
    "x_head": {"en": "Head", "zh": "注意力头"},
    "x_query": {"en": "Query", "zh": "查询（Query）"},
    "x_query_patch": {"en": "patch under the pointer / pinned", "zh": "指针下 / 已固定的图像块"},
    "x_all_mean": {"en": "all heads (mean)", "zh": "所有头（平均）"},
    "x_all_max": {"en": "all heads (max)", "zh": "所有头（最大）"},
    "x_head_n": {"en": "head {head}", "zh": "第 {head} 个头"},
    "x_opacity": {"en": "Overlay", "zh": "叠加强度"},
    "x_fusion": {"en": "Head fusion", "zh": "多头融合方式"},
    "x_discard": {"en": "Discard ratio", "zh": "丢弃比例"},
    "x_mean": {"en": "mean", "zh": "平均"},
    "x_max": {"en": "max", "zh": "最大"},
    "x_min": {"en": "min", "zh": "最小"},
    "x_full_rollout": {"en": "Back to the full rollout", "zh": "回到完整的 Rollout"},
    "x_patch_label": {"en": "patch ({row}, {col}) = token {token}", "zh": "图像块 ({row}, {col}) = 第 {token} 个 token"},
    "x_attention_of": {"en": "What {query} attends to in layer {layer}, {head}.",
                       "zh": "{query} 在第 {layer} 层、{head}关注的位置。"},
    "x_rollout_of": {"en": "Rollout ({fusion} over heads, discard {discard}).",
                     "zh": "Rollout（多头{fusion}，丢弃 {discard}）。"},
    "x_head_rollout_of": {"en": "Rollout through layer {layer}, head {head}.",
                          "zh": "到第 {layer} 层第 {head} 个头为止的 Rollout。"},
    "x_strongest": {"en": "Strongest: {patch}, {value}.", "zh": "最强：{patch}，{value}。"},
    "x_under_pointer": {"en": "Under the pointer: {patch}, {value}.", "zh": "指针下：{patch}，{value}。"},
    "x_mosaic": {"en": "Layer × head overview of the readout token (click a tile to choose layer and head)",
                 "zh": "读出 token 的层 × 头总览（点击小图选择层和头）"},
    "x_mosaic_rollout": {"en": "Rollout per head (click a tile to show it)", "zh": "每个头的 Rollout（点击小图查看）"},
    "x_help": {"en": ("Hover (or drag on a touch screen) over a patch to see what it attends to; click to pin it "
                      "(the views below follow); arrow keys move the pinned patch. Everything here is drawn "
                      "in your browser from one download."),
               "zh": ("把指针移到（触屏上拖动到）某个图像块上，查看它关注哪里；点击即可固定它（下面的图会跟着更新）；"
                      "方向键移动已固定的图像块。这里的一切都在浏览器里绘制，只需下载一次数据。")},
    "x_help_rollout": {"en": ("Change the fusion and the discard ratio: all 60 settings were computed once, so "
                              "the map changes at once. Hover to read a value."),
                       "zh": "改变融合方式和丢弃比例：60 种设置都已预先算好，所以图会立刻变化。把指针移到图上可读数值。"},
    "x_loading": {"en": "Loading the attention data…", "zh": "正在载入注意力数据……"},
    "x_empty": {"en": "Analyse an image to explore its attention here.", "zh": "分析一张图片后，可在这里探索它的注意力。"},
    "x_failed": {"en": "The attention data could not be loaded; analyse the image again.",
                 "zh": "无法载入注意力数据，请重新分析这张图片。"},

    # ------------------------------------------------------------------ the residual stream (logit lens, norms)
    "sec_lens": {
        "en": ("## 6 · The prediction forming: logit lens and token norms\n\n"
               "After every block the residual stream already holds a guess. The **logit lens** passes the "
               "readout token after block *l* through the model's own final LayerNorm and head, as if the "
               "network stopped there."),
        "zh": ("## 6 · 预测是如何形成的：Logit Lens 与 token 范数\n\n"
               "每个 block 之后，残差流里已经有一个“猜测”。**Logit Lens** 把第 *l* 个 block 之后的读出 token "
               "直接送进模型自己的最终 LayerNorm 和分类头，就好像网络在那里停下。"),
    },
    "lens_no_head": {"en": "This model has no classifier head (it outputs a {c}-dimensional feature), so there is no "
                           "prediction to follow through the depth.",
                     "zh": "这个模型没有分类头（输出的是 {c} 维特征），因此没有可以逐层追踪的预测。"},
    "lens_lead": {"en": ("The final answer, **{name}**, first leads after block {block} of {depth} and keeps the lead "
                         "(p = {p_then:.1%} there, {p_end:.1%} at the end)."),
                  "zh": "最终答案 **{name}** 在第 {block} 个 block（共 {depth} 个）之后首次领先并一直保持（当时 p = {p_then:.1%}，最后 {p_end:.1%}）。"},
    "lens_lead_first": {"en": ("The final answer, **{name}**, leads from block 1 of {depth} on "
                               "(p = {p_then:.1%} after block 1, {p_end:.1%} at the end)."),
                        "zh": "最终答案 **{name}** 从第 1 个 block（共 {depth} 个）起就一直领先（第 1 个 block 之后 p = {p_then:.1%}，最后 {p_end:.1%}）。"},
    "lens_table_head": {"en": "| block | its top 5 (the final answer in bold) |",
                        "zh": "| block | 该层的前 5 名（最终答案加粗） |"},
    "lens_patches": {"en": ("After block {block}, {share:.0%} of the patch tokens, read through the head on their own, "
                            "already say **{name}**."),
                     "zh": "第 {block} 个 block 之后，单独经过分类头读出时，{share:.0%} 的图像块 token 已经给出 **{name}**。"},
    "lens_layer": {"en": "After block", "zh": "第几个 block 之后"},
    "img_lens": {"en": "Logit lens: each block's probability of the final top 5", "zh": "Logit Lens：每个 block 对最终前 5 名的概率"},
    "img_lens_patch": {"en": "Each patch token's own reading: probability of the final answer",
                       "zh": "每个图像块 token 单独读出的结果：最终答案的概率"},
    "img_norms": {"en": "Patch-token norms after this block (high-norm tokens framed)",
                  "zh": "这个 block 之后图像块 token 的范数（高范数 token 已框出）"},
    "img_norms_depth": {"en": "Token norms through the depth", "zh": "各层的 token 范数"},
    "norms_summary": {"en": ("After block {block}: median patch-token norm {median:.1f}; {n} token(s) above 4× that "
                             "median: {where}."),
                      "zh": "第 {block} 个 block 之后：图像块 token 范数的中位数为 {median:.1f}；有 {n} 个 token 超过中位数的 4 倍：{where}。"},
    "norms_registers": {"en": ("This model has {r} register tokens: extra learned tokens with no image content. Large "
                               "ViTs otherwise recycle low-information patches as scratch space, which shows as a few "
                               "very high-norm patch tokens and spiky attention maps (Darcet et al., 2024, *Vision "
                               "Transformers Need Registers*); registers take that job, so the patch tokens stay clean."),
                        "zh": ("这个模型有 {r} 个 register token：额外学习的、不含图像内容的 token。没有它们时，大型 ViT "
                               "会把信息量少的图像块当作“草稿纸”，表现为少数范数极高的图像块 token 和带尖刺的注意力图"
                               "（Darcet 等，2024，*Vision Transformers Need Registers*）；register 接过了这份工作，图像块 token 就干净了。")},
    "norms_no_registers": {"en": ("This model has no register tokens. In large trained ViTs a few background patches "
                                  "often grow norms far above the rest (Darcet et al., 2024): the model uses them as "
                                  "scratch space; models with registers (e.g. timm's `vit_*_reg4_*` ViTs) move that job to "
                                  "extra tokens."),
                           "zh": ("这个模型没有 register token。在训练好的大型 ViT 中，少数背景图像块的范数常常远高于其他 token"
                                  "（Darcet 等，2024）：模型把它们当作草稿纸；带 register 的模型（如 timm 的 `vit_*_reg4_*` ViT）把这份工作交给额外的 token。")},
    "fig_block": {"en": "block", "zh": "block"},
    "fig_lens_title": {"en": "probability after each block (logit lens)", "zh": "每个 block 之后的概率（Logit Lens）"},
    "fig_median_patch": {"en": "median patch token", "zh": "图像块 token 中位数"},
    "fig_max_patch": {"en": "largest patch token", "zh": "最大的图像块 token"},
    "fig_norms_title": {"en": "residual-stream norm ‖x‖", "zh": "残差流范数 ‖x‖"},
    "fig_after_block": {"en": "after block (0 = input of block 1)", "zh": "第几个 block 之后（0 = 第 1 个 block 的输入）"},
    "fig_lens_patch": {"en": "p({name}) per patch token", "zh": "每个图像块 token 的 p({name})"},
    "fig_token_norm": {"en": "token norm ‖x‖", "zh": "token 范数 ‖x‖"},
    # ------------------------------------------------------------------ ablation
    "sec_ablation": {
        "en": ("## 7 · Switch heads and patches off (ablation)\n\n"
               "Click heads in the layer × head grid, or patches on the picture, to switch them off, then run the "
               "model again. A head's output is replaced before the block's output projection (by zeros, or by its "
               "mean over the patch tokens). A patch is switched off by dropping its token from the sequence right "
               "after the position embedding, as in the what-if of section 9: no token can attend to it any more, "
               "the others keep their own positions. The rollout shown is computed from the attention of that "
               "ablated run; a removed patch gets none. **Head importance** switches off each head alone and "
               "measures how much the top class's log-probability drops."),
        "zh": ("## 7 · 关掉注意力头和图像块（消融）\n\n"
               "在层 × 头网格中点击要关掉的头，或在图片上点击要关掉的图像块，然后重新运行模型。头的输出在 block "
               "的输出投影之前被替换（替换为 0，或替换为它在图像块 token 上的平均值）。关掉一个图像块的意思是："
               "在加上位置编码之后立即把它的 token 从序列中删去（与第 9 节的“如果……会怎样？”相同）：任何 token "
               "都无法再关注它，其余 token 保留各自的位置。显示的 Rollout 来自这次消融后运行的注意力；被去掉的"
               "图像块权重为 0。**头的重要性**：每次只关掉一个头，测量最高类别的对数概率下降多少。"),
    },
    "img_picker": {"en": "Click heads to switch them off (red = off)", "zh": "点击头即可关掉（红色 = 已关）"},
    "ablation_mode": {"en": "Replace the head's output by", "zh": "把头的输出替换为"},
    "ablation_mode_zero": {"en": "zeros", "zh": "0"},
    "ablation_mode_mean": {"en": "its mean over the patches", "zh": "它在图像块上的平均值"},
    "img_patch_picker": {"en": "Click patches to switch them off (hatched = off)",
                         "zh": "点击图像块即可关掉（斜线 = 已关）"},
    "ablation_run": {"en": "Run with these heads and patches off", "zh": "关掉这些头和图像块后运行"},
    "ablation_clear": {"en": "Switch every head and patch back on", "zh": "重新打开所有头和图像块"},
    "importance_run": {"en": "Head importance (every head alone off)", "zh": "头的重要性（每次只关一个头）"},
    "img_ablated_rollout": {"en": "Rollout of the model with these heads and patches off (hatched = removed patch)",
                            "zh": "关掉这些头和图像块后模型的 Rollout（斜线 = 已去掉的图像块）"},
    "fig_ablated_rollout_bar": {"en": "rollout weight (ablated model)", "zh": "Rollout 权重（消融后的模型）"},
    "img_importance": {"en": "Head importance: drop of the top class's log-probability", "zh": "头的重要性：最高类别对数概率的下降"},
    "ablation_none": {"en": "Nothing is switched off yet: click tiles in the grid or patches on the picture first.",
                      "zh": "还没有关掉任何东西：请先在网格中点击小图，或在图片上点击图像块。"},
    "ablation_heads_none": {"en": "Every head is on.", "zh": "所有头都打开着。"},
    "ablation_patches_none": {"en": "Every patch is on.", "zh": "所有图像块都打开着。"},
    "ablation_patches_picked": {"en": "Patches off ({n} of {p}): {patches}.",
                                "zh": "已关掉的图像块（{p} 个中的 {n} 个）：{patches}。"},
    "ablation_picked": {"en": "Switched off: {heads}.", "zh": "已关掉：{heads}。"},
    "ablation_head": {"en": "| all heads on | these heads off |", "zh": "| 所有头都打开 | 关掉这些头 |"},
    "ablation_head_patches": {"en": "| everything on | these switched off |", "zh": "| 全部打开 | 关掉这些之后 |"},
    "ablation_summary": {"en": ("With {heads} replaced by {mode}, **{name}** goes from {before:.1%} to {after:.1%} "
                                "({delta:+.1%})."),
                         "zh": "把 {heads} 替换为{mode}后，**{name}** 从 {before:.1%} 变为 {after:.1%}（{delta:+.1%}）。"},
    "ablation_summary_patches": {
        "en": ("With {n} of {p} patches removed from the sequence, **{name}** goes from {before:.1%} to {after:.1%} "
               "({delta:+.1%})."),
        "zh": "从序列中去掉 {p} 个图像块中的 {n} 个后，**{name}** 从 {before:.1%} 变为 {after:.1%}（{delta:+.1%}）。",
    },
    "ablation_summary_both": {
        "en": ("With {heads} replaced by {mode} and {n} of {p} patches removed from the sequence, **{name}** goes "
               "from {before:.1%} to {after:.1%} ({delta:+.1%})."),
        "zh": ("把 {heads} 替换为{mode}、并从序列中去掉 {p} 个图像块中的 {n} 个后，**{name}** 从 {before:.1%} "
               "变为 {after:.1%}（{delta:+.1%}）。"),
    },
    "fig_importance_title": {"en": "Δ log p({name}) when one head is off", "zh": "关掉一个头时 log p({name}) 的下降"},
    "fig_importance_bar": {"en": "drop of log-probability", "zh": "对数概率的下降"},
    "importance_summary": {"en": ("The heads the answer needs most: {top}. Of {n} heads, {helpful} lower the top "
                                  "class's log-probability by more than 0.05 when switched off, {harmful} raise it."),
                           "zh": "答案最依赖的头：{top}。在 {n} 个头中，关掉后有 {helpful} 个使最高类别的对数概率下降超过 0.05，{harmful} 个使其上升。"},
    "importance_patches_off": {"en": "Measured with the {n} of {p} patches switched off removed from the sequence.",
                               "zh": "测量时已从序列中去掉 {p} 个图像块中被关掉的 {n} 个。"},
    "running_importance": {"en": "Switching off each head in turn…", "zh": "正在依次关掉每个头……"},
    "status_no_cjk_font": {"en": "No font with Chinese glyphs is installed: the figures' labels stay in English.",
                           "zh": "未安装中文字体（Debian：fonts-noto-cjk），所以图中的文字仍为英文。"},
    "alt_picture": {"en": "{label}: {model} on the image {image} ({gh}×{gw} patches)",
                    "zh": "{label}：{model} 对图片 {image} 的结果（{gh}×{gw} 个图像块）"},

}


def tr(key: str, lang: str = "en", **values) -> str:
    """The text for `key` in `lang` (falling back to English), formatted with `values`."""
    entry = TEXT[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text
