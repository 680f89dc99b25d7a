// The live latent pad (ui/components/latent_pad.py explains the protocol with Python).
// decoder.js, live.js and pad_map.js come first in the same module: buildDecoder, receive, drawMap, ...
//
// Input events only record the latest z and ask for an animation frame; each frame decodes that z
// once, paints the image and moves the crosshair. The points (and the optional decoded backdrop)
// are drawn once per model / axes onto their own canvas under the crosshair's.

const PADS = new WeakMap();  // component root -> Pad (the default export runs on every rerun)
const SIZE = 360;  // pad canvas, CSS pixels
const PAD_SLIDERS = 24;  // ui/z_sliders.py SLIDERS: the most informative dimensions get a slider
const STEP = 0.01;  // z goes to Python rounded to this, like the server sliders' values
const KEY_REST_MS = 300;  // after the last arrow key, z goes to Python

class Pad {
  constructor(root) {
    const q = (s) => root.querySelector(s);
    this.el = {
      points: q(".pad-points"), cross: q(".pad-cross"), image: q(".pad-image"), readout: q(".pad-readout"),
      status: q(".pad-status"), sliders: q(".pad-sliders"), legend: q(".pad-legend"), plane: q(".pad-plane"),
      dims: q(".pad-dims"), mode: q(".pad-mode"), x: q(".pad-x"), y: q(".pad-y"), backdrop: q(".pad-backdrop"),
      direction: q(".pad-direction"), dir: q(".pad-dir"), dirText: q(".pad-dir-text"),
    };
    this.crossCtx = this.el.cross.getContext("2d");
    this.pointsCtx = this.el.points.getContext("2d");
    if (!this.crossCtx || !this.pointsCtx) throw new Error("this browser has no 2-D canvas");
    this.stats = statsFor("latent_pad");
    this.z = null; this.seq = null; this.dec = null; this.pts = null; this.extra = null;
    this.axes = null; this.dirty = false; this.raf = 0; this.sent = 0; this.dragging = false;
    this.dir = null; this.dirKey = null; this.dirBase = null; this.dirName = "";  // a direction: its vector and where the slider started
    this.abort = new AbortController();
    this.listen();
  }

  // ---- from Python
  update(data) {
    this.data = data;
    const { meta, dec, pts, preview, waiting } = receive(data, () => { if (this.data === data) this.update(data); });
    if (meta.unsupported) {
      this.el.status.textContent = `Live decoding is off for this model: ${meta.unsupported}.`;
      reportLive(this, this.setStateValue, { ok: false, have: haveIds(), error: meta.unsupported });
      return;
    }
    // Every report is a rerun (on a session's first run it brings the rest of the page), so it goes
    // after the first frame; only a part that is neither here nor stored is asked for at once.
    const report = { ok: true, have: haveIds(), error: null };
    if ((!dec || !pts) && !waiting) reportLive(this, this.setStateValue, report);
    else this.reportAfterFrame = report;
    this.limit = meta.limit; this.order = meta.order; this.kl = meta.kl; this.active = meta.active;
    const newExtra = String(meta.extra) !== String(this.extra);  // another class: decode again
    this.extra = meta.extra;
    if (preview && !this.painted) this.showPreview(preview);
    if (!dec || !pts) { this.el.status.textContent = "Loading the decoder…"; return; }
    const fresh = dec !== this.dec || pts !== this.pts;
    if (fresh) {
      if (pts !== this.pts) this.axes = null;  // another model: its own dimension order
      this.dec = dec; this.pts = pts;
      this.paint = imagePainter(this.el.image, dec.spec.output);
      this.el.status.textContent = `Decoding in this browser (${dec.decoder.engine}): ${(dec.bytes / 1e6).toFixed(1)} MB of weights.`;
    }
    if (meta.seq !== this.seq || !this.z || this.z.length !== pts.d) {
      this.seq = meta.seq;
      this.z = Float64Array.from(meta.z);
      this.dirty = true;
      this.restDirection();  // z moved by Python: the direction slider starts again from it
    }
    this.setDirection(meta.direction, pts.d);
    if (fresh) {
      const t0 = performance.now();
      this.setup();
      this.stats.setupMs = performance.now() - t0;  // the map drawn, sliders and legend built
    }
    else if (newExtra) { this.dirty = true; if (this.el.backdrop.value === "decoded") this.drawPoints(); }
    this.schedule();
  }

