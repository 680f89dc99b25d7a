// The VAE decoder in plain JavaScript: pure math, no DOM, so it runs in a page, a worker or node.
//
// parseBundle(bytes) reads what vae/store/bundle.py packs (safetensors: an 8-byte little-endian header
// length, a JSON header, raw little-endian arrays; our JSON in __metadata__.meta).
// buildDecoder(spec, arrays) turns the layer list into decode(z, extra) -> pixel means in [0, 1],
// (C, H, W) row-major like torch. The input is [z, extra]: extra is an optional fixed vector (a
// conditional decoder's one-hot label) appended to z before the first layer.
// Sums are accumulated in float64 (JavaScript numbers). Weights arrive float32, float16 (widened to
// float32) or int8 with a float32 scale per row in "<name>.scale" (vae/store/compact.py); buildDecoder
// turns them back into float32 (dequantize).
// The Python side (components/*.py) prepends this file to each component's own script.

// erf(x) in float64: the Maclaurin series below |x| = 3 (at most ~45 terms, error ~1e-14), the
// continued fraction of erfc above it (error < 1e-16), so the exact GELU matches torch's far below
// the 1e-4 per pixel the tests allow.
export function erf(x) {
  const ax = Math.abs(x);
  if (ax < 3) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 60 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return 1.1283791670955126 * sum;  // 2 / sqrt(pi)
  }
  if (ax > 6) return x > 0 ? 1 : -1;
  let f = ax;  // erfc(ax) = exp(-ax^2) / sqrt(pi) / (ax + (1/2) / (ax + 1 / (ax + (3/2) / (ax + ...))))
  for (let k = 60; k >= 1; k--) f = ax + (k / 2) / f;
  const erfc = Math.exp(-ax * ax) * 0.5641895835477563 / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

// The engine the pad names in its status line. bench/engines.py measured the choice: onnxruntime-web's
// WebAssembly backend decodes the conv decoders about twice as fast again, but its first visit costs
// 11.5 MB of scripts and wasm; the SIMD kernel below is 545 bytes and keeps every decoder here well
// inside a 60 Hz frame (docs/benchmarks.md). WebGL in software (a machine without a GPU) is far slower.
export const ENGINE = "JavaScript";
export const ENGINE_SIMD = "WebAssembly SIMD convolutions";

// Activations by name, each made from its parameters (vae/models/layers.py PARAMS: the defaults when absent).
const ACTS = {
  relu: () => (v) => (v > 0 ? v : 0),
  tanh: () => Math.tanh,
  elu: (alpha = 1) => (v) => (v > 0 ? v : alpha * Math.expm1(v)),
  sigmoid: () => (v) => 1 / (1 + Math.exp(-v)),
  gelu: () => (v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2)),
  gelu_tanh: () => (v) => 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))),
  leaky_relu: (slope = 0.01) => (v) => (v > 0 ? v : slope * v),
  softplus: (beta = 1) => (v) => (beta * v > 20 ? v : Math.log1p(Math.exp(beta * v)) / beta),  // torch's threshold 20
  silu: () => (v) => v / (1 + Math.exp(-v)),
  mish: () => (v) => v * Math.tanh(v > 20 ? v : Math.log1p(Math.exp(v))),
  hardtanh: (low = -1, high = 1) => (v) => (v < low ? low : v > high ? high : v),
};

// nn.Upsample on a channels-last (h, w, c) image by a whole factor: nearest (source pixel o // f), or
// bilinear with align_corners=False (source o + 0.5) / f - 0.5, clamped at 0 and at the last pixel).
function upsample(h, w, c, f, mode) {
  const ho = h * f, wo = w * f;
  const axis = (n, no) => {  // per output index: two source indices and the second's weight
    const i0 = new Int32Array(no), i1 = new Int32Array(no), t = new Float64Array(no);
    for (let o = 0; o < no; o++) {
      if (mode === "nearest") { i0[o] = i1[o] = Math.floor(o / f); continue; }
      const src = Math.max(0, (o + 0.5) / f - 0.5);
      i0[o] = Math.min(Math.floor(src), n - 1); i1[o] = Math.min(i0[o] + 1, n - 1); t[o] = src - i0[o];
    }
    return { i0, i1, t };
  };
  const ys = axis(h, ho), xs = axis(w, wo);
  return (x, y) => {
    for (let r = 0; r < ho; r++) {
      const a = ys.t[r], r0 = ys.i0[r] * w, r1 = ys.i1[r] * w;
      for (let col = 0; col < wo; col++) {
        const b = xs.t[col], c0 = xs.i0[col], c1 = xs.i1[col], out = (r * wo + col) * c;
        for (let ch = 0; ch < c; ch++) {
          const top = (1 - b) * x[(r0 + c0) * c + ch] + b * x[(r0 + c1) * c + ch];
          const bottom = (1 - b) * x[(r1 + c0) * c + ch] + b * x[(r1 + c1) * c + ch];
          y[out + ch] = (1 - a) * top + a * bottom;
        }
      }
    }
  };
}

