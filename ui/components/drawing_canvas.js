// The drawing canvas (ui/components/drawing_canvas.py): strokes in one of data.inks on data.paper
// (white on black for a grey model; a palette on white for a colour one); the PNG goes to Python
// in the state "png" after each stroke, null after Clear.
const STATES = new WeakMap();  // canvas -> {paper, ink, setup}: what the listeners read

export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  const paper = (data && data.paper) || "#000000", inks = (data && data.inks) || ["#ffffff"];
  const setup = `${paper}|${inks.join(",")}`;
  let state = STATES.get(canvas);
  if (state && state.setup === setup) return;  // the function runs again on every rerun: set up once
  const ctx = canvas.getContext("2d");
  const blank = () => { ctx.fillStyle = state.paper; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  if (state) {  // another model on the same canvas: other paper; a drawing on the old one is dropped
    Object.assign(state, { paper, ink: inks[0], setup });
    blank();
    if (data && data.png) setStateValue("png", null);
  } else {
    state = { paper, ink: inks[0], setup };
    STATES.set(canvas, state);
    blank();
    if (data && data.png) {  // remounted (page revisited): show the drawing Python still holds
      const img = new Image();
      img.onload = () => ctx.drawImage(img, 0, 0);
      img.src = data.png;
    }
    listen(canvas, ctx, state, blank, parentElement, setStateValue);
  }
  canvas.style.background = paper;
  ctx.lineWidth = data && data.brush ? data.brush : 18;
  ctx.lineCap = "round"; ctx.lineJoin = "round";
  const box = parentElement.querySelector(".inks");
  box.hidden = inks.length < 2;
  box.innerHTML = "";
  inks.forEach((colour, i) => {
    const b = document.createElement("button");
    Object.assign(b, { type: "button", className: "ink", title: colour });
    b.style.background = colour;
    b.setAttribute("role", "radio");
    b.setAttribute("aria-label", `ink ${colour}`);
    b.setAttribute("aria-checked", String(i === 0));
    b.addEventListener("click", () => {
      state.ink = colour;
      box.querySelectorAll(".ink").forEach((o) => o.setAttribute("aria-checked", String(o === b)));
    });
    box.appendChild(b);
  });
}

function listen(canvas, ctx, state, blank, root, setStateValue) {
  let drawing = false, last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const dot = (p) => {
    ctx.fillStyle = state.ink;
    ctx.beginPath(); ctx.arc(p[0], p[1], ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill();
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; last = at(e); dot(last); canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.strokeStyle = state.ink;
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    setStateValue("png", canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  root.querySelector("button.clear").addEventListener("click", () => {
    blank();
    setStateValue("png", null);
  });
}
