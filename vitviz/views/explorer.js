// vitviz explorer: attention and rollout drawn in the browser from data sent once per analysis.
// Runs as a gr.HTML js_on_load script: `element`, `props`, `trigger`, `server`, `watch` are given.
// The data come from vitviz/views/explorer.py (rows of uint8 codes with one lo/hi per row,
// base64, deflated except in the first view's parts, which with the raw-RGB image are decoded
// synchronously); the colours from the same 256-entry LUT as the server's figures.
// After each draw it dispatches "vvx-drawn" on `element` (the browser benchmark times it).
(() => {
  const SYNC_IDLE_MS = 600;    // settle time before the page below follows a control change
  const CACHE_BYTES = 64 << 20; // decoded attention layers kept in the tab
  const MOSAIC_MAX_PX = 560;    // the layer × head mosaic's largest width and height (CSS px)
  const st = { value: null, token: null, inline: {}, data: {}, layers: new Map(), pending: new Map(), sel: null,
               hover: null, tile: null, alpha: 0.65, syncTimer: null, root: null, img: null,
               buf: null, observer: null, width: 0 };

  // ------------------------------------------------------------------ data
  function bytesOf(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  function decoded(enc, codes) {
    return { shape: enc.shape, k: enc.shape[enc.shape.length - 1], codes,
             lo: Float32Array.from(enc.lo), hi: Float32Array.from(enc.hi) };
  }
  // raw codes at once (no task boundary before the first view), deflated ones through a stream
  function rows(enc) {
    const bytes = bytesOf(enc.codes);
    return enc.codec === "raw" ? decoded(enc, bytes) : inflate(bytes).then((codes) => decoded(enc, codes));
  }
  // the image under the maps: raw RGB drawn into a canvas at once, or a PNG decoded by an <img>
  function picture(m) {
    if (m.pixels) {
      const { width, height, rgb } = m.pixels, src = bytesOf(rgb), im = new ImageData(width, height);
      for (let i = 0, j = 0; i < src.length; i += 3, j += 4) {
        im.data[j] = src[i]; im.data[j + 1] = src[i + 1]; im.data[j + 2] = src[i + 2]; im.data[j + 3] = 255;
      }
      const c = document.createElement("canvas");
      c.width = width; c.height = height; c.getContext("2d").putImageData(im, 0, 0);
      return c;
    }
    const img = new Image(), loaded = new Promise((ok) => { img.onload = ok; img.onerror = ok; });
    img.src = m.image;
    return loaded.then(() => img);
  }
  function row(R, r, out) {  // decoded row r of R into `out` (Float32Array of R.k)
    const k = R.k, lo = R.lo[r], s = (R.hi[r] - lo) / 255, c = R.codes, o = r * k;
    for (let i = 0; i < k; i++) out[i] = lo + c[o + i] * s;
    return out;
  }
  async function fetchPart(name) {  // from the value when it brought the part (the first view), else the server
    const token = st.token, inline = st.inline[name];
    if (inline) { delete st.inline[name]; return inline; }
    const part = await server.explorer_data(token, name);
    if (token !== st.token) throw new Error("stale");
    if (part && part.error) throw new Error(part.error);
    return part;
  }
  function layerBytes() { const m = st.data.meta; return m.heads * m.tokens * (m.tokens + 1); }
  function ensureLayer(l) {
    const layers = st.layers, pending = st.pending;  // this analysis' (a stale answer lands in its own)
    if (layers.has(l)) return Promise.resolve(layers.get(l));
    if (pending.has(l)) return pending.get(l);
    const p = fetchPart("layer:" + l).then(async (part) => {
      const L = { patches: await rows(part.patches), prefix: part.prefix ? await rows(part.prefix) : null };
      layers.set(l, L);
      // (the first layer may arrive before the meta part: nothing to evict then)
      const keep = st.data.meta ? Math.max(2, Math.floor(CACHE_BYTES / layerBytes())) : Infinity;
      for (const key of layers.keys()) {
        if (layers.size <= keep) break;
        if (key !== l && key !== st.sel.layer) layers.delete(key);
      }
      return L;
    }).finally(() => pending.delete(l));
    pending.set(l, p);
    return p;
  }
  async function rolloutRows(p) {
    return { fusions: p.fusions, steps: p.steps, rollout: await rows(p.rollout), head: await rows(p.head_rollout) };
  }
  function ensureRollout() {  // every fusion and discard step (the first view brings the analysis' own map)
    const data = st.data, token = st.token, m = data.meta, R = data.rollout;
    if (R.fusions.length * R.steps.length === m.fusions.length * m.discards.length) { element.dataset.allLayers = "1"; return; }
    if (data.allRollouts) return;
    data.allRollouts = fetchPart("rollout").then(rolloutRows).then((all) => {
      if (token !== st.token) return;
      data.rollout = all; element.dataset.allLayers = "1"; draw("rollouts-loaded");  // every layer is in this part
    }).catch(() => { data.allRollouts = null; });  // the next fusion or discard change asks again
  }
  async function prefetch(token) {  // every layer when they fit the cache, else the neighbours
    const m = st.data.meta, all = layerBytes() * m.depth <= CACHE_BYTES;
    const order = all ? [...Array(m.depth).keys()] : [st.sel.layer - 1, st.sel.layer + 1];
    for (const l of order) {
      if (token !== st.token) return;
      if (l >= 0 && l < m.depth) { try { await ensureLayer(l); } catch (e) { return; } }
    }
    if (all && token === st.token) element.dataset.allLayers = "1";
  }

  // ------------------------------------------------------------------ maps
  function lut() {
    if (st.data.lutBytes) return st.data.lutBytes;
    const hex = st.data.meta.lut, out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return (st.data.lutBytes = out);
  }
  function numPatches() { const g = st.data.meta.grid; return g[0] * g[1]; }
  function prefixCount() { return st.data.meta.prefix.length; }
  function queryToken() {
    const s = st.sel, m = st.data.meta;
    if (s.query !== "patch") return m.prefix.indexOf(s.query);
    const p = st.hover || s.patch;
    return prefixCount() + p[0] * m.grid[1] + p[1];
  }
  // What every draw writes into, allocated once per analysis (a hover draws up to once per frame):
  // the map shown, one decoded row, and the grid's pixels.
  function buffers() {
    const P = numPatches(), [gh, gw] = st.data.meta.grid;
    if (!st.buf || st.buf.P !== P) {
      st.buf = { P, out: new Float32Array(P), tmp: new Float32Array(P), image: new ImageData(gw, gh) };
    }
    return st.buf;
  }
  // The map shown now: {values (P, in the shared buffer), loading}, from what is loaded.
  function currentMap() {
    const m = st.data.meta, { out, tmp } = buffers();
    if (st.value.mode === "rollout") {
      const R = st.data.rollout;
      if (!R) return { values: null, loading: true };
      if (st.tile) return { values: row(R.head, st.tile[0] * m.heads + st.tile[1], out) };
      const f = R.fusions.indexOf(st.sel.fusion), d = R.steps.indexOf(Math.round(st.sel.discard / 0.05));
      if (f < 0 || d < 0) return { values: null, loading: true };  // the other maps follow the first view
      return { values: row(R.rollout, f * R.steps.length + d, out) };
    }
    const L = st.layers.get(st.sel.layer), t = queryToken(), head = st.sel.headMode;
    if (!L) {
      if (t !== 0 || !st.data.readout || m.readout !== "cls") return { values: null, loading: true };
      const R = st.data.readout;  // the CLS row is in the first payload for every layer
      return { values: combine((h) => row(R, st.sel.layer * m.heads + h, tmp), head, out, m.heads) };
    }
    return { values: combine((h) => row(L.patches, h * m.tokens + t, tmp), head, out, m.heads) };
  }
  function combine(get, head, out, H) {
    if (head !== "mean" && head !== "max") return out.set(get(head)), out;
    out.fill(head === "max" ? -Infinity : 0);
    for (let h = 0; h < H; h++) {
      const r = get(h);
      for (let i = 0; i < out.length; i++) out[i] = head === "max" ? Math.max(out[i], r[i]) : out[i] + r[i] / H;
    }
    return out;
  }
  function range(v) {
    let lo = Infinity, hi = -Infinity, arg = 0;
    for (let i = 0; i < v.length; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) { hi = v[i]; arg = i; } }
    return { lo, hi, arg };
  }
  function paintMap(canvas, values, lo, hi) {  // a (gh, gw) map into a gw × gh canvas via the LUT
    const [gh, gw] = st.data.meta.grid, ctx = canvas.getContext("2d"), C = lut();
    if (canvas.width !== gw || canvas.height !== gh) { canvas.width = gw; canvas.height = gh; }
    const im = buffers().image, span = hi - lo > 1e-12 ? hi - lo : 0;
    for (let i = 0; i < values.length; i++) {
      const q = span ? Math.round(Math.min(1, Math.max(0, (values[i] - lo) / span)) * 255) : 0;
      im.data[4 * i] = C[3 * q]; im.data[4 * i + 1] = C[3 * q + 1]; im.data[4 * i + 2] = C[3 * q + 2];
      im.data[4 * i + 3] = 255;
    }
    ctx.putImageData(im, 0, 0);
  }

  // ------------------------------------------------------------------ drawing
  const $ = (sel) => st.root.querySelector(sel);
  const T = (key) => (st.value.texts || {})[key] || key;
  const fmt = (x) => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(2));
  function fill(template, values) { return template.replace(/\{(\w+)\}/g, (_, k) => values[k]); }
  function patchLabel(p) { return fill(T("patch_label"), { row: p[0], col: p[1], token: prefixCount() + p[0] * st.data.meta.grid[1] + p[1] }); }

  function draw(kind) {
    if (!st.root || !st.data.meta || !st.img || st.img.complete === false) return;
    const m = st.data.meta, canvas = $(".vvx-canvas"), ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, [gh, gw] = m.grid;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(st.img, 0, 0, W, H);
    const map = currentMap(), r = map.values ? range(map.values) : null;
    if (map.values) {
      paintMap(st.off, map.values, r.lo, r.hi);
      ctx.globalAlpha = st.alpha; ctx.imageSmoothingEnabled = false;
      ctx.drawImage(st.off, 0, 0, W, H);
      ctx.globalAlpha = 1;
    }
    const cw = W / gw, ch = H / gh;
    const box = (p, colour, width, dash) => {
      ctx.save(); ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.setLineDash(dash);
      ctx.strokeRect(p[1] * cw + width / 2, p[0] * ch + width / 2, cw - width, ch - width); ctx.restore();
    };
    const attention = st.value.mode === "attention";
    if (attention && st.sel.query === "patch") box(st.sel.patch, "#00e6ff", Math.max(2, cw / 8), []);
    if (st.hover) box(st.hover, "#ffffff", Math.max(1.5, cw / 12), [4, 3]);
    drawBar(r);
    describe(map, r);
    drawMosaicFrame();
    element.dispatchEvent(new CustomEvent("vvx-drawn", { detail: { kind, loading: !!map.loading } }));
  }
  function drawBar(r) {
    const labels = st.root.querySelectorAll(".vvx-bar-labels span");
    const vals = r ? [r.lo, (r.lo + r.hi) / 2, r.hi] : ["", "", ""];
    labels.forEach((el, i) => { el.textContent = r ? fmt(vals[i]) : ""; });
  }
  function describe(map, r) {
    const m = st.data.meta, s = st.sel, out = $(".vvx-readout"), canvas = $(".vvx-canvas");
    if (!map.values) { out.textContent = T("loading"); return; }
    const top = [Math.floor(r.arg / m.grid[1]), r.arg % m.grid[1]];
    let text;
    if (st.value.mode === "rollout") {
      const what = st.tile ? fill(T("head_rollout_of"), { layer: st.tile[0] + 1, head: st.tile[1] + 1 })
                           : fill(T("rollout_of"), { fusion: T(s.fusion), discard: s.discard.toFixed(2) });
      text = what + " " + fill(T("strongest"), { patch: patchLabel(top), value: fmt(r.hi) });
    } else {
      const t = queryToken(), q = t < prefixCount() ? m.prefix[t] : patchLabel(st.hover || s.patch);
      const head = s.headMode === "mean" ? T("all_mean") : s.headMode === "max" ? T("all_max") : fill(T("head_n"), { head: s.headMode + 1 });
      text = fill(T("attention_of"), { query: q, layer: s.layer + 1, head }) + " " +
             fill(T("strongest"), { patch: patchLabel(top), value: fmt(r.hi) });
    }
    if (st.hover && map.values) {
      const i = st.hover[0] * m.grid[1] + st.hover[1];
      text += " " + fill(T("under_pointer"), { patch: patchLabel(st.hover), value: fmt(map.values[i]) });
    }
    out.textContent = text;
    canvas.setAttribute("aria-label", text);
  }

  // ------------------------------------------------------------------ the mosaic (layer × head)
  function mosaicMaps() {
    const R = st.value.mode === "rollout" ? (st.data.rollout || {}).head : st.data.readout;
    return R || null;
  }
  function buildMosaic() {
    const m = st.data.meta, R = mosaicMaps(), c = $(".vvx-mosaic");
    if (!R) return;
    const width = Math.min(MOSAIC_MAX_PX, (c.parentElement.clientWidth || MOSAIC_MAX_PX)), label = 26, pad = 2;
    // tiles as big as fit the width and MOSAIC_MAX_PX of height (a deep, narrow model such as
    // 12 layers × 3 heads would otherwise stand ~900 px tall next to the 448 px view)
    const fit = Math.min(Math.floor((width - label) / m.heads), Math.floor((MOSAIC_MAX_PX - 18) / m.depth)) - pad;
    const tile = Math.max(10, Math.min(72, fit));
    const W = label + m.heads * (tile + pad), H = 18 + m.depth * (tile + pad);
    const base = document.createElement("canvas"); base.width = W; base.height = H;
    const ctx = base.getContext("2d"), tmp = new Float32Array(numPatches());
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
    for (let h = 0; h < m.heads; h++) if (tile >= 16 || h % 2 === 0) ctx.fillText("h" + (h + 1), label + h * (tile + pad), 9);
    for (let l = 0; l < m.depth; l++) {
      ctx.fillText("L" + (l + 1), 1, 18 + l * (tile + pad) + tile / 2);
      for (let h = 0; h < m.heads; h++) {
        const v = row(R, l * m.heads + h, tmp), r = range(v), x = label + h * (tile + pad), y = 18 + l * (tile + pad);
        ctx.drawImage(st.img, x, y, tile, tile);
        paintMap(st.off, v, r.lo, r.hi);
        ctx.globalAlpha = 0.75; ctx.imageSmoothingEnabled = false;
        ctx.drawImage(st.off, x, y, tile, tile);
        ctx.globalAlpha = 1; ctx.imageSmoothingEnabled = true;
      }
    }
    st.mosaic = { base, label, tile, pad };
    c.width = W; c.height = H;
  }
  function drawMosaicFrame() {  // the base and the frame of the chosen tile, when that tile changed
    const M = st.mosaic, c = $(".vvx-mosaic");
    if (!M) return;
    const cell = st.value.mode === "rollout" ? st.tile : [st.sel.layer, typeof st.sel.headMode === "number" ? st.sel.headMode : null];
    const key = String(cell);
    if (M.framed === key) return;  // a hover or a fusion change: the mosaic is as it was
    M.framed = key;
    const ctx = c.getContext("2d"), m = st.data.meta, step = M.tile + M.pad;
    ctx.drawImage(M.base, 0, 0);
    if (!cell) return;
    ctx.strokeStyle = "#ffd700"; ctx.lineWidth = 2;
    ctx.strokeRect(M.label - 1, 18 + cell[0] * step - 1, m.heads * step, M.tile + 2);
    if (cell[1] !== null) {
      ctx.strokeStyle = "#00e6ff"; ctx.lineWidth = 3;
      ctx.strokeRect(M.label + cell[1] * step, 18 + cell[0] * step, M.tile, M.tile);
    }
  }
  function mosaicCell(ev) {
    const M = st.mosaic, c = $(".vvx-mosaic"), b = c.getBoundingClientRect(), m = st.data.meta;
    if (!M) return null;
    const x = (ev.clientX - b.left) * c.width / b.width - M.label, y = (ev.clientY - b.top) * c.height / b.height - 18;
    const step = M.tile + M.pad, l = Math.floor(y / step), h = Math.floor(x / step);
    return l >= 0 && l < m.depth && h >= 0 && h < m.heads ? [l, h] : null;
  }

  // ------------------------------------------------------------------ the page below follows
  function sync(now) {
    clearTimeout(st.syncTimer);
    const send = () => {
      const s = st.sel, value = st.value.mode === "rollout" ? { fusion: s.fusion, discard: s.discard }
                                                            : { layer: s.layer, query: s.query, patch: s.patch };
      if (st.value.mode === "attention" && typeof s.headMode === "number") value.head = s.headMode;
      trigger("select", { index: value.patch || null, value: { mode: st.value.mode, token: st.token, selection: value } });
    };
    if (now) send(); else st.syncTimer = setTimeout(send, SYNC_IDLE_MS);
  }
  function setLayer(l, kind) {
    const m = st.data.meta;
    st.sel.layer = Math.max(0, Math.min(m.depth - 1, l));
    $(".vvx-layer").value = st.sel.layer + 1;
    $(".vvx-layer-out").textContent = st.sel.layer + 1;
    draw(kind);
    if (!st.layers.has(st.sel.layer) && st.value.mode === "attention") {
      const want = st.sel.layer;
      ensureLayer(want).then(() => { if (st.sel.layer === want) draw(kind + "-loaded"); }).catch(() => {});
    }
  }

  // ------------------------------------------------------------------ DOM
  function controlsHTML(mode, m) {
    const alpha = `<label class="vvx-ctl">${T("opacity")} <input type="range" class="vvx-alpha" min="0" max="100" value="${Math.round(st.alpha * 100)}"></label>`;
    if (mode === "rollout") {
      const fusions = m.fusions.map((f) => `<option value="${f}">${T(f)}</option>`).join("");
      return `<label class="vvx-ctl">${T("fusion")} <select class="vvx-fusion">${fusions}</select></label>
        <label class="vvx-ctl">${T("discard")} <input type="range" class="vvx-discard" min="0" max="${m.discards.length - 1}" step="1">
        <output class="vvx-discard-out"></output></label>${alpha}
        <button type="button" class="vvx-full" hidden>${T("full_rollout")}</button>`;
    }
    const heads = [`<option value="mean">${T("all_mean")}</option>`, `<option value="max">${T("all_max")}</option>`]
      .concat([...Array(m.heads).keys()].map((h) => `<option value="${h}">${h + 1}</option>`)).join("");
    const queries = [`<option value="patch">${T("query_patch")}</option>`]
      .concat(m.prefix.map((n) => `<option value="${n}">${n}</option>`)).join("");
    return `<label class="vvx-ctl">${T("layer")} <input type="range" class="vvx-layer" min="1" max="${m.depth}" step="1">
      <output class="vvx-layer-out"></output></label>
      <label class="vvx-ctl">${T("head")} <select class="vvx-head">${heads}</select></label>
      <label class="vvx-ctl">${T("query")} <select class="vvx-query">${queries}</select></label>${alpha}`;
  }
  function build() {
    const m = st.data.meta, mode = st.value.mode, root = document.createElement("div");
    root.className = "vvx";
    root.dataset.mode = mode;
    root.dataset.grid = m.grid.join("x");  // "14x14" (for tests and the browser benchmark)
    root.innerHTML = `<div class="vvx-controls">${controlsHTML(mode, m)}</div>
      <div class="vvx-body"><div class="vvx-main">
        <canvas class="vvx-canvas" tabindex="0" role="img" aria-label=""></canvas>
        <div class="vvx-bar" aria-hidden="true"><canvas class="vvx-bar-canvas" width="256" height="1"></canvas>
          <div class="vvx-bar-labels"><span></span><span></span><span></span></div></div>
        <p class="vvx-readout" aria-live="polite"></p><p class="vvx-help">${T(mode === "rollout" ? "help_rollout" : "help")}</p></div>
      <div class="vvx-side"><p class="vvx-mosaic-title">${T(mode === "rollout" ? "mosaic_rollout" : "mosaic")}</p>
        <canvas class="vvx-mosaic" role="img" aria-label="${T(mode === "rollout" ? "mosaic_rollout" : "mosaic")}"></canvas></div></div>`;
    st.root = root; st.mosaic = null;  // the new mosaic canvas is drawn by resize()
    element.replaceChildren(root);
    st.off = document.createElement("canvas");
    const bar = $(".vvx-bar-canvas"), bctx = bar.getContext("2d"), im = bctx.createImageData(256, 1), C = lut();
    for (let i = 0; i < 256; i++) { im.data.set([C[3 * i], C[3 * i + 1], C[3 * i + 2], 255], 4 * i); }
    bctx.putImageData(im, 0, 0);
    wire(mode);
    applySelection();
    resize();  // the first view, drawn before data-ready is set
    st.width = Math.round(root.getBoundingClientRect().width);
    if (st.observer) st.observer.disconnect();
    // Only a new width re-lays the canvases out: the readout's line count changes the height
    // on hover, and that must not cost a second draw.
    st.observer = new ResizeObserver((entries) => {
      const width = Math.round(entries[entries.length - 1].contentRect.width);
      if (width !== st.width) { st.width = width; resize(); }
    });
    st.observer.observe(root);
  }
  function resize() {
    const m = st.data.meta, canvas = $(".vvx-canvas"), css = Math.min(448, canvas.parentElement.clientWidth || 448);
    const dpr = window.devicePixelRatio || 1, w = Math.round(css * dpr), h = Math.round(css * dpr * m.input[0] / m.input[1]);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    canvas.style.width = css + "px";
    const width = Math.min(MOSAIC_MAX_PX, $(".vvx-side").clientWidth || MOSAIC_MAX_PX);
    if (!st.mosaic || st.mosaic.width !== width) { buildMosaic(); if (st.mosaic) st.mosaic.width = width; }
    draw("resize");
  }
  function patchAt(ev) {
    const c = $(".vvx-canvas"), b = c.getBoundingClientRect(), [gh, gw] = st.data.meta.grid;
    const r = Math.floor((ev.clientY - b.top) / b.height * gh), col = Math.floor((ev.clientX - b.left) / b.width * gw);
    return r >= 0 && r < gh && col >= 0 && col < gw ? [r, col] : null;
  }
  function wire(mode) {
    const canvas = $(".vvx-canvas");
    canvas.addEventListener("pointermove", (ev) => {
      const p = patchAt(ev);
      if (p && st.hover && p[0] === st.hover[0] && p[1] === st.hover[1]) return;
      st.hover = p; draw("hover");
    });
    canvas.addEventListener("pointerleave", (ev) => { if (ev.pointerType === "mouse") { st.hover = null; draw("hover"); } });
    canvas.addEventListener("pointerdown", (ev) => { if (ev.pointerType !== "mouse") { st.hover = patchAt(ev); draw("hover"); } });
    canvas.addEventListener("click", (ev) => {
      const p = patchAt(ev);
      if (!p || mode !== "attention") return;
      st.sel.patch = p; st.hover = null; draw("pin"); sync(true);
    });
    canvas.addEventListener("keydown", (ev) => {
      const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[ev.key];
      if (!d || mode !== "attention") return;
      ev.preventDefault();
      const [gh, gw] = st.data.meta.grid, p = st.sel.patch;
      st.sel.patch = [Math.max(0, Math.min(gh - 1, p[0] + d[0])), Math.max(0, Math.min(gw - 1, p[1] + d[1]))];
      st.hover = null; draw("key"); sync(false);
    });
    $(".vvx-alpha").addEventListener("input", (ev) => { st.alpha = ev.target.value / 100; draw("opacity"); });
    const mosaic = $(".vvx-mosaic");
    mosaic.addEventListener("click", (ev) => {
      const cell = mosaicCell(ev);
      if (!cell) return;
      if (mode === "rollout") { st.tile = cell; $(".vvx-full").hidden = false; draw("tile"); return; }
      st.sel.headMode = cell[1]; $(".vvx-head").value = String(cell[1]);
      setLayer(cell[0], "tile"); sync(false);
    });
    if (mode === "rollout") {
      $(".vvx-fusion").addEventListener("input", (ev) => {
        st.sel.fusion = ev.target.value; st.tile = null; draw("fusion"); sync(false); ensureRollout();
      });
      $(".vvx-discard").addEventListener("input", (ev) => {
        st.sel.discard = st.data.meta.discards[+ev.target.value]; st.tile = null;
        $(".vvx-discard-out").textContent = st.sel.discard.toFixed(2); draw("discard"); sync(false); ensureRollout();
      });
      $(".vvx-full").addEventListener("click", () => { st.tile = null; $(".vvx-full").hidden = true; draw("tile"); });
      return;
    }
    $(".vvx-layer").addEventListener("input", (ev) => { setLayer(ev.target.value - 1, "layer"); sync(false); });
    $(".vvx-head").addEventListener("input", (ev) => {
      const v = ev.target.value; st.sel.headMode = v === "mean" || v === "max" ? v : +v; draw("head"); sync(false);
    });
    $(".vvx-query").addEventListener("input", (ev) => { st.sel.query = ev.target.value; draw("query"); sync(false); });
  }
  function applySelection() {  // the controls show st.sel
    const s = st.sel, m = st.data.meta;
    if (st.value.mode === "rollout") {
      $(".vvx-fusion").value = s.fusion;
      $(".vvx-discard").value = Math.round(s.discard / 0.05);
      $(".vvx-discard-out").textContent = s.discard.toFixed(2);
    } else {
      $(".vvx-layer").value = s.layer + 1; $(".vvx-layer-out").textContent = s.layer + 1;
      $(".vvx-head").value = String(s.headMode);
      $(".vvx-query").value = m.prefix.includes(s.query) ? s.query : "patch";
    }
  }
  function selectionFrom(v) {
    const s = v.selection || {};
    return { layer: s.layer || 0, headMode: s.head ?? 0, query: s.query || "patch", patch: s.patch || [0, 0],
             fusion: s.fusion || "mean", discard: s.discard || 0 };
  }

  // ------------------------------------------------------------------ a new value from the server
  async function load(v) {
    const token = v.token;
    st.token = token; st.inline = Object.assign({}, v.inline || {});
    // the size of what came inline, per part (JSON characters; the browser benchmark reports it)
    element.dataset.inlineSizes = JSON.stringify(Object.fromEntries(Object.entries(st.inline).map(([k, p]) => [k, JSON.stringify(p).length])));
    // Keep the page's copy of the value small: gradio clones every component's value on each
    // status update of every event, and the first-view data would be cloned again and again.
    if (v.inline && props.value === v) { st.value = Object.assign({}, v, { inline: null }); props.value = st.value; }
    st.data = {}; st.layers = new Map(); st.pending = new Map(); st.tile = null; st.hover = null;
    st.mosaic = null; st.buf = null; st.root = null; element.dataset.ready = ""; element.dataset.allLayers = "";
    clearTimeout(st.syncTimer);
    if (st.observer) st.observer.disconnect();
    st.sel = selectionFrom(v);
    element.replaceChildren(Object.assign(document.createElement("p"), { className: "vvx-empty", textContent: T("loading") }));
    // The first view's parts come inside the value with a new analysis; otherwise they are
    // requested together, not meta first (one round trip instead of two).
    const data = st.data;  // this analysis' (a stale answer lands in its own)
    const meta = fetchPart("meta").then((m) => { data.meta = m; return picture(m); });
    const first = v.mode === "rollout"  // a new analysis brings its own map only ("rollout:own"), the rest follow
      ? fetchPart(st.inline["rollout:own"] ? "rollout:own" : "rollout").then(async (p) => { data.rollout = await rolloutRows(p); })
      : Promise.all([fetchPart("readout").then(async (p) => { data.readout = await rows(p.readout); }),
                     ensureLayer(st.sel.layer)]);
    try {
      const [img] = await Promise.all([meta, first]);
      if (token !== st.token) return;
      st.img = img;
      build();
      element.dataset.ready = "1";
      if (v.mode === "attention") prefetch(token); else ensureRollout();
    } catch (e) {
      if (token === st.token) element.replaceChildren(Object.assign(document.createElement("p"), { className: "vvx-empty", textContent: T("failed") }));
    }
  }
  function onValue() {
    const v = props.value;
    if (!v || typeof v !== "object") return;
    const relabel = st.value && JSON.stringify(st.value.texts) !== JSON.stringify(v.texts);
    st.value = v;
    if (!v.token) {
      st.token = null;
      element.replaceChildren(Object.assign(document.createElement("p"), { className: "vvx-empty", textContent: T("empty") }));
      return;
    }
    if (v.token !== st.token) { load(v); return; }
    st.sel.patch = selectionFrom(v).patch;
    if (!st.root) return;  // still loading: build() draws st.sel
    if (relabel) { build(); return; }
    if (!element.contains(st.root)) element.replaceChildren(st.root);  // gradio re-rendered the template
    draw("server");
  }
  watch("value", onValue);
  onValue();
})();