// Bytes (Uint8Array or ArrayBuffer) in the bundle format -> {meta, arrays, shapes}. Every array is
// copied into its own aligned buffer, so the websocket message can be released.
export function parseBundle(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + headerLen)));
  const meta = header.__metadata__ && header.__metadata__.meta ? JSON.parse(header.__metadata__.meta) : {};
  const arrays = {}, shapes = {}, start = 8 + headerLen;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [a, b] = info.data_offsets;
    const copy = Uint8Array.prototype.slice.call(u8, start + a, start + b).buffer;  // a copy, also of a node Buffer
    if (info.dtype === "F32") arrays[name] = new Float32Array(copy);
    else if (info.dtype === "F16") arrays[name] = new Uint16Array(copy);  // widened by dequantize
    else if (info.dtype === "I8") arrays[name] = new Int8Array(copy);
    else if (info.dtype === "U8") arrays[name] = new Uint8Array(copy);
    else if (info.dtype === "I32") arrays[name] = new Int32Array(copy);
    else throw new Error(`bundle: unsupported dtype ${info.dtype} for ${name}`);
    shapes[name] = info.shape;
  }
  return { meta, arrays, shapes };
}

// IEEE half -> float32, through a table of all 65,536 halves (built once, 256 kB).
let HALF = null;
function widen(u16) {
  if (!HALF) {
    HALF = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
      HALF[h] = sign * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
    }
  }
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = HALF[u16[i]];
  return out;
}

// Arrays as parseBundle returns them -> float32 weights: float16 (a Uint16Array of halves) is
// widened; an Int8Array X with X.scale (one per first-axis row) becomes X * scale[row], and the
// scales themselves are dropped.
export function dequantize(arrays) {
  const out = {};
  for (const [name, a] of Object.entries(arrays)) {
    if (name.endsWith(".scale") && arrays[name.slice(0, -6)] instanceof Int8Array) continue;
    if (a instanceof Uint16Array) { out[name] = widen(a); continue; }
    if (!(a instanceof Int8Array)) { out[name] = a; continue; }
    const scale = arrays[`${name}.scale`];
    if (!scale) throw new Error(`bundle: int8 array ${name} has no scale`);
    const cols = a.length / scale.length, w = new Float32Array(a.length);
    for (let r = 0; r < scale.length; r++)
      for (let c = 0, i = r * cols; c < cols; c++, i++) w[i] = a[i] * scale[r];
    out[name] = w;
  }
  return out;
}

function linear(layer, W, B) {
  const n = layer.in, m = layer.out;
  return (x, y) => {
    for (let o = 0; o < m; o++) {
      let s = B[o];
      const row = o * n;
      for (let i = 0; i < n; i++) s += W[row + i] * x[i];
      y[o] = s;
    }
  };
}

