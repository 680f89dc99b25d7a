// The latent pad's map layer (prepended before latent_pad.js): the window a pad shows, and the
// points, grid, axis names and optional decoded backdrop drawn once per model / axes onto the
// canvas under the crosshair's. Coordinates: window {x0, x1, y0, y1} in latent units; a canvas of
// size x size pixels, y up.

// A square window around the points (N, 2 interleaved) and around the prior's +-3, inside +-limit
// for latent dimensions ("dims": the page fits limit to the codes); for the 1-D "line" mode, the
// points' x range and one row per class.
function padWindow(coords, mode, limit, labels) {
  let lo = [-3, -3], hi = [3, 3];
  for (let r = 0; r < coords.length / 2; r++) {
    const x = coords[2 * r], y = coords[2 * r + 1];
    lo = [Math.min(lo[0], x), Math.min(lo[1], y)]; hi = [Math.max(hi[0], x), Math.max(hi[1], y)];
  }
  if (mode === "line") {
    const rows = labels ? Math.max(...labels) + 1 : 1;
    return { x0: lo[0] - 0.1, x1: hi[0] + 0.1, y0: -0.6, y1: rows - 0.4 };
  }
  const cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  let half = Math.max(hi[0] - lo[0], hi[1] - lo[1]) / 2 * 1.08;
  if (mode === "dims") half = Math.min(half, limit);
  const clip = (c) => (mode === "dims" ? Math.max(-limit + half, Math.min(limit - half, c)) : c);
  return { x0: clip(cx) - half, x1: clip(cx) + half, y0: clip(cy) - half, y1: clip(cy) + half };
}

// Backdrop (optional {decode(a, b) -> pixels, dec}), grid, the points coloured by label, then the
// optional marks (a class prior's means, K x 2 interleaved) as labelled rings in their class's colour.
function drawMap(ctx, size, win, coords, pts, names, backdrop, marks) {
  const { labels, colors } = pts, n = coords.length / 2;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, size, size);
  if (backdrop && backdrop.holes) drawHoles(ctx, size, win, backdrop.holes);
  else if (backdrop) drawBackdrop(ctx, size, win, backdrop);
  drawGrid(ctx, size, win, names);
  ctx.globalAlpha = 0.75;
  const byColor = new Map();
  for (let r = 0; r < n; r++) {
    const c = labels ? colors[labels[r] % colors.length] : colors[0];
    if (!byColor.has(c)) byColor.set(c, []);
    byColor.get(c).push(r);
  }
  for (const [c, rows] of byColor) {
    ctx.fillStyle = c;
    for (const r of rows) {
      const x = (coords[2 * r] - win.x0) / (win.x1 - win.x0) * size;
      const y = (win.y1 - coords[2 * r + 1]) / (win.y1 - win.y0) * size;
      ctx.fillRect(x - 1.2, y - 1.2, 2.4, 2.4);
    }
  }
  ctx.globalAlpha = 1;
  if (marks) drawMarks(ctx, size, win, marks, pts);
}

function drawMarks(ctx, size, win, marks, { classes, colors }) {
  ctx.font = "bold 11px sans-serif"; ctx.lineWidth = 2;
  for (let k = 0; k < marks.length / 2; k++) {
    const x = (marks[2 * k] - win.x0) / (win.x1 - win.x0) * size, y = (win.y1 - marks[2 * k + 1]) / (win.y1 - win.y0) * size;
    ctx.fillStyle = "#fff"; ctx.strokeStyle = colors[k % colors.length];
    ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    ctx.fillStyle = "#111"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText(classes ? classes[k] : String(k), x, y + 0.5);
  }
  ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
}

// A grid line every 1, 2 or 5 units (about 8 across), labelled along the bottom and the left edge;
// labels that would run into the corner, each other or the axis names are left out.
function drawGrid(ctx, size, win, names) {
  const span = win.x1 - win.x0, step = span > 40 ? 5 : span > 16 ? 2 : 1;
  ctx.strokeStyle = "rgba(0,0,0,0.08)"; ctx.fillStyle = "rgba(0,0,0,0.45)";
  ctx.font = "10px sans-serif"; ctx.lineWidth = 1;
  for (let v = Math.ceil(win.x0 / step) * step; v <= win.x1; v += step) {
    const x = (v - win.x0) / (win.x1 - win.x0) * size;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, size); ctx.stroke();
    if (x > 18 && x < size - 60) ctx.fillText(String(v), x + 2, size - 3);  // clear of the corner and "z1 →"
  }
  if (names[1]) {
    for (let v = Math.ceil(win.y0 / step) * step; v <= win.y1; v += step) {
      const y = (win.y1 - v) / (win.y1 - win.y0) * size;
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(size, y); ctx.stroke();
      if (y > 24 && y < size - 16) ctx.fillText(String(v), 2, y - 2);  // clear of "↑ z2" and the corner
    }
  }
  ctx.font = "11px sans-serif"; ctx.fillStyle = "rgba(0,0,0,0.7)";
  ctx.fillText(`${names[0]} →`, size - 48, size - 14);
  if (names[1]) ctx.fillText(`↑ ${names[1]}`, 4, 12);
}