  // The server's PNG of the same z, shown until the browser paints its own first frame.
  showPreview(png) {
    createImageBitmap(new Blob([png], { type: "image/png" })).then((bitmap) => {
      if (this.painted) return;
      const ctx = this.el.image.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bitmap, 0, 0, this.el.image.width, this.el.image.height);
      this.stats.previews = (this.stats.previews || 0) + 1;
    }).catch(() => { /* the browser decode will paint */ });
  }

  // ---- a direction: z = base + t * vector, t from the slider, base = z when the slider was first moved
  setDirection(direction, d) {
    const key = direction && direction.vector.length === d ? `${direction.name}|${direction.vector.join(",")}` : null;
    if (key === this.dirKey) return;
    this.dirKey = key;
    this.dir = key ? Float64Array.from(direction.vector) : null;
    this.el.direction.hidden = !key;
    this.dirName = key ? direction.name : "";
    this.restDirection();
  }

  restDirection() {
    this.dirBase = null;
    this.el.dir.value = "0";
    this.el.dirText.textContent = `along ${this.dirName}`;
  }

  alongDirection(t) {
    if (!this.dir || !this.z) return;
    if (!this.dirBase) this.dirBase = Float64Array.from(this.z);
    for (let k = 0; k < this.z.length; k++) {
      this.z[k] = Math.max(-this.limit, Math.min(this.limit, this.dirBase[k] + t * this.dir[k]));
    }
    this.el.dirText.textContent = `along ${this.dirName} · ${t >= 0 ? "+" : ""}${t.toFixed(2)}`;
    this.dirty = true; this.slidersStale = true;
    this.schedule();
  }

  // ---- model / axes
  setup() {
    const d = this.pts.d;
    this.el.plane.hidden = d <= 2 || !this.pts.pcaComponents;
    this.el.backdrop.querySelector('option[value="holes"]').hidden = !this.pts.holes;
    if (!this.pts.holes && this.el.backdrop.value === "holes") this.el.backdrop.value = "none";
    this.el.dims.hidden = d <= 2;
    this.el.sliders.hidden = d <= 2;
    if (!this.axes || this.axes.d !== d) {
      this.axes = { d, mode: d === 1 ? "line" : "dims", i: this.order[0], j: d > 1 ? this.order[1] : 0 };
    }
    const names = Array.from({ length: d }, (_, k) => `z${k + 1}`);
    for (const [sel, pick] of [[this.el.x, this.axes.i], [this.el.y, this.axes.j]]) {
      sel.innerHTML = names.map((n, k) => `<option value="${k}">${n}</option>`).join("");
      sel.value = String(pick);
    }
    this.el.mode.value = this.axes.mode === "pca" ? "pca" : "dims";
    this.buildSliders();
    fillLegend(this.el.legend, this.pts);
    this.drawPoints();
  }

  setAxes() {
    const d = this.pts.d;
    const mode = this.el.mode.value === "pca" && d > 2 ? "pca" : d === 1 ? "line" : "dims";
    let i = Number(this.el.x.value), j = Number(this.el.y.value);
    if (i === j) j = this.order.find((k) => k !== i);
    this.el.y.value = String(j);
    this.axes = { d, mode, i, j };
    this.el.x.disabled = this.el.y.disabled = mode === "pca";
    this.markSliders();
    this.drawPoints();
    this.schedule();
  }

  // pad coordinates (a, b) of a latent point z (Float64Array or a row of mu)
  project(z, off = 0, out = [0, 0]) {
    const { mode, i, j } = this.axes;
    if (mode === "pca") {
      const m = this.pts.pcaMean, c = this.pts.pcaComponents, d = this.pts.d;
      let a = 0, b = 0;
      for (let k = 0; k < d; k++) { const v = z[off + k] - m[k]; a += c[k] * v; b += c[d + k] * v; }
      out[0] = a; out[1] = b;
    } else {
      out[0] = z[off + i]; out[1] = mode === "line" ? 0 : z[off + j];
    }
    return out;
  }

  // move z so that it projects to (a, b): two coordinates, or along the PCA plane (off-plane part kept)
  moveTo(a, b, z = this.z) {
    const { mode, i, j } = this.axes;
    if (mode === "pca") {
      const [a0, b0] = this.project(z), c = this.pts.pcaComponents, d = this.pts.d;
      for (let k = 0; k < d; k++) z[k] += c[k] * (a - a0) + c[d + k] * (b - b0);
    } else {
      z[i] = a;
      if (mode !== "line") z[j] = b;
    }
    if (z === this.z) for (let k = 0; k < z.length; k++) z[k] = Math.max(-this.limit, Math.min(this.limit, z[k]));
  }

  // the points at their pad coordinates, over the grid and the optional decoded backdrop (pad_map.js)
  drawPoints() {
    const { n, mu, d, labels } = this.pts, coords = new Float32Array(2 * n), p = [0, 0];
    for (let r = 0; r < n; r++) {
      this.project(mu, r * d, p);
      if (this.axes.mode === "line") p[1] = (labels ? labels[r] : 0) + 0.7 * (((r * 7919) % 1000) / 1000 - 0.5);
      coords[2 * r] = p[0]; coords[2 * r + 1] = p[1];
    }
    const marks = this.pts.marks && this.axes.mode !== "line"
      ? Float32Array.from({ length: this.pts.marks.length / d * 2 }, (_, k) => this.project(this.pts.marks, (k >> 1) * d)[k & 1])
      : null;
    this.win = padWindow(coords, this.axes.mode, this.limit, labels);
    const z = Float64Array.from(this.z);
    const under = this.axes.mode === "line" ? "none" : this.el.backdrop.value;
    const backdrop = under === "decoded"
      ? { decode: (a, b) => { this.moveTo(a, b, z); return this.dec.decoder.decode(z, this.extra); }, dec: this.dec }
      : under === "holes" && this.pts.holes
        ? { holes: (a, b) => { this.moveTo(a, b, z); return logRatio(this.pts.holes, z); } } : null;
    drawMap(this.pointsCtx, SIZE, this.win, coords, this.pts, this.axisNames(), backdrop, marks);
    this.backdropKey = this.otherDimsKey();
  }

  axisNames() {
    const { mode, i, j } = this.axes;
    return mode === "pca" ? ["PC1", "PC2"] : mode === "line" ? [`z${i + 1}`, null] : [`z${i + 1}`, `z${j + 1}`];
  }

  otherDimsKey() {
    const { mode, i, j } = this.axes;
    return Array.from(this.z || [], (v, k) => (mode === "dims" && (k === i || k === j) ? "" : v.toFixed(2))).join(",");
  }

  buildSliders() {
    const d = this.pts.d, box = this.el.sliders;
    box.innerHTML = "";
    this.inputs = new Array(d);
    if (d <= 2) return;
    for (const k of this.order.slice(0, PAD_SLIDERS)) {  // the most informative first; a 128-D latent shows 24
      const label = document.createElement("label"), text = document.createElement("span");
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: -this.limit, max: this.limit, step: STEP });
      input.setAttribute("aria-label", `z${k + 1}`);
      input.addEventListener("input", () => {
        this.restDirection(); this.z[k] = Number(input.value); this.dirty = true; this.schedule();
      });
      input.addEventListener("change", () => this.commit());
      label.append(text, input);
      if (!this.active[k]) label.classList.add("inactive");
      box.appendChild(label);
      this.inputs[k] = { input, text, label };
    }
    if (d > PAD_SLIDERS) {
      const rest = document.createElement("span");
      rest.className = "pad-rest";
      rest.textContent = `${d - PAD_SLIDERS} more dimensions, each with less KL, keep their values (Sample z and the URL set them)`;
      box.appendChild(rest);
    }
    this.markSliders();
  }

  markSliders() {
    if (!this.inputs) return;
    const { mode, i, j } = this.axes;
    this.inputs.forEach((s, k) => {
      if (!s) return;
      s.label.classList.toggle("on-pad", mode === "pca" || k === i || k === j);
    });
    this.slidersStale = true;
  }

  // ---- input
  listen() {
    const opts = { signal: this.abort.signal }, cross = this.el.cross;
    const at = (e) => {
      const r = cross.getBoundingClientRect(), w = this.win;
      return [w.x0 + (e.clientX - r.left) / r.width * (w.x1 - w.x0), w.y1 - (e.clientY - r.top) / r.height * (w.y1 - w.y0)];
    };
    const move = (e) => {
      if (!this.pts || !this.z) return;
      this.restDirection();
      const [a, b] = at(e);
      this.moveTo(a, b);
      this.dirty = true;
      this.slidersStale = true;
      this.schedule();
    };
    cross.addEventListener("pointerdown", (e) => {
      if (!this.pts) return;
      this.dragging = true;
      try { cross.setPointerCapture(e.pointerId); } catch { /* a synthetic pointer */ }
      cross.focus({ preventScroll: true });
      move(e);
    }, opts);
    cross.addEventListener("pointermove", (e) => { if (this.dragging) move(e); }, opts);
    const end = () => { if (this.dragging) { this.dragging = false; this.commit(); } };
    cross.addEventListener("pointerup", end, opts);
    cross.addEventListener("pointercancel", end, opts);
    const KEYS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    cross.addEventListener("keydown", (e) => {
      const k = KEYS[e.key];
      if (!k || !this.pts || !this.z) return;
      e.preventDefault();
      clearTimeout(this.keyTimer);
      const step = (this.win.x1 - this.win.x0) / 100 * (e.shiftKey ? 10 : 1);
      this.restDirection();
      const [a, b] = this.project(this.z);
      this.moveTo(a + k[0] * step, b + k[1] * step);
      this.dirty = true; this.slidersStale = true;
      this.schedule();
    }, opts);
    cross.addEventListener("keyup", (e) => {  // z to Python once the keys rest: one rerun per burst
      if (KEYS[e.key]) { clearTimeout(this.keyTimer); this.keyTimer = setTimeout(() => this.commit(), KEY_REST_MS); }
    }, opts);
    this.el.mode.addEventListener("change", () => this.setAxes(), opts);
    this.el.x.addEventListener("change", () => this.setAxes(), opts);
    this.el.y.addEventListener("change", () => this.setAxes(), opts);
    this.el.backdrop.addEventListener("change", () => { this.drawPoints(); this.schedule(); }, opts);
    this.el.dir.addEventListener("input", () => this.alongDirection(Number(this.el.dir.value)), opts);
    this.el.dir.addEventListener("change", () => this.commit(), opts);
  }

  // the end of a move: z rounded like the server's sliders, then sent to Python
  commit() {
    if (!this.z) return;
    for (let k = 0; k < this.z.length; k++) {
      this.z[k] = Math.max(-this.limit, Math.min(this.limit, Math.round(this.z[k] / STEP) * STEP));
    }
    this.dirty = true; this.slidersStale = true;
    this.schedule();
    this.sent += 1;
    this.setStateValue("z", { z: Array.from(this.z, (v) => Number(v.toFixed(2))), n: this.sent });
    if (this.el.backdrop.value !== "none" && this.otherDimsKey() !== this.backdropKey) this.drawPoints();
  }

  // ---- frames
  schedule() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    if (!this.dec || !this.pts || !this.z) return;
    if (this.reportAfterFrame) {  // after this frame is on the screen
      const report = this.reportAfterFrame;
      this.reportAfterFrame = null;
      setTimeout(() => reportLive(this, this.setStateValue, report), 0);
    }
    if (this.dirty) {
      this.dirty = false;
      const t0 = performance.now();
      const x = this.dec.decoder.decode(this.z, this.extra);
      const t1 = performance.now();
      this.paint(x);
      this.painted = true;
      recordPaint(this.stats, t1 - t0);
      this.readout();
    }
    this.drawCross();
    if (this.slidersStale && this.inputs) {
      this.slidersStale = false;
      this.inputs.forEach((s, k) => {
        if (!s) return;
        s.input.value = String(this.z[k]);
        s.text.textContent = `z${k + 1} = ${this.z[k].toFixed(2)} · KL ${this.kl[k].toFixed(2)}${this.active[k] ? "" : " · inactive"}`;
      });
    }
  }

  readout() {
    const d = this.z.length, show = Array.from(this.z.slice(0, 8), (v) => v.toFixed(2)).join(", ");
    this.el.readout.textContent = `z = (${show}${d > 8 ? ", …" : ""})`;
    if (this.stats.frames % 30 === 0) {  // after 30 decodes (the first ones include compiling)
      this.el.status.textContent = `Decoding in this browser (${this.dec.decoder.engine}): ${(this.dec.bytes / 1e6).toFixed(1)} MB, `
        + `${median(this.stats.decodeMs.slice(-60)).toFixed(2)} ms per image.`;
    }
  }

  drawCross() {
    const ctx = this.crossCtx, w = this.win, [a, b] = this.project(this.z);
    const x = (a - w.x0) / (w.x1 - w.x0) * SIZE, y = (w.y1 - b) / (w.y1 - w.y0) * SIZE;
    ctx.clearRect(0, 0, SIZE, SIZE);
    if (this.dir && this.axes.mode !== "line") this.drawDirection(ctx, w);
    ctx.strokeStyle = "rgba(17,17,17,0.55)"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, SIZE);
    if (this.axes.mode !== "line") { ctx.moveTo(0, y); ctx.lineTo(SIZE, y); }
    ctx.stroke();
    if (this.axes.mode !== "line") {
      ctx.fillStyle = "#111"; ctx.strokeStyle = "#fff"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke(); ctx.fill();
    }
  }

  // the direction's path through its base (or z): from -3 to +3 times the vector, a dot at each whole step
  drawDirection(ctx, w) {
    const base = this.dirBase || this.z, p = Float64Array.from(base), pts = [];
    for (let t = -3; t <= 3; t += 0.25) {
      for (let k = 0; k < p.length; k++) p[k] = base[k] + t * this.dir[k];
      const [a, b] = this.project(p);
      pts.push([(a - w.x0) / (w.x1 - w.x0) * SIZE, (w.y1 - b) / (w.y1 - w.y0) * SIZE, Number.isInteger(t)]);
    }
    ctx.strokeStyle = "rgba(214,39,40,0.8)"; ctx.fillStyle = "rgba(214,39,40,0.9)"; ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    for (const [x, y, whole] of pts) if (whole) { ctx.beginPath(); ctx.arc(x, y, 3, 0, 2 * Math.PI); ctx.fill(); }
  }

  fail(error) {
    this.el.status.textContent = `Live decoding stopped: ${error.message}. The sliders below decode on the server.`;
    reportLive(this, this.setStateValue, { ok: false, have: haveIds(), error: String(error.message || error) });
  }

  destroy() {
    this.abort.abort();
    clearTimeout(this.keyTimer);
    if (this.raf) cancelAnimationFrame(this.raf);
  }
}

export default function (component) {
  const root = component.parentElement;
  let pad = PADS.get(root);
  try {
    if (!pad) { pad = new Pad(root); PADS.set(root, pad); }
    pad.setStateValue = component.setStateValue;
    pad.update(component.data);
  } catch (error) {
    const status = root.querySelector(".pad-status");
    if (status) status.textContent = `Live decoding could not start: ${error.message}. The sliders below decode on the server.`;
    const owner = pad || {};
    reportLive(owner, component.setStateValue, { ok: false, have: haveIds(), error: String(error.message || error) });
  }
  return () => { if (pad) { pad.destroy(); PADS.delete(root); } };
}
