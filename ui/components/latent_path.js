// The interpolation scrubber (ui/components/latent_path.py): the path from A to B decoded in the
// browser at any t, dragged with the slider or played (A to B and back, PLAY_MS each way), one
// decode per animation frame. decoder.js and live.js come first in the same module.

const PATHS = new WeakMap();
const PLAY_MS = 2500;  // one way, A to B

class PathPlayer {
  constructor(root) {
    const q = (s) => root.querySelector(s);
    this.el = { image: q(".path-image"), play: q(".path-play"), t: q(".path-t"), readout: q(".path-readout"),
      status: q(".path-status") };
    this.stats = statsFor("latent_path");
    this.dec = null; this.t = 0; this.dir = 1; this.playing = false; this.raf = 0; this.last = null;
    this.abort = new AbortController();
    const opts = { signal: this.abort.signal };
    this.el.t.addEventListener("input", () => { this.stop(); this.t = Number(this.el.t.value) / 1000; this.schedule(); }, opts);
    this.el.play.addEventListener("click", () => (this.playing ? this.stop() : this.start()), opts);
  }

  update(data) {
    this.data = data;
    const { meta, dec } = receive(data, () => { if (this.data === data) this.update(data); });
    if (meta.unsupported) {
      this.el.status.textContent = `Live decoding is off for this model: ${meta.unsupported}.`;
      reportLive(this, this.setStateValue, { ok: false, have: haveIds(), error: meta.unsupported });
      return;
    }
    reportLive(this, this.setStateValue, { ok: true, have: haveIds(), error: null });
    if (!dec) { this.el.status.textContent = "Loading the decoder…"; return; }
    if (dec !== this.dec) {
      this.dec = dec;
      this.paint = imagePainter(this.el.image, dec.spec.output);
    }
    this.z0 = Float64Array.from(meta.z_a); this.z1 = Float64Array.from(meta.z_b);
    this.z = new Float64Array(this.z0.length);
    this.method = meta.method; this.steps = meta.steps; this.extra = meta.extra;
    this.el.status.textContent = `Decoded in this browser at every frame (${meta.method} path); `
      + `the strip below shows the ${meta.steps} steps decoded on the server.`;
    this.schedule();
  }

  start() {
    this.playing = true; this.last = null; this.el.play.textContent = "Pause";
    if (this.t >= 1) this.dir = -1;
    if (this.t <= 0) this.dir = 1;
    this.schedule();
  }

  stop() {
    this.playing = false; this.el.play.textContent = "Play";
  }

  schedule() {
    if (!this.raf) this.raf = requestAnimationFrame((now) => this.frame(now));
  }

  frame(now) {
    this.raf = 0;
    if (!this.dec) return;
    if (this.playing) {
      if (this.last !== null) {
        this.t += this.dir * (now - this.last) / PLAY_MS;
        if (this.t >= 1) { this.t = 1; this.dir = -1; }
        if (this.t <= 0) { this.t = 0; this.dir = 1; }
      }
      this.last = now;
      this.el.t.value = String(Math.round(this.t * 1000));
    }
    pathPoint(this.z0, this.z1, this.t, this.method, this.z);
    const t0 = performance.now();
    const x = this.dec.decoder.decode(this.z, this.extra);
    recordPaint(this.stats, performance.now() - t0);
    this.paint(x);
    const step = this.t * (this.steps - 1);
    const at = Math.abs(step - Math.round(step)) < 1e-9 ? ` = step ${Math.round(step)} of the strip` : "";
    this.el.readout.textContent = `t = ${this.t.toFixed(3)}${this.t === 0 ? " (A)" : this.t === 1 ? " (B)" : ""}${at}`;
    if (this.playing) this.schedule();
  }

  destroy() {
    this.abort.abort();
    if (this.raf) cancelAnimationFrame(this.raf);
  }
}

export default function (component) {
  const root = component.parentElement;
  let player = PATHS.get(root);
  try {
    if (!player) { player = new PathPlayer(root); PATHS.set(root, player); }
    player.setStateValue = component.setStateValue;
    player.update(component.data);
  } catch (error) {
    const status = root.querySelector(".path-status");
    if (status) status.textContent = `Live decoding could not start: ${error.message}.`;
    reportLive(player || {}, component.setStateValue, { ok: false, have: haveIds(), error: String(error.message || error) });
  }
  return () => { if (player) { player.destroy(); PATHS.delete(root); } };
}