// Convolutions run channels-last (HWC) as dot products: each output pixel's channels, four at a
// time held in locals, sum v * W over every (input pixel, kernel tap) that reaches the pixel and every
// input channel, the weights re-laid out once as [ky][kx][co][ci] so both sides of the inner loop are
// contiguous. (The first kernel scattered each input into the outputs' memory and skipped zero inputs;
// this one writes each output once and is 1.7-2x faster on the conv decoders, docs/benchmarks.md.)
// taps(n_out, n_in, k, s, p, transposed) lists, per output index, the (input index, kernel index)
// pairs: Conv2d i = o + t - p; ConvTranspose2d o = i * s - p + t.
function taps(nOut, nIn, k, s, p, transposed) {
  const start = new Int32Array(nOut + 1), pairs = [];
  for (let o = 0; o < nOut; o++) {
    start[o] = pairs.length / 2;
    for (let t = 0; t < k; t++) {
      let i = o + t - p;
      if (transposed) {
        const num = o + p - t;
        if (num < 0 || num % s !== 0) continue;
        i = num / s;
      }
      if (i >= 0 && i < nIn) pairs.push(i, t);
    }
  }
  start[nOut] = pairs.length / 2;
  return { start, pairs: Int32Array.from(pairs) };
}

function convolution(layer, W, B, cin, h, w, hout, wout, transposed) {
  const k = layer.k, cout = layer.out, s = transposed ? layer.stride : 1, p = layer.padding;
  const Wd = new Float64Array(k * k * cout * cin);  // [tap][co][ci]: each output channel's taps as a contiguous dot
  for (let ci = 0; ci < cin; ci++)
    for (let co = 0; co < cout; co++)
      for (let t = 0; t < k * k; t++)
        Wd[(t * cout + co) * cin + ci] = W[(transposed ? ci * cout + co : co * cin + ci) * k * k + t];
  const rows = taps(hout, h, k, s, p, transposed), cols = taps(wout, w, k, s, p, transposed);
  const full = cout - (cout % 4);
  return (x, y) => {
    for (let oy = 0; oy < hout; oy++) {
      const r0 = rows.start[oy], r1 = rows.start[oy + 1];
      for (let ox = 0; ox < wout; ox++) {
        const ybase = (oy * wout + ox) * cout, c0 = cols.start[ox], c1 = cols.start[ox + 1];
        for (let co = 0; co < full; co += 4) {  // four output channels in registers over every tap and input channel
          let a0 = B[co], a1 = B[co + 1], a2 = B[co + 2], a3 = B[co + 3];
          for (let r = r0; r < r1; r++) {
            const iy = rows.pairs[2 * r], ky = rows.pairs[2 * r + 1];
            for (let c = c0; c < c1; c++) {
              const xb = (iy * w + cols.pairs[2 * c]) * cin;
              const wb = ((ky * k + cols.pairs[2 * c + 1]) * cout + co) * cin;
              for (let ci = 0; ci < cin; ci++) {
                const v = x[xb + ci];
                a0 += v * Wd[wb + ci]; a1 += v * Wd[wb + cin + ci]; a2 += v * Wd[wb + 2 * cin + ci]; a3 += v * Wd[wb + 3 * cin + ci];
              }
            }
          }
          y[ybase + co] = a0; y[ybase + co + 1] = a1; y[ybase + co + 2] = a2; y[ybase + co + 3] = a3;
        }
        for (let co = full; co < cout; co++) {
          let a = B[co];
          for (let r = r0; r < r1; r++) {
            const iy = rows.pairs[2 * r], ky = rows.pairs[2 * r + 1];
            for (let c = c0; c < c1; c++) {
              const xb = (iy * w + cols.pairs[2 * c]) * cin, wb = ((ky * k + cols.pairs[2 * c + 1]) * cout + co) * cin;
              for (let ci = 0; ci < cin; ci++) a += x[xb + ci] * Wd[wb + ci];
            }
          }
          y[ybase + co] = a;
        }
      }
    }
  };
}

