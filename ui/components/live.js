// What the live components share (prepended after decoder.js): a page-wide cache of the bundle
// parts Python sends once per model version, and the frame statistics tests and benchmarks read.
//
// globalThis.__vaeLive = {parts: Map(id -> part), stats: {name -> {paints, decodeMs, frames}},
// builds: [{at, ms, bytes, ids}] (when parts arrived, how long reading them took)}
// lives as long as the browser tab, so a rerun, a page change and a remount reuse the weights.
// A "dec" part is {id, spec, decoder, bytes}; a "pts" part is {id, n, d, mu, labels, classes,
// colors, pcaMean, pcaComponents, marks (a class prior's means, K x d, or null)}.

const LIVE = globalThis.__vaeLive || (globalThis.__vaeLive = { parts: new Map(), stats: {}, builds: [] });
const KEEP_PARTS = 8;  // at most this many parts stay cached (a few models' worth)

function partOf(tag, info, arrays, shapes) {
  const own = {}, dims = {};
  let bytes = 0;
  for (const [name, a] of Object.entries(arrays)) {
    if (!name.startsWith(tag + "/")) continue;
    own[name.slice(tag.length + 1)] = a;
    dims[name.slice(tag.length + 1)] = shapes[name];
    bytes += a.byteLength;
  }
  if (tag === "dec") return { id: info.id, spec: info.spec, decoder: buildDecoder(info.spec, own), bytes };
  return {
    id: info.id, n: info.n, d: info.d, classes: info.classes, colors: info.colors, bytes,
    mu: own.mu, labels: own.labels || null, marks: own.marks || null, pcaMean: own.pca_mean || null, pcaComponents: own.pca_components || null,
  };
}

// data (the component's bytes) -> {meta, dec, pts}: new parts are built and cached; dec / pts are
// the parts the meta names, or null while the browser does not hold them yet.
function receive(data) {
  const t0 = performance.now();
  const { meta, arrays, shapes } = parseBundle(data);
  for (const [tag, info] of Object.entries(meta.include || {})) {
    LIVE.parts.delete(info.id);
    LIVE.parts.set(info.id, partOf(tag, info, arrays, shapes));
  }
  if (meta.include) LIVE.builds.push({ at: t0, ms: performance.now() - t0, bytes: data.byteLength, ids: Object.keys(meta.include) });
  while (LIVE.parts.size > KEEP_PARTS) LIVE.parts.delete(LIVE.parts.keys().next().value);
  const get = (tag) => (meta.parts && meta.parts[tag] ? LIVE.parts.get(meta.parts[tag]) || null : null);
  return { meta, dec: get("dec"), pts: get("pts") };
}

function haveIds() {
  return Array.from(LIVE.parts.keys());
}

function statsFor(name) {
  return LIVE.stats[name] || (LIVE.stats[name] = { paints: [], decodeMs: [], frames: 0 });
}

function recordPaint(stats, decodeMs) {
  stats.frames += 1;
  stats.paints.push(performance.now());
  stats.decodeMs.push(decodeMs);
  if (stats.paints.length > 4000) { stats.paints.splice(0, 2000); stats.decodeMs.splice(0, 2000); }
}

// Report the state Python reads, only when it changed (every report is a rerun).
function reportLive(owner, setStateValue, value) {
  const text = JSON.stringify(value);
  if (owner.reported === text) return;
  owner.reported = text;
  setStateValue("live", value);
}

function median(values) {
  if (!values.length) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Paint pixel means into a display canvas through a small canvas of the image's own size.
function imagePainter(display, shape) {
  const [, h, w] = shape;
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const sctx = small.getContext("2d"), dctx = display.getContext("2d");
  const image = sctx.createImageData(w, h);
  return (x) => {
    toRGBA(x, shape, image.data);
    sctx.putImageData(image, 0, 0);
    dctx.imageSmoothingEnabled = false;
    dctx.drawImage(small, 0, 0, display.width, display.height);
  };
}
