// What the live components share (prepended after decoder.js): a page-wide cache of the bundle
// parts Python sends once per model version, kept across visits, and the frame statistics tests and
// benchmarks read.
//
// globalThis.__vaeLive = {parts: Map(id -> part), stored: Set(id), stats: {name -> {paints, decodeMs,
// frames, previews (server pictures shown before the first frame), setupMs}}, builds: [{at, ms, bytes, ids, from}] (when parts arrived or were read back, how long that
// took, "data" or "stored")} lives as long as the browser tab, so a rerun, a page change and a remount
// reuse the weights. A "dec" part is {id, spec, decoder, bytes}; a "pts" part is {id, n, d, mu,
// labels, classes, colors, pcaMean, pcaComponents, marks (a class prior's means, K x d, or null),
// holes (pad_map.js's holeModel of a subsample of the codes' posteriors, or null)}.
//
// Across visits: every part that arrives is also written to IndexedDB ("vae-live", store "parts", by
// its content id), and the cookie vae_live lists the ids stored there. The server reads the cookie on
// a session's first run and leaves those parts out of the data; the page reads them back from
// IndexedDB. A part the cookie names but IndexedDB lacks (storage cleared) is dropped from the cookie
// and reported missing, so the server sends it on the next run.

const LIVE = globalThis.__vaeLive || (globalThis.__vaeLive = { parts: new Map(), stats: {}, builds: [] });
const KEEP_PARTS = 8;  // at most this many parts stay in memory (a few models' worth)
const KEEP_STORED = 12;  // and this many in IndexedDB
const COOKIE = "vae_live";
LIVE.stored = LIVE.stored || new Set(cookieIds());
LIVE.db = LIVE.db || openStore();
LIVE.recalls = LIVE.recalls || new Map();  // id -> promise of a part being read back

function cookieIds() {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}=`));
  return found ? found.slice(COOKIE.length + 1).split(".").filter((id) => /^[a-z]+-[0-9a-f]+$/.test(id)) : [];
}

function writeCookie() {
  document.cookie = `${COOKIE}=${Array.from(LIVE.stored).join(".")}; path=/; max-age=31536000; samesite=strict`;
}

function openStore() {  // -> Promise of the database, or null where IndexedDB is unavailable
  return new Promise((resolve) => {
    try {
      const req = indexedDB.open("vae-live", 1);
      req.onupgradeneeded = () => req.result.createObjectStore("parts", { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    } catch { resolve(null); }
  });
}

function request(req) {
  return new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });
}

// Write a part as it arrived (its encoded arrays), then keep the KEEP_STORED most recent and list
// them in the cookie. Failures (quota, private mode) only mean the part is sent again next visit.
async function remember(tag, info, own, dims) {
  const db = await LIVE.db;
  if (!db) return;
  try {
    const parts = db.transaction("parts", "readwrite").objectStore("parts");
    await request(parts.put({ id: info.id, tag, info, arrays: own, shapes: dims, at: Date.now() }));
    const all = await request(db.transaction("parts", "readonly").objectStore("parts").getAll());
    all.sort((a, b) => b.at - a.at);
    const old = all.slice(KEEP_STORED);
    if (old.length) {
      const store = db.transaction("parts", "readwrite").objectStore("parts");
      await Promise.all(old.map((r) => request(store.delete(r.id))));
    }
    LIVE.stored = new Set(all.slice(0, KEEP_STORED).map((r) => r.id));
    writeCookie();
  } catch { /* not stored: sent again on the next visit */ }
}

// Read a stored part back (a promise of the part, or null if it is not there).
function recall(id) {
  if (!LIVE.recalls.has(id)) {
    LIVE.recalls.set(id, (async () => {
      const t0 = performance.now();
      let record = null;
      try {
        const db = await LIVE.db;
        record = db ? await request(db.transaction("parts", "readonly").objectStore("parts").get(id)) : null;
      } catch { record = null; }
      LIVE.recalls.delete(id);
      if (!record) {
        LIVE.stored.delete(id);
        writeCookie();
        return null;
      }
      const part = build(record.tag, record.info, record.arrays);
      keep(id, part);
      const bytes = Object.values(record.arrays).reduce((a, x) => a + x.byteLength, 0);
      LIVE.builds.push({ at: t0, ms: performance.now() - t0, bytes, ids: [record.tag], from: "stored" });
      return part;
    })());
  }
  return LIVE.recalls.get(id);
}

function build(tag, info, own) {
  const bytes = Object.values(own).reduce((a, x) => a + x.byteLength, 0);
  if (tag === "dec") return { id: info.id, spec: info.spec, decoder: buildDecoder(info.spec, own), bytes };
  return {
    id: info.id, n: info.n, d: info.d, classes: info.classes, colors: info.colors, bytes,
    mu: own.mu, labels: own.labels || null, marks: own.marks || null, pcaMean: own.pca_mean || null, pcaComponents: own.pca_components || null,
    holes: own.hole_mu ? holeModel(own.hole_mu, own.hole_logsig, info.d) : null,
  };
}

function keep(id, part) {
  LIVE.parts.delete(id);
  LIVE.parts.set(id, part);
  while (LIVE.parts.size > KEEP_PARTS) LIVE.parts.delete(LIVE.parts.keys().next().value);
}

// data (the component's bytes) -> {meta, dec, pts, preview, waiting}: new parts are built, cached and stored;
// dec / pts are the parts the meta names, or null while the browser does not hold them yet. A named
// part that is stored but not in memory is read back, and onReady() runs when that is done (the
// caller then updates again from the same data; waiting says so); preview is the server's PNG of the
// same z, if sent.
function receive(data, onReady) {
  const t0 = performance.now();
  const { meta, arrays, shapes } = parseBundle(data);
  for (const [tag, info] of Object.entries(meta.include || {})) {
    const own = {}, dims = {};
    for (const [name, a] of Object.entries(arrays)) {
      if (!name.startsWith(tag + "/")) continue;
      own[name.slice(tag.length + 1)] = a;
      dims[name.slice(tag.length + 1)] = shapes[name];
    }
    keep(info.id, build(tag, info, own));
    setTimeout(() => remember(tag, info, own, dims), 50);  // after the first frame, not before it
  }
  if (meta.include) LIVE.builds.push({ at: t0, ms: performance.now() - t0, bytes: data.byteLength, ids: Object.keys(meta.include), from: "data" });
  const get = (tag) => (meta.parts && meta.parts[tag] ? LIVE.parts.get(meta.parts[tag]) || null : null);
  const waiting = Object.values(meta.parts || {}).filter((id) => !LIVE.parts.has(id) && LIVE.stored.has(id));
  if (waiting.length && onReady) Promise.all(waiting.map(recall)).then(onReady);
  return { meta, dec: get("dec"), pts: get("pts"), preview: arrays.preview || null, waiting: waiting.length > 0 };
}

// The ids this browser holds: in memory, or stored and not (yet) found missing.
function haveIds() {
  return Array.from(new Set([...LIVE.parts.keys(), ...LIVE.stored]));
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