// The decoded manifold tiling the window (16 x 16 images, 10 x 10 for a conv decoder), faint.
function drawBackdrop(ctx, size, win, { decode, dec }) {
  const shape = dec.spec.output, [, h, w] = shape;
  const n = dec.spec.layers.some((l) => l.op === "conv") ? 10 : 16;
  const tiles = document.createElement("canvas");
  tiles.width = n * w; tiles.height = n * h;
  const tctx = tiles.getContext("2d"), tile = tctx.createImageData(w, h);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const x = decode(win.x0 + (c + 0.5) / n * (win.x1 - win.x0), win.y1 - (r + 0.5) / n * (win.y1 - win.y0));
      toRGBA(x, shape, tile.data);
      tctx.putImageData(tile, c * w, r * h);
    }
  }
  ctx.globalAlpha = 0.35;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tiles, 0, 0, size, size);
  ctx.fillStyle = "rgba(255,255,255,0.35)";
  ctx.fillRect(0, 0, size, size);
  ctx.globalAlpha = 1;
}

// The codes' mixture q(z) = (1/M) sum_m N(mu_m, diag sigma_m^2) for logRatio: mu and log sigma (M x d).
function holeModel(mu, logSigma, d) {
  const m = mu.length / d, inv = new Float32Array(mu.length), norm = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) { inv[r * d + k] = Math.exp(-logSigma[r * d + k]); s += logSigma[r * d + k]; }
    norm[r] = -s;
  }
  return { mu, inv, norm, m, d, terms: new Float64Array(m) };
}

// log q(z) - log p(z), p = N(0, I), at one z (d): what vae.inference.aggregate.log_ratio computes
// (the 2 pi terms cancel), by log-sum-exp over the mixture's components.
function logRatio(h, z) {
  const { mu, inv, norm, m, d, terms } = h;
  let best = -Infinity, logP = 0;
  for (let k = 0; k < d; k++) logP -= 0.5 * z[k] * z[k];
  for (let r = 0; r < m; r++) {
    let s = 0;
    const o = r * d;
    for (let k = 0; k < d; k++) { const t = (z[k] - mu[o + k]) * inv[o + k]; s += t * t; }
    terms[r] = norm[r] - 0.5 * s;
    if (terms[r] > best) best = terms[r];
  }
  let sum = 0;
  for (let r = 0; r < m; r++) sum += Math.exp(terms[r] - best);
  return best + Math.log(sum) - Math.log(m) - logP;
}

const HOLE_STOPS = [[-6, [103, 0, 31]], [-3, [214, 96, 77]], [0, [247, 247, 247]], [3, [67, 147, 195]], [6, [5, 48, 97]]];

// log q(z)/p(z) -> the latent map's RdBu colours (red: the codes' density far below the prior's), clipped to +-6.
function holeColor(v, out, o) {
  v = Math.max(-6, Math.min(6, Number.isFinite(v) ? v : -6));
  let i = 0;
  while (i < HOLE_STOPS.length - 2 && v > HOLE_STOPS[i + 1][0]) i++;
  const [a, ca] = HOLE_STOPS[i], [b, cb] = HOLE_STOPS[i + 1], t = (v - a) / (b - a);
  for (let c = 0; c < 3; c++) out[o + c] = Math.round(ca[c] + t * (cb[c] - ca[c]));
  out[o + 3] = 255;
}

// The hole map tiling the window: log q(z)/p(z) at 48 x 48 points of the pad's plane, smoothed, half opaque.
function drawHoles(ctx, size, win, value) {
  const n = 48, cells = document.createElement("canvas");
  cells.width = cells.height = n;
  const cctx = cells.getContext("2d"), img = cctx.createImageData(n, n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const v = value(win.x0 + (c + 0.5) / n * (win.x1 - win.x0), win.y1 - (r + 0.5) / n * (win.y1 - win.y0));
      holeColor(v, img.data, 4 * (r * n + c));
    }
  }
  cctx.putImageData(img, 0, 0);
  ctx.globalAlpha = 0.55;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(cells, 0, 0, size, size);
  ctx.globalAlpha = 1;
}

function fillLegend(el, { classes, colors, labels }) {
  el.innerHTML = "";
  if (!labels || !classes) return;
  classes.forEach((name, k) => {
    const s = document.createElement("span");
    s.style.setProperty("--c", colors[k % colors.length]);
    s.textContent = name;
    el.appendChild(s);
  });
}
