// vitviz lesson: moving between the steps in the browser (buttons, arrow keys, ?step=N), the
// canvas animations of steps 2, 3 and 7, and the steps' figures, fetched once per value. Runs as a
// gr.HTML js_on_load script (`element`, `server` and `watch` are given); vitviz/ui/sections/lesson.py
// renders the steps' HTML.
(() => {
  const W = 900, H = 780, FONT = '"Noto Sans", "DejaVu Sans", "Noto Sans CJK SC", system-ui, sans-serif';
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)");
  const st = { cur: null, raf: 0, run: 0 };
  const steps = () => Array.from(element.querySelectorAll(".vvl-step"));
  const ease = (t) => (t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t));

  function urlStep() {
    const v = parseInt(new URLSearchParams(window.location.search).get("step"), 10);
    return Number.isFinite(v) ? v - 1 : null;
  }
  function show(i, writeUrl) {
    const all = steps();
    if (!all.length) return;
    i = Math.max(0, Math.min(all.length - 1, Number.isFinite(i) ? i : 0));
    st.cur = i;
    all.forEach((s, k) => { s.classList.toggle("vvl-on", k === i); s.setAttribute("aria-hidden", k === i ? "false" : "true"); });
    const prev = element.querySelector("#vv-lesson-prev"), next = element.querySelector("#vv-lesson-next");
    if (prev) prev.disabled = i === 0;
    if (next) next.disabled = i === all.length - 1;
    const counter = element.querySelector(".vvl-counter");
    if (counter) counter.textContent = (i + 1) + " / " + all.length;
    element.dataset.step = String(i + 1);
    if (writeUrl) {
      const u = new URL(window.location.href);
      u.searchParams.set("step", String(i + 1));
      history.replaceState(history.state, "", u.toString());
    }
    play(all[i]);
  }
  function onScreen() {
    if (document.fullscreenElement) return document.fullscreenElement === element;
    const r = element.getBoundingClientRect();
    return r.width > 0 && r.bottom > 40 && r.top < window.innerHeight - 40;
  }
  function onKey(ev) {
    if (!element.isConnected) { document.removeEventListener("keydown", onKey); return; }
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    if (st.cur === null || !steps().length || !onScreen()) return;
    const t = ev.target, inside = t instanceof Node && element.contains(t);
    const free = !t || t === document.body || t === document.documentElement;
    if (!inside && !free) return;  // a slider, a text box or another widget has the keys
    ev.preventDefault();
    show(st.cur + (ev.key === "ArrowRight" ? 1 : -1), true);
  }
  document.addEventListener("keydown", onKey);
  element.addEventListener("click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest("button") : null;
    if (!b || !element.contains(b)) return;
    if (b.id === "vv-lesson-prev") show(st.cur - 1, true);
    else if (b.id === "vv-lesson-next") show(st.cur + 1, true);
    else if (b.classList.contains("vvl-replay")) play(steps()[st.cur]);
    else if (b.classList.contains("vvl-full")) {
      if (document.fullscreenElement) document.exitFullscreen();
      else if (element.requestFullscreen) element.requestFullscreen().catch(() => {});
    }
  });

  // ------------------------------------------------------------------ animations (canvas, W × H)
  function stop() {
    cancelAnimationFrame(st.raf); st.raf = 0; st.run++;
    element.querySelectorAll(".vvl-fig.vvl-animating").forEach((f) => f.classList.remove("vvl-animating"));
  }
  function play(step) {
    stop();
    if (!step || reduced.matches) return;
    const kind = step.dataset.anim, draw = ANIMATIONS[kind];
    const fig = step.querySelector(".vvl-fig"), canvas = step.querySelector(".vvl-anim");
    if (!draw || !fig || !canvas) return;
    let data;
    try { data = JSON.parse(step.dataset.animData || "{}"); } catch (e) { return; }
    const img = element.querySelector(".vvl-input"), run = st.run;
    const start = () => {
      if (run !== st.run) return;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      fig.classList.add("vvl-animating");
      const t0 = performance.now();
      const frame = (now) => {
        if (run !== st.run) return;
        ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
        if (!draw(ctx, data, now - t0, img)) st.raf = requestAnimationFrame(frame);
        else element.dispatchEvent(new CustomEvent("vvl-animated", { detail: { kind } }));
      };
      st.raf = requestAnimationFrame(frame);
    };
    // the source image arrives with the figures: until it has, it is "complete" with no pixels
    if (kind !== "attention_row" && img && (!img.complete || !img.naturalWidth)) img.addEventListener("load", start, { once: true });
    else start();
  }
  reduced.addEventListener("change", () => { if (st.cur !== null) play(steps()[st.cur]); });

  function text(ctx, s, x, y, size, align, colour, weight) {
    ctx.font = (weight || "") + " " + size + "px " + FONT;
    ctx.textAlign = align || "left"; ctx.textBaseline = "middle"; ctx.fillStyle = colour || "#1b1b1b";
    ctx.fillText(s, x, y);
  }
  function layout(n, gw, x0, x1, y0, y1) {  // the token sequence, gw + 6 per line (as the static figure)
    const per = gw + 6, lines = Math.ceil(n / per), cell = Math.min((x1 - x0) / per, (y1 - y0) / lines);
    return { per, cell, tile: Math.max(2, cell - Math.max(1, Math.round(cell * 0.08))), x0, y0,
             at: (i) => [x0 + (i % per) * cell, y0 + Math.floor(i / per) * cell] };
  }
  function patch(ctx, img, grid, i, x, y, s) {
    const [gh, gw] = grid, pw = img.naturalWidth / gw, ph = img.naturalHeight / gh, r = Math.floor(i / gw), c = i % gw;
    ctx.drawImage(img, c * pw, r * ph, pw, ph, x, y, s, s);
  }
  function lineNumbers(ctx, L, count, landed) {
    const size = Math.max(11, Math.min(18, Math.round(L.cell * 0.55)));
    for (let line = 0; line * L.per < count; line++) {
      if (!landed(line * L.per)) continue;
      const [x, y] = L.at(line * L.per);
      text(ctx, String(line * L.per), x - 6, y + L.tile / 2, size, "right", "#555");
    }
  }
  function patchesToSequence(ctx, d, t, img) {
    const [gh, gw] = d.grid, P = gh * gw, side = 330, cs = side / Math.max(gh, gw), gx = 70, gy = 76;
    const L = layout(P, gw, 70, W - 16, gy + side + 36, H - 12), spread = 2600, travel = 800;
    const k = (i) => ease((t - 300 - i * spread / P) / travel);
    ctx.globalAlpha = 0.16; ctx.drawImage(img, gx, gy, cs * gw, cs * gh); ctx.globalAlpha = 1;
    text(ctx, d.shape_from, gx + cs * gw / 2, 44, 32, "center", "#1b1b1b", "bold");
    ctx.globalAlpha = ease((t - 300 - spread * 0.5) / travel);
    text(ctx, "→ " + d.shape_to, gx + side + 40, gy + side / 2, 34, "left", "#1b1b1b", "bold");
    ctx.globalAlpha = 1;
    for (const moving of [false, true]) {
      for (let i = 0; i < P; i++) {
        const f = k(i);
        if ((f > 0) !== moving) continue;
        const [tx, ty] = L.at(i), sx = gx + (i % gw) * cs, sy = gy + Math.floor(i / gw) * cs;
        patch(ctx, img, d.grid, i, sx + (tx - sx) * f, sy + (ty - sy) * f, cs - 1 + (L.tile - cs + 1) * f);
      }
    }
    lineNumbers(ctx, L, P, (i) => k(i) >= 1);
    return t > 300 + spread + travel + 200;
  }
  function prefixToken(ctx, name, colour, x, y, s) {
    ctx.fillStyle = colour; ctx.fillRect(x, y, s, s);
    if (s >= 18) text(ctx, name.replace("REG", "R"), x + s / 2, y + s / 2, Math.round(s * (name.length > 3 ? 0.3 : 0.36)), "center", "#fff", "bold");
  }
  function prefixPrepend(ctx, d, t, img) {
    const [gh, gw] = d.grid, P = gh * gw, np = d.prefix.length, N = P + np;
    const L = layout(N, gw, 64, W - 16, 104, H - 12), slide = ease((t - 500) / 1100), drop0 = 1300;
    for (let i = 0; i < P; i++) {
      const [ax, ay] = L.at(i), [bx, by] = L.at(i + np);
      patch(ctx, img, d.grid, i, ax + (bx - ax) * slide, ay + (by - ay) * slide, L.tile);
    }
    for (let j = 0; j < np; j++) {
      const f = ease((t - drop0 - j * 180) / 700);
      if (f <= 0) continue;
      const [x, y] = L.at(j);
      ctx.globalAlpha = f; prefixToken(ctx, d.prefix[j], d.colours[j], x, y - (1 - f) * 90, L.tile); ctx.globalAlpha = 1;
    }
    const done = t > drop0 + np * 180 + 700;
    text(ctx, t < drop0 + np * 180 ? d.shape_from : d.shape_to, W / 2, 50, 34, "center", "#1b1b1b", "bold");
    lineNumbers(ctx, L, N, () => slide >= 1);
    return done && t > drop0 + np * 180 + 1100;
  }
  function attentionRow(ctx, d, t) {
    const k = d.labels.length, rows = k + (d.rest ? 1 : 0), y0 = 120, rowH = Math.min(66, (H - y0 - 70) / rows);
    const lx = 250, s0 = 266, s1 = 560, p0 = 580, p1 = 880, size = Math.round(Math.min(24, rowH * 0.46));
    const smax = Math.max(1e-9, ...d.scores.map(Math.abs)), neg = d.scores.some((s) => s < 0);
    const zero = neg ? (s0 + s1) / 2 : s0, half = (neg ? (s1 - s0) / 2 : s1 - s0) - 58;
    const pmax = Math.max(1e-9, ...d.probs), per = 260, t2 = 300 + k * per + 300;
    text(ctx, d.query, 20, 40, 30, "left", "#1b1b1b", "bold");
    text(ctx, "q·k × " + Number(d.scale).toPrecision(4).replace(/\.?0+$/, ""), (s0 + s1) / 2, 92, 24, "center", "#3b528b", "bold");
    ctx.strokeStyle = "#444"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(zero, y0 - 6); ctx.lineTo(zero, y0 + rows * rowH); ctx.stroke();
    const f2 = ease((t - t2) / 900);
    if (t > t2) text(ctx, d.weight_label, (p0 + p1) / 2, 92, 24, "center", "#e6550d", "bold");
    for (let j = 0; j < rows; j++) {
      const y = y0 + j * rowH, mid = y + rowH / 2, rest = j === k;
      const f = ease((t - 300 - j * per) / 300);
      if (f <= 0 && !rest) continue;
      text(ctx, rest ? d.rest_label : d.labels[j], lx, mid, size, "right");
      if (!rest) {
        const w = d.scores[j] / smax * half * f;
        ctx.fillStyle = d.scores[j] >= 0 ? "#3b528b" : "#9e9ac8";
        ctx.fillRect(Math.min(zero, zero + w), y + rowH * 0.18, Math.abs(w), rowH * 0.64);
        text(ctx, d.scores[j].toFixed(2), d.scores[j] >= 0 ? zero + w + 6 : zero + w - 6, mid, size - 2, d.scores[j] >= 0 ? "left" : "right", "#333");
      } else if (t > t2) {
        text(ctx, "…", zero + 12, mid, size, "left", "#666");
      }
      if (f2 > 0 && rest) {
        text(ctx, (d.rest_p * 100).toFixed(1) + "%", p0, mid, size - 2, "left", "#666");
      } else if (f2 > 0) {
        const p = d.probs[j], w = p / pmax * (p1 - p0 - 80) * f2;
        ctx.fillStyle = "#e6550d";
        ctx.fillRect(p0, y + rowH * 0.18, w, rowH * 0.64);
        text(ctx, (p * 100).toFixed(1) + "%", p0 + w + 6, mid, size - 2, "left", "#333");
      }
    }
    if (f2 >= 1) text(ctx, "Σ = 100% (" + d.n + ")", p0, H - 28, 26, "left", "#1b1b1b", "bold");
    return t > t2 + 1600;
  }
  const ANIMATIONS = { patches_to_sequence: patchesToSequence, prefix_prepend: prefixPrepend, attention_row: attentionRow };

  // ------------------------------------------------------------------ figures: fetched, not in the value
  // The value names its figures by index (data-fig) and carries the token that fetches them once
  // (server.lesson_figures); gradio re-renders the template on a new value, so they are put back
  // after each one.
  const figs = { token: null, urls: null, pending: null };
  function figures() {
    const root = element.querySelector(".vvl"), token = root && root.dataset.figures;
    if (!token) return Promise.resolve();
    if (figs.token !== token) {
      figs.token = token; figs.urls = null;
      figs.pending = server.lesson_figures(token)
        .then((urls) => { if (figs.token === token && Array.isArray(urls)) figs.urls = urls; })
        .catch(() => {});
    }
    return figs.pending.then(() => {
      if (figs.token !== token || !figs.urls) return;
      element.querySelectorAll("img[data-fig]").forEach((img) => {
        const url = figs.urls[+img.dataset.fig];
        if (url && img.getAttribute("src") !== url) img.src = url;
      });
      element.dataset.figuresShown = token;  // (the browser tests wait for it)
    });
  }
  function refresh() {
    show(st.cur !== null ? st.cur : (urlStep() ?? 0), false);
    figures();
  }
  watch("value", refresh);
  show(urlStep() ?? 0, false);
  figures();
})();
