"""Every string of the lesson (one step per screen) and its handout, in English and 简体中文.

Same shape as `vitviz.views.text.TEXT`: {key: {"en": …, "zh": …}}; `lt(key, lang, **values)`
looks a string up and fills `{placeholders}` with str.format. Kept apart from text.py so the
lesson can grow without touching the app's table. Bodies use a small Markdown subset
(**bold**, `code`), which `vitviz.views.lesson.body_html` turns into HTML.
"""
from __future__ import annotations

LESSON_TEXT: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ 1 · patch convolution
    "t_patch_conv": {"en": "The image becomes patches", "zh": "图片变成图像块"},
    "b_patch_conv": {
        "en": ("The image, resized to **{h}×{w}** pixels with 3 colour channels, goes through one convolution "
               "with a **{kh}×{kw}** kernel and stride **{sh}**. {overlap} Each {ph}×{pw}-pixel patch becomes one "
               "vector of **{c}** numbers: **({h}, {w}, 3) → ({gh}, {gw}, {c})**, a {gh}×{gw} grid of "
               "patch embeddings."),
        "zh": ("图片缩放为 **{h}×{w}** 像素（3 个颜色通道）后，经过一个卷积核为 **{kh}×{kw}**、步长为 **{sh}** 的卷积。"
               "{overlap}每个 {ph}×{pw} 像素的图像块变成一个长度为 **{c}** 的向量："
               "**({h}, {w}, 3) → ({gh}, {gw}, {c})**，即 {gh}×{gw} 的 patch embedding 网格。"),
    },
    "conv_equal": {"en": "Kernel and stride are equal, so the windows never overlap.",
                   "zh": "卷积核和步长相等，所以窗口互不重叠。"},
    "conv_overlap": {"en": "The stride is smaller than the kernel, so neighbouring windows overlap.",
                     "zh": "步长小于卷积核，所以相邻窗口有重叠。"},
    "a_patch_conv": {
        "en": ("Left: this image as the model sees it, {h}×{w} pixels, with its {gh}×{gw} grid of {ph}×{pw}-pixel "
               "patches. Right: the ({gh}, {gw}, {c}) output of this model's patch convolution, one cell per "
               "patch, coloured by the first three principal components of its {c} numbers."),
        "zh": ("左：模型看到的这张图片（{h}×{w} 像素）和它的 {gh}×{gw} 网格，每格 {ph}×{pw} 像素。"
               "右：本模型 patch 卷积的输出 ({gh}, {gw}, {c})，每个图像块一格，颜色是该格 {c} 个数的前三个主成分。"),
    },
    # ------------------------------------------------------------------ 2 · flatten
    "t_flatten": {"en": "The grid becomes a sequence", "zh": "网格展平为序列"},
    "b_flatten": {
        "en": ("A Transformer reads a sequence, not a grid. The {gh}×{gw} grid is read row by row, left to right, "
               "into **{p} tokens** of {c} numbers each: **({gh}, {gw}, {c}) → ({p}, {c})**. Nothing is computed, "
               "only the order changes, so from here on a token no longer knows where its patch was. "
               "Step 4 gives that back."),
        "zh": ("Transformer 读入的是序列，而不是网格。{gh}×{gw} 的网格按行、从左到右展平成 **{p} 个 token**，"
               "每个 token 有 {c} 个数：**({gh}, {gw}, {c}) → ({p}, {c})**。这里没有任何计算，只是换了顺序，"
               "所以从这里开始，token 不再知道自己的图像块原来在哪里。第 4 步会把位置信息加回来。"),
    },
    "a_flatten": {
        "en": ("The {p} patches of this image in token order, {per} per line, with the index of each line's first "
               "token at its left: the {gh}×{gw} grid read row by row."),
        "zh": "这张图片的 {p} 个图像块按 token 顺序排列，每行 {per} 个，左边是每行第一个 token 的序号：{gh}×{gw} 网格按行读出。",
    },
    # ------------------------------------------------------------------ 3 · prefix tokens
    "t_prefix": {"en": "Tokens in front of the patches", "zh": "图像块前面的 token"},
    "b_prefix_cls": {"en": "A learned **CLS** token is put in front of the patches.",
                     "zh": "在图像块前面拼接一个可学习的 **CLS** token。"},
    "b_prefix_dist": {"en": "A **DIST** token follows, trained to match a CNN teacher's answer (DeiT distillation).",
                      "zh": "接着是一个 **DIST** token，训练时让它模仿 CNN 教师模型的答案（DeiT 蒸馏）。"},
    "b_prefix_reg": {
        "en": ("Then **{r} register tokens** ({regs}): learned, no image content, never read by the head; "
               "they give the model scratch space (Darcet et al., 2024)."),
        "zh": "然后是 **{r} 个 register token**（{regs}）：可学习、不含图像内容、分类头也不读它们；它们给模型当“草稿纸”（Darcet 等，2024）。",
    },
    "b_prefix_shape": {
        "en": "**({p}, {c}) → ({n}, {c})**. They start the same for every image and gather information from the patches in every block.",
        "zh": "**({p}, {c}) → ({n}, {c})**。它们对每张图片的初始值都一样，在每个 block 中从图像块收集信息。",
    },
    "b_prefix_read_cls": {"en": "At the end the classifier reads only the CLS token.",
                          "zh": "最后分类器只读取 CLS token。"},
    "b_prefix_read_avg": {"en": "This model's classifier, though, reads the average of the patch tokens.",
                          "zh": "不过这个模型的分类器读取的是所有图像块 token 的平均值。"},
    "b_prefix_none": {
        "en": ("This model puts **no token** in front of the patches: the sequence stays **({p}, {c})**, and at "
               "the end the classifier reads the **average of the patch tokens**."),
        "zh": "这个模型**没有**在图像块前面拼接任何 token：序列仍是 **({p}, {c})**，最后分类器读取**所有图像块 token 的平均值**。",
    },
    "a_prefix": {
        "en": "The token sequence of this image: {names} first, as coloured squares, then the {p} patches; {n} tokens in all.",
        "zh": "这张图片的 token 序列：最前面是彩色方块表示的 {names}，然后是 {p} 个图像块，共 {n} 个 token。",
    },
    "a_prefix_none": {"en": "The token sequence of this image: its {p} patches, with no token in front.",
                      "zh": "这张图片的 token 序列：{p} 个图像块，前面没有其他 token。"},
    # ------------------------------------------------------------------ 4 · position embeddings
    "t_position": {"en": "Where is each patch? Position embeddings", "zh": "每个图像块在哪里？位置编码"},
    "b_position": {
        "en": ("Attention by itself does not know where a token came from, so a learned **position embedding** "
               "is added: **({n}, {c}) + ({npos}, {c}) → ({n}, {c})**{only}. Each small map compares one patch's "
               "position embedding with every other patch's (cosine similarity). {measured}"),
        "zh": ("注意力本身不知道 token 来自哪里，所以要加上可学习的**位置编码**："
               "**({n}, {c}) + ({npos}, {c}) → ({n}, {c})**{only}。每个小图把一个图像块的位置编码和所有其他图像块的"
               "位置编码作比较（余弦相似度）。{measured}"),
    },
    "pos_patches_only": {"en": " (patch tokens only; the tokens in front get none)",
                         "zh": "（只加在图像块 token 上，前面的 token 没有位置编码）"},
    "pos_grid": {
        "en": ("**This model** has learned the 2D grid: neighbouring patches are similar ({near:.2f}), patches "
               "{far} or more cells apart are not ({farv:.2f})."),
        "zh": "**本模型**学会了二维网格：相邻图像块很相似（{near:.2f}），相距 {far} 格及以上的则不相似（{farv:.2f}）。",
    },
    "pos_radial": {
        "en": ("**This model** encodes how far a patch is from the centre (rings in the maps), not exactly where "
               "it is: neighbours {near:.2f}, far patches {farv:.2f}, far ones on the same ring {ring:.2f}."),
        "zh": ("**本模型**编码的是图像块离中心有多远（图中的圆环），而不是确切位置：相邻 {near:.2f}，"
               "远处 {farv:.2f}，同一圆环上的远处图像块 {ring:.2f}。"),
    },
    "pos_none": {
        "en": "**This model** shows no spatial structure (neighbours {near:.2f}, far patches {farv:.2f}), like untrained embeddings.",
        "zh": "**本模型**没有空间结构（相邻 {near:.2f}，远处 {farv:.2f}），和未训练的位置编码一样。",
    },
    "a_position": {
        "en": ("A {gh}×{gw} mosaic of maps, one per patch of this model: the cosine similarity of that patch's "
               "position embedding with every other patch's, on a scale from −1 to 1."),
        "zh": "由 {gh}×{gw} 个小图组成的拼图，本模型每个图像块一张：该图像块的位置编码与所有其他图像块位置编码的余弦相似度，刻度从 −1 到 1。",
    },
    # ------------------------------------------------------------------ 5 · LayerNorm
    "t_layernorm": {"en": "First, LayerNorm", "zh": "先做 LayerNorm"},
    "b_layernorm": {
        "en": ("Each block starts with a **LayerNorm** (norm1): every token's {c} numbers are shifted to mean 0 "
               "and scaled to standard deviation 1, then multiplied by a learned γ and shifted by a learned β "
               "(ε = {eps:g}). The shape stays **({n}, {c})**. For {patch} entering block 1: mean {m0:.2f} → "
               "{m1:.2f}, standard deviation {s0:.2f} → {s1:.2f}."),
        "zh": ("每个 block 都从 **LayerNorm**（norm1）开始：每个 token 的 {c} 个数先平移到均值 0、缩放到标准差 1，"
               "再乘以可学习的 γ、加上可学习的 β（ε = {eps:g}）。形状不变：**({n}, {c})**。"
               "以进入第 1 个 block 的 {patch} 为例：均值 {m0:.2f} → {m1:.2f}，标准差 {s0:.2f} → {s1:.2f}。"),
    },
    "a_layernorm": {
        "en": ("Histograms of the {c} numbers of {patch} entering block 1 of this model: before LayerNorm (mean "
               "{m0:.2f}, standard deviation {s0:.2f}) and after it (mean {m1:.2f}, standard deviation {s1:.2f})."),
        "zh": ("本模型中进入第 1 个 block 的 {patch} 的 {c} 个数的直方图：LayerNorm 之前（均值 {m0:.2f}，标准差 {s0:.2f}）"
               "和之后（均值 {m1:.2f}，标准差 {s1:.2f}）。"),
    },
    "fig_before": {"en": "before: x", "zh": "之前：x"},
    "fig_after": {"en": "after: LayerNorm(x)", "zh": "之后：LayerNorm(x)"},
    "fig_count": {"en": "how many of the {c} numbers", "zh": "{c} 个数中的个数"},
    "fig_mean_std": {"en": "mean {mean:.2f}\nstd {std:.2f}", "zh": "均值 {mean:.2f}\n标准差 {std:.2f}"},
    # ------------------------------------------------------------------ 6 · qkv
    "t_qkv": {"en": "Queries, keys and values", "zh": "Query、Key 和 Value"},
    "b_qkv": {
        "en": ("One linear layer, **qkv** ({c} → {c3}), gives every token a query, a key and a value for each of "
               "the **{heads} heads**. The ({n}, {c3}) result is reshaped and permuted to **(3, B, heads, N, "
               "head_dim) = {split}**: q, k and v with {d} numbers per head and token (B = 1 image). A query "
               "asks, a key answers, a value is what gets passed on."),
        "zh": ("一个全连接层 **qkv**（{c} → {c3}）为每个 token 给 **{heads} 个注意力头**各算出一个 query、一个 key 和一个 value。"
               "({n}, {c3}) 的结果经过 reshape 和 permute 变成 **(3, B, heads, N, head_dim) = {split}**："
               "q、k、v 每个头每个 token 各 {d} 个数（B = 1 张图片）。query 负责提问，key 负责应答，value 是被传递的内容。"),
    },
    "a_qkv": {
        "en": ("Shape diagram for this model: the normalised tokens ({n}, {c}) go through qkv to ({n}, {c3}), which "
               "splits into q, k and v, each {heads} heads of {d} numbers: {split}."),
        "zh": "本模型的形状示意图：归一化后的 token ({n}, {c}) 经过 qkv 变为 ({n}, {c3})，再拆成 q、k、v，每个都是 {heads} 个头、每头 {d} 个数：{split}。",
    },
    # ------------------------------------------------------------------ 7 · one attention row
    "t_attention_row": {"en": "One row of attention", "zh": "算出一行注意力"},
    "b_attention_row": {
        "en": ("How much does **{query}** look at each token (block {layer}, head {head})? Its query is compared "
               "with all {n} keys: score = q·k × **{scale:.4g}** (= 1/√{d}). **Softmax** turns the {n} scores into "
               "weights between 0 and 1 that sum to 1. The strongest key here is **{top}**, with {top_p:.1%} of "
               "the attention."),
        "zh": ("**{query}** 对每个 token 看多少（第 {layer} 个 block，第 {head} 个头）？把它的 query 和全部 {n} 个 key 比较："
               "分数 = q·k × **{scale:.4g}**（= 1/√{d}）。**Softmax** 把这 {n} 个分数变成 0 到 1 之间、总和为 1 的权重。"
               "这里权重最大的 key 是 **{top}**，占 {top_p:.1%}。"),
    },
    "a_attention_row": {
        "en": ("For {query} in block {layer}, head {head} of this model: the {k} keys with the largest weights, "
               "their scores q·k × {scale:.4g} (left) and their softmax weights (right); the other {rest} keys "
               "share {rest_p:.1%}."),
        "zh": ("本模型第 {layer} 个 block、第 {head} 个头中的 {query}：权重最大的 {k} 个 key，"
               "左边是它们的分数 q·k × {scale:.4g}，右边是 softmax 权重；其余 {rest} 个 key 共占 {rest_p:.1%}。"),
    },
    "fig_others": {"en": "{rest} other keys", "zh": "其余 {rest} 个 key"},
    "fig_weight": {"en": "softmax weight", "zh": "softmax 权重"},
    # ------------------------------------------------------------------ 8 · attention · v, merge, proj
    "t_attention_out": {"en": "Mixing the values", "zh": "按权重混合 value"},
    "b_attention_out": {
        "en": ("Each token's output is the weighted sum of the values, its attention row giving the weights: per "
               "head **({n}, {n}) · ({n}, {d}) → ({n}, {d})**, so (1, {heads}, {n}, {d}) for all heads. The heads "
               "are put side by side again, {heads} × {d} = {c} → **({n}, {c})**, and one more linear layer, "
               "**proj** ({c} → {c}), mixes them. Now every token carries information from the tokens it attended to."),
        "zh": ("每个 token 的输出是所有 value 的加权和，权重就是它的注意力行：每个头 **({n}, {n}) · ({n}, {d}) → ({n}, {d})**，"
               "所有头合起来是 (1, {heads}, {n}, {d})。然后把各个头重新并排拼接，{heads} × {d} = {c} → **({n}, {c})**，"
               "再用一个全连接层 **proj**（{c} → {c}）把它们混合。现在每个 token 都带上了它所关注的 token 的信息。"),
    },
    "a_attention_out": {
        "en": ("Shape diagram for this model: values (1, {heads}, {n}, {d}) weighted by the attention (1, {heads}, "
               "{n}, {n}) give (1, {heads}, {n}, {d}); the heads merge to ({n}, {c}); proj keeps ({n}, {c})."),
        "zh": "本模型的形状示意图：value (1, {heads}, {n}, {d}) 按注意力 (1, {heads}, {n}, {n}) 加权得到 (1, {heads}, {n}, {d})；各头合并为 ({n}, {c})；proj 之后仍为 ({n}, {c})。",
    },
    # ------------------------------------------------------------------ 9 · MLP
    "t_mlp": {"en": "The MLP", "zh": "MLP"},
    "b_mlp": {
        "en": ("Next, every token on its own goes through a two-layer **MLP**: **fc1** widens {c} → {hidden} "
               "numbers, **{act}** bends them, **fc2** brings them back to {c}: **({n}, {c}) → ({n}, {hidden}) → "
               "({n}, {c})**. Attention mixes tokens; the MLP works on each token separately. In block 1, "
               "{gelu:.0%} of this image's {act} outputs are ≈ 0 (dark in the figure)."),
        "zh": ("接着，每个 token 单独经过一个两层的 **MLP**：**fc1** 把 {c} 个数扩展到 {hidden} 个，**{act}** 做非线性变换，"
               "**fc2** 再变回 {c} 个：**({n}, {c}) → ({n}, {hidden}) → ({n}, {c})**。注意力在 token 之间混合信息；"
               "MLP 对每个 token 单独处理。在第 1 个 block 中，这张图片有 {gelu:.0%} 的 {act} 输出 ≈ 0（图中深色部分）。"),
    },
    "a_mlp": {
        "en": ("Shape diagram of this model's MLP: ({n}, {c}) through fc1 to ({n}, {hidden}), {act}, and fc2 back "
               "to ({n}, {c}); the dark share of the {act} bar is the {gelu:.0%} of outputs near zero in block 1 "
               "for this image."),
        "zh": "本模型 MLP 的形状示意图：({n}, {c}) 经 fc1 变为 ({n}, {hidden})，经过 {act}，再经 fc2 回到 ({n}, {c})；{act} 条中的深色部分是这张图片在第 1 个 block 中接近 0 的 {gelu:.0%} 输出。",
    },
    # ------------------------------------------------------------------ 10 · residual adds, dropout
    "t_residual": {"en": "Add, don't replace", "zh": "相加，而不是替换"},
    "b_residual": {
        "en": ("Both parts are **added** to their input: x = x + attention(LN(x)), then x = x + MLP(LN(x)). This "
               "**residual stream** of shape ({n}, {c}) runs through all **{depth} blocks**; the figure shows its "
               "mean token length. This model was built with Dropout p = {drop} and DropPath p = {droppath}; "
               "both act only in training. The model is in evaluation mode, so here they do nothing."),
        "zh": ("两部分都**加**回到各自的输入上：x = x + attention(LN(x))，然后 x = x + MLP(LN(x))。"
               "这条形状为 ({n}, {c}) 的**残差流**贯穿全部 **{depth} 个 block**；图中是它的 token 平均长度。"
               "本模型构建时 Dropout p = {drop}，DropPath p = {droppath}；两者只在训练时起作用。"
               "模型处于评估（eval）模式，所以这里它们什么也不做。"),
    },
    "a_residual": {
        "en": ("Line plot for this image: the mean length (L2 norm) of the {n} tokens entering block 1 (0) and "
               "after each of the {depth} blocks, from {n0:.1f} to {nl:.1f}."),
        "zh": "这张图片的折线图：{n} 个 token 在进入第 1 个 block 时（0）以及每个 block（共 {depth} 个）之后的平均长度（L2 范数），从 {n0:.1f} 到 {nl:.1f}。",
    },
    "fig_after_block": {"en": "after block (0 = input)", "zh": "第几个 block 之后（0 = 输入）"},
    "fig_mean_norm": {"en": "mean token length ‖x‖", "zh": "token 平均长度 ‖x‖"},
    # ------------------------------------------------------------------ 11 · final norm, readout, head
    "t_head": {"en": "The prediction", "zh": "预测"},
    "b_head": {
        "en": ("After the last block comes a final **LayerNorm**; then {readout_what} goes to the **head**: one "
               "linear layer, {c} → {k}, one score per class. Softmax turns the scores into probabilities.{dist} "
               "For this image: **{top1}** {p1}{rest}."),
        "zh": ("最后一个 block 之后是最终的 **LayerNorm**；然后{readout_what} 送入**分类头**：一个全连接层，{c} → {k}，"
               "每个类别一个分数。Softmax 把分数变成概率。{dist}这张图片：**{top1}** {p1}{rest}。"),
    },
    "head_cls": {"en": "only the **CLS token**, ({c},),", "zh": "只把形状为 ({c},) 的 **CLS token**"},
    "head_avg": {"en": "the **average of the {p} patch tokens**, ({c},),", "zh": "把 {p} 个图像块 token 的**平均值**（形状 ({c},)）"},
    "head_dist": {"en": " The DIST token has its own head; the prediction averages the two.",
                  "zh": "DIST token 有自己的分类头，预测取两个头的平均。"},
    "head_rest": {"en": ", then {items}", "zh": "，其次是 {items}"},
    "b_head_none": {
        "en": ("After the last block comes a final **LayerNorm**, and the {readout} ({c},) is the output. This "
               "model has **no classification head** (num_classes = 0, e.g. a self-supervised DINO backbone): it "
               "gives a feature vector for other tasks, not class probabilities. So there is no prediction to "
               "show, and the logit-lens step is skipped."),
        "zh": ("最后一个 block 之后是最终的 **LayerNorm**，形状为 ({c},) 的{readout}就是输出。这个模型**没有分类头**"
               "（num_classes = 0，例如自监督的 DINO 主干网络）：它输出的是供其他任务使用的特征向量，而不是类别概率。"
               "所以没有预测可以展示，也跳过 Logit Lens 这一步。"),
    },
    "readout_cls": {"en": "CLS token", "zh": "CLS token"},
    "readout_avg": {"en": "average of the patch tokens", "zh": "图像块 token 的平均值"},
    "fig_merge_heads": {"en": "merge heads: {heads} × {d} = {c}", "zh": "合并各头：{heads} × {d} = {c}"},
    "fig_final_norm": {"en": "final LayerNorm", "zh": "最后的 LayerNorm"},
    "fig_no_head_out": {"en": "{pick} → output (no head)", "zh": "{pick} → 输出（没有分类头）"},
    "a_head": {"en": "Bar chart of this model's top {k5} classes for this image: {items}.",
               "zh": "本模型对这张图片的前 {k5} 个类别的条形图：{items}。"},
    "a_head_none": {
        "en": ("Shape diagram for this model: the ({n}, {c}) tokens after the last block, the final LayerNorm, the "
               "{readout} ({c},), and no head: the ({c},) feature vector is the output."),
        "zh": "本模型的形状示意图：最后一个 block 之后的 ({n}, {c}) token、最终的 LayerNorm、形状为 ({c},) 的{readout}，没有分类头：输出就是 ({c},) 的特征向量。",
    },
    "fig_probability": {"en": "probability", "zh": "概率"},
    # ------------------------------------------------------------------ 12 · why it works
    "t_why": {"en": "Why does it work?", "zh": "为什么有效？"},
    "b_why": {
        "en": ("A CNN is built to look locally and to keep the 2D layout; a ViT is not: its **inductive bias is "
               "weak**. From block 1 on any head may look anywhere (figure: each head's mean attention distance), "
               "and where a patch lies must be **learned from data** through the position embeddings. {pattern} "
               "So ViTs need a lot of training data, and in return they can relate distant patches early."),
        "zh": ("CNN 天生只看局部、保持二维布局；ViT 没有这些设定：它的**归纳偏置很弱**。从第 1 个 block 起，"
               "任何一个头都可以看向任何地方（图：每个头的平均注意力距离），而图像块在哪里必须通过位置编码"
               "**从数据中学出来**。{pattern}所以 ViT 需要大量训练数据，作为回报，它能很早就把相距很远的图像块联系起来。"),
    },
    "why_grid": {"en": "This model did learn the 2D grid.", "zh": "本模型确实学会了二维网格。"},
    "why_radial": {"en": "This model learned distance from the centre, not the full grid.",
                   "zh": "本模型学到的是离中心的距离，而不是完整的网格。"},
    "why_none": {"en": "This model has not learned positions (untrained embeddings).",
                 "zh": "本模型还没有学到位置（位置编码未经训练）。"},
    "a_why": {
        "en": ("Scatter plot for this model and image: the mean attention distance in pixels of each of the "
               "{heads} heads in each of the {depth} blocks, from {lo:.0f} to {hi:.0f} px; the dashed line is one "
               "patch ({ph} px)."),
        "zh": "本模型和这张图片的散点图：{depth} 个 block 中每个 block 的 {heads} 个头各自的平均注意力距离（像素），从 {lo:.0f} 到 {hi:.0f} 像素；虚线是一个图像块的大小（{ph} 像素）。",
    },
    "fig_distance": {"en": "mean attention distance (px)", "zh": "平均注意力距离（像素）"},
    "fig_block": {"en": "block", "zh": "block"},
    "fig_one_patch": {"en": "one patch", "zh": "一个图像块"},
    # ------------------------------------------------------------------ 13 · logit lens
    "t_lens": {"en": "The logit lens: answers along the way", "zh": "Logit Lens：逐层的答案"},
    "b_lens": {
        "en": ("What would the model answer if it stopped early? The **logit lens** sends the {readout} after each "
               "block through the final LayerNorm and the head. The final answer, **{name}**, {lead} and keeps "
               "the lead (p = {p_then:.0%} there, {p_end:.0%} at the end). Each row: one block's probabilities "
               "of the final top {k5}; at the right, that block's own top class."),
        "zh": ("如果模型提前停下，它会回答什么？**Logit Lens** 把每个 block 之后的 {readout} 直接送进最终的 LayerNorm 和分类头。"
               "最终答案 **{name}** {lead}，并一直保持领先（当时 p = {p_then:.0%}，最后 {p_end:.0%}）。"
               "每一行是一个 block 对最终前 {k5} 名的概率；右边是该 block 自己的第一名。"),
    },
    "lens_lead": {"en": "first leads at block **{block}** of {depth}", "zh": "在第 **{block}** 个 block（共 {depth} 个）首次领先"},
    "lens_lead_first": {"en": "leads from block **1** of {depth} on", "zh": "从第 **1** 个 block（共 {depth} 个）起就领先"},
    "a_lens": {
        "en": ("For this image, one row per block of this model: the probabilities of the final top {k5} classes as "
               "coloured bars, and each block's own top class; {name} leads from block {block} on."),
        "zh": "这张图片在本模型每个 block 之后各一行：最终前 {k5} 个类别的概率（彩色条）以及该 block 自己的第一名；{name} 从第 {block} 个 block 起领先。",
    },
    # ------------------------------------------------------------------ 14 · rollout
    "t_rollout": {"en": "What the model looked at", "zh": "模型看了哪里"},
    "b_rollout": {
        "en": ("Which patches did the information come from? **Attention rollout** multiplies the attention of "
               "all {depth} blocks ({fused}, plus the residual path) to follow the flow from every patch into the "
               "{readout}. Bright patches fed it most; here the strongest is **{patch}**, and the brightest tenth "
               "of the patches holds {share:.0%} of the flow. Rollout shows where information flowed, not proof "
               "of why."),
        "zh": ("信息来自哪些图像块？**注意力 Rollout** 把全部 {depth} 个 block 的注意力（{fused}，再加上残差路径）相乘，"
               "追踪从每个图像块流向 {readout} 的信息。越亮的图像块贡献越多；这里最强的是 **{patch}**，"
               "最亮的十分之一图像块占了 {share:.0%} 的信息流。Rollout 显示的是信息流向哪里，并不能证明模型为什么这样判断。"),
    },
    "fused_mean": {"en": "heads averaged", "zh": "多头取平均"},
    "fused_max": {"en": "heads fused by their maximum", "zh": "多头取最大值"},
    "fused_min": {"en": "heads fused by their minimum", "zh": "多头取最小值"},
    "a_rollout": {
        "en": "This image with this model's attention rollout over it (bright = more flow into the {readout}); strongest at {patch}.",
        "zh": "这张图片叠加了本模型的注意力 Rollout（越亮 = 流向 {readout} 的信息越多）；最强处在 {patch}。",
    },
    # ------------------------------------------------------------------ shared words
    "patch_label": {"en": "patch ({row}, {col})", "zh": "图像块 ({row}, {col})"},
    # ------------------------------------------------------------------ the app's lesson section
    "ui_heading": {
        "en": ("## Lesson: one step per screen\n\nThe whole forward pass of this image in {n} steps, for a class "
               "in front of a projector. ← → keys or the buttons move; the address keeps the step "
               "(`?step=3`), so a slide can link to it."),
        "zh": ("## 课程模式：一屏一步\n\n把这张图片的整个前向传播分成 {n} 步，适合在投影仪前给全班讲解。"
               "用 ← → 键或按钮切换；地址栏会记下当前步骤（`?step=3`），幻灯片可以直接链接到某一步。"),
    },
    "ui_heading_empty": {"en": "## Lesson: one step per screen", "zh": "## 课程模式：一屏一步"},
    "ui_empty": {"en": "Analyse an image to start the lesson.", "zh": "分析一张图片即可开始课程。"},
    "ui_prev": {"en": "← Back", "zh": "← 上一步"},
    "ui_next": {"en": "Next →", "zh": "下一步 →"},
    "ui_prev_label": {"en": "Previous step", "zh": "上一步"},
    "ui_next_label": {"en": "Next step", "zh": "下一步"},
    "ui_full": {"en": "Full screen", "zh": "全屏"},
    "ui_replay": {"en": "↻ Replay", "zh": "↻ 重播"},
    "ui_model": {"en": "{model} · {h}×{w} · {n} tokens", "zh": "{model} · {h}×{w} · {n} 个 token"},
    # ------------------------------------------------------------------ the printed handout
    "ho_title": {"en": "How a Vision Transformer works, step by step", "zh": "Vision Transformer 是如何一步步工作的"},
    "ho_step": {"en": "Step {i} of {n}", "zh": "第 {i} 步，共 {n} 步"},
    "ho_made": {"en": "Made with vitviz from one forward pass of the model on this image.",
                "zh": "由 vitviz 根据模型对这张图片的一次前向传播生成。"},
}


def lt(key: str, lang: str = "en", **values) -> str:
    """The lesson text for `key` in `lang` (falling back to English), formatted with `values`."""
    entry = LESSON_TEXT[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text