// conv_simd.wat compiled by build_wasm.mjs: the same convolution in WebAssembly with 128-bit SIMD,
// four or eight output channels per vector pass, in float32. buildDecoder uses it for every
// convolution when the browser validates the module (SIMD: Chrome 91, Firefox 89, Safari 16.4), else
// the JavaScript kernel above; ENGINE says which.
const CONV_WASM = "AGFzbQEAAAABEgFgDn9/f39/f39/f39/f39/AAMCAQAFAwEAAQcOAgNtZW0CAARjb252AAAK6QMB5gMDDn8CewF/IAxBAnQhGyAMQQdxRSEeA0BBACEPA0AgASAOIAlsIA9qIAxsQQJ0aiEaQQAhEANAIAMgEEECdGr9AAQAIRwgAyAQQQJ0av0ABBAhHSAEIA5BAnRqKAIAIREgBCAOQQJ0aigCBCESAkADQCARIBJODQEgBSARQQN0aigCACEVIAUgEUEDdGooAgQhFiAGIA9BAnRqKAIAIRMgBiAPQQJ0aigCBCEUAkADQCATIBRODQEgACAVIApsIAcgE0EDdGooAgBqIAtsQQJ0aiEXIAIgFiANbCAHIBNBA3RqKAIEaiALbCAMbCAQakECdGohGCALIRkgHgRAA0AgHCAX/QkCACAY/QAEAP3mAf3kASEcIB0gF/0JAgAgGP0ABBD95gH95AEhHSAXQQRqIRcgGCAbaiEYIBlBAWshGSAZDQALBQNAIBwgF/0JAgAgGP0ABAD95gH95AEhHCAXQQRqIRcgGCAbaiEYIBlBAWshGSAZDQALCyATQQFqIRMMAAsLIBFBAWohEQwACwsgGiAQQQJ0aiAc/QsEACAeBEAgGiAQQQJ0aiAd/QsEECAQQQhqIRAFIBBBBGohEAsgECAMSA0ACyAPQQFqIQ8gDyAJSA0ACyAOQQFqIQ4gDiAISA0ACws=";
let WASM_MODULE;  // compiled once per page (a few hundred bytes: allowed on the main thread)

function simdModule() {
  if (WASM_MODULE !== undefined) return WASM_MODULE;
  WASM_MODULE = null;
  try {
    const bytes = Uint8Array.from(atob(CONV_WASM), (c) => c.charCodeAt(0));
    if (typeof WebAssembly === "object" && bytes.length && WebAssembly.validate(bytes)) WASM_MODULE = new WebAssembly.Module(bytes);
  } catch (e) {
    WASM_MODULE = null;  // no WebAssembly, or no SIMD: the JavaScript kernel
  }
  return WASM_MODULE;
}

// One instance per decoder (its own memory), its regions handed out by a bump allocator while the
// decoder is built; the memory never grows after that, so the views stay valid.
function simdKernel() {
  const module = simdModule();
  if (!module) return null;
  const inst = new WebAssembly.Instance(module, {});
  const mem = inst.exports.mem;
  let top = 64;
  const alloc = (bytes) => {
    const at = top;
    top = (top + bytes + 32 + 15) & ~15;  // 32 spare bytes: the kernel reads a bias vector past a 4-channel end
    const need = Math.ceil(top / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);
    return at;
  };
  return { conv: inst.exports.conv, mem, alloc };
}

function convolutionSimd(kern, layer, W, B, cin, h, w, hout, wout, transposed) {
  const k = layer.k, cout = layer.out, s = transposed ? layer.stride : 1, p = layer.padding;
  const coP = (cout + 3) & ~3;  // the kernel works in blocks of four output channels
  const rows = taps(hout, h, k, s, p, transposed), cols = taps(wout, w, k, s, p, transposed);
  const at = {
    x: kern.alloc(4 * h * w * cin), y: kern.alloc(4 * hout * wout * coP), wt: kern.alloc(4 * k * k * cin * coP),
    b: kern.alloc(4 * coP), rs: kern.alloc(4 * rows.start.length), rp: kern.alloc(4 * rows.pairs.length),
    cs: kern.alloc(4 * cols.start.length), cp: kern.alloc(4 * cols.pairs.length),
  };
  const f32 = () => new Float32Array(kern.mem.buffer), i32 = () => new Int32Array(kern.mem.buffer);
  const wt = f32().subarray(at.wt / 4, at.wt / 4 + k * k * cin * coP);  // [ky][kx][ci][co], co padded with zeros
  for (let ci = 0; ci < cin; ci++)
    for (let co = 0; co < cout; co++)
      for (let t = 0; t < k * k; t++) wt[(t * cin + ci) * coP + co] = W[(transposed ? ci * cout + co : co * cin + ci) * k * k + t];
  f32().set(B, at.b / 4);
  i32().set(rows.start, at.rs / 4); i32().set(rows.pairs, at.rp / 4);
  i32().set(cols.start, at.cs / 4); i32().set(cols.pairs, at.cp / 4);
  const n = hout * wout;
  return (x, y) => {
    const f = new Float32Array(kern.mem.buffer);
    f.set(x, at.x / 4);
    kern.conv(at.x, at.y, at.wt, at.b, at.rs, at.rp, at.cs, at.cp, hout, wout, w, cin, coP, k);
    const out = at.y / 4;
    if (coP === cout) {
      y.set(f.subarray(out, out + n * cout));
    } else {
      for (let i = 0; i < n; i++) for (let co = 0; co < cout; co++) y[i * cout + co] = f[out + i * coP + co];
    }
  };
}

