// The drawing canvas (ui/components/drawing_canvas.py): strokes in white on black; the PNG goes to
// Python in the state "png" after each stroke, null after Clear.
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  if (canvas.dataset.ready) return;  // the function runs again on every rerun: wire it once
  canvas.dataset.ready = "1";
  const ctx = canvas.getContext("2d");
  const blank = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  blank();
  if (data && data.png) {  // remounted (page revisited): show the drawing Python still holds
    const img = new Image();
    img.onload = () => ctx.drawImage(img, 0, 0);
    img.src = data.png;
  }
  ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
  ctx.lineWidth = data && data.brush ? data.brush : 18;
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  let drawing = false, last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const dot = (p) => { ctx.beginPath(); ctx.arc(p[0], p[1], ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; last = at(e); dot(last); canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    ctx.fillStyle = "#fff";
    setStateValue("png", canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  parentElement.querySelector("button").addEventListener("click", () => {
    blank(); ctx.fillStyle = "#fff";
    setStateValue("png", null);
  });
}