function toChannelsLast([c, h, w]) {  // (C, H, W) -> (H, W, C)
  return (x, y) => {
    for (let ch = 0; ch < c; ch++)
      for (let r = 0; r < h; r++)
        for (let col = 0; col < w; col++) y[(r * w + col) * c + ch] = x[(ch * h + r) * w + col];
  };
}

function crop(from, to, channelsLast) {  // keep the top-left (C, H, W) of a (C, H', W') buffer -> (C, H, W)
  const [c, h, w] = to, [, hf, wf] = from;
  return (x, y) => {
    for (let ch = 0; ch < c; ch++)
      for (let r = 0; r < h; r++)
        for (let col = 0; col < w; col++)
          y[(ch * h + r) * w + col] = channelsLast ? x[(r * wf + col) * c + ch] : x[(ch * hf + r) * wf + col];
  };
}

// spec = {layers, input, output} from vae/store/bundle.py; arrays by name. Returns
// {input, output, decode(z, extra) -> Float64Array (C*H*W), reused between calls}.
export function buildDecoder(spec, encoded, { simd = true } = {}) {
  const arrays = dequantize(encoded);
  const kern = simd && spec.layers.some((l) => l.op === "conv" || l.op === "conv_transpose") ? simdKernel() : null;
  const steps = [];  // [fn(x, y), size of y]; elementwise ops run in place (fn(x) only)
  let shape = [spec.input];  // the current activation's shape, (C, H, W) for images
  let channelsLast = false;  // images are stored (H, W, C) between a reshape and the crop
  const size = () => shape.reduce((a, b) => a * b, 1);
  const need = (name) => {
    if (!arrays[name]) throw new Error(`bundle: missing array ${name}`);
    return arrays[name];
  };
  for (const layer of spec.layers) {
    if (layer.op === "linear") {
      if (size() !== layer.in) throw new Error(`linear expects ${layer.in} inputs, has ${size()}`);
      steps.push([linear(layer, need(layer.w), need(layer.b)), layer.out]);
      shape = [layer.out];
    } else if (layer.op === "act" || layer.op === "sigmoid" || layer.op === "unsign") {
      const make = layer.op === "sigmoid" ? ACTS.sigmoid : layer.op === "unsign" ? () => (v) => (v + 1) / 2 : ACTS[layer.fn];
      if (!make) throw new Error(`unknown activation ${layer.fn}`);
      const f = make(...(layer.params || []));
      steps.push([(x) => { for (let i = 0; i < x.length; i++) x[i] = f(x[i]); }, 0]);
    } else if (layer.op === "affine") {
      const W = need(layer.w), B = need(layer.b), c = layer.channels;
      if (shape[0] !== c) throw new Error(`affine scales ${c} channels, has ${shape[0]}`);
      const inner = shape.length === 3 && !channelsLast ? shape[1] * shape[2] : 1;  // (C, H, W) before a reshape
      steps.push([(x) => {
        for (let i = 0; i < x.length; i++) {
          const ch = channelsLast ? i % c : Math.floor(i / inner) % c;
          x[i] = x[i] * W[ch] + B[ch];
        }
      }, 0]);
    } else if (layer.op === "upsample") {
      const [c, h, w] = shape;
      if (!channelsLast || shape.length !== 3) throw new Error("upsample needs an image");
      steps.push([upsample(h, w, c, layer.factor, layer.mode), c * h * w * layer.factor * layer.factor]);
      shape = [c, h * layer.factor, w * layer.factor];
    } else if (layer.op === "reshape") {
      if (layer.shape.reduce((a, b) => a * b, 1) !== size()) throw new Error("reshape changes the size");
      shape = layer.shape.slice();
      steps.push([toChannelsLast(shape), size()]);
      channelsLast = true;
    } else if (layer.op === "conv_transpose" || layer.op === "conv") {
      const [cin, h, w] = shape;
      if (cin !== layer.in || !channelsLast) throw new Error(`${layer.op} expects ${layer.in} channels, has ${cin}`);
      const t = layer.op === "conv_transpose";
      const hout = t ? (h - 1) * layer.stride - 2 * layer.padding + layer.k + layer.output_padding : h + 2 * layer.padding - layer.k + 1;
      const wout = t ? (w - 1) * layer.stride - 2 * layer.padding + layer.k + layer.output_padding : w + 2 * layer.padding - layer.k + 1;
      const conv = kern ? convolutionSimd.bind(null, kern) : convolution;
      steps.push([conv(layer, need(layer.w), need(layer.b), cin, h, w, hout, wout, t), layer.out * hout * wout]);
      shape = [layer.out, hout, wout];
    } else if (layer.op === "crop") {
      steps.push([crop(shape, layer.shape, channelsLast), layer.shape.reduce((a, b) => a * b, 1)]);
      shape = layer.shape.slice();
      channelsLast = false;
    } else {
      throw new Error(`unknown layer ${layer.op}`);
    }
  }
  if (channelsLast) {  // no crop at the end: back to (C, H, W)
    steps.push([crop(shape, shape, true), size()]);
  }
  // one buffer per producing step, allocated once: a frame allocates nothing
  const input = new Float64Array(spec.input);
  const buffers = steps.map(([, n]) => (n ? new Float64Array(n) : null));
  const outSize = size();
  return {
    input: spec.input,
    output: spec.output,
    engine: kern ? ENGINE_SIMD : ENGINE,
    decode(z, extra) {
      const nz = z.length, ne = extra ? extra.length : 0;
      if (nz + ne !== spec.input) throw new Error(`decoder takes ${spec.input} inputs, got ${nz} + ${ne}`);
      for (let i = 0; i < nz; i++) input[i] = z[i];
      for (let i = 0; i < ne; i++) input[nz + i] = extra[i];
      let x = input;
      for (let s = 0; s < steps.length; s++) {
        const [fn] = steps[s], y = buffers[s];
        if (y) { fn(x, y); x = y; } else fn(x);
      }
      if (x.length !== outSize) throw new Error("decoder output size mismatch");
      return x;
    },
  };
}

// A point on the path from z0 to z1 at t in [0, 1]: "linear", or "spherical" (slerp), falling back
// to linear for near-zero or near-parallel ends, exactly as vae/inference/latent.py interpolate does.
export function pathPoint(z0, z1, t, method, out) {
  const d = z0.length, y = out || new Float64Array(d);
  let dot = 0, n0 = 0, n1 = 0;
  for (let i = 0; i < d; i++) { dot += z0[i] * z1[i]; n0 += z0[i] * z0[i]; n1 += z1[i] * z1[i]; }
  n0 = Math.sqrt(n0); n1 = Math.sqrt(n1);
  if (method === "spherical" && n0 > 1e-8 && n1 > 1e-8) {
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / (n0 * n1))));
    if (Math.sin(omega) > 1e-6) {
      const a = Math.sin((1 - t) * omega) / Math.sin(omega), b = Math.sin(t * omega) / Math.sin(omega);
      for (let i = 0; i < d; i++) y[i] = a * z0[i] + b * z1[i];
      return y;
    }
  }
  for (let i = 0; i < d; i++) y[i] = (1 - t) * z0[i] + t * z1[i];
  return y;
}

// Pixel means (C, H, W) in [0, 1] -> RGBA bytes for an ImageData (grey for C = 1). The array is
// a Uint8ClampedArray, which rounds x * 255 to the nearest level and clips.
export function toRGBA(x, shape, rgba) {
  const [c, h, w] = shape, n = h * w;
  for (let i = 0; i < n; i++) {
    const r = x[i];
    rgba[4 * i] = r * 255;
    rgba[4 * i + 1] = (c === 3 ? x[n + i] : r) * 255;
    rgba[4 * i + 2] = (c === 3 ? x[2 * n + i] : r) * 255;
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}
