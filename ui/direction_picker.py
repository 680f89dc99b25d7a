"""The direction control every page shares: pick a direction saved with the model, or make one on
the spot (between two classes, along a property, a principal direction of the codes). Returns the
vector and its quality; the finding is cached per model and data (ui/resources.direction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import resources
from vae.data import images
from vae.inference import directions as dirs
from vae.inference import latent
from vae.store import catalog as store
from vae.store import saved_directions

SOURCES = {
    "none": "none",
    "saved": "saved with the model",
    "classes": "from one class to another",
    "groups": "between two values of a column",
    "property": "along a property",
    "principal": "a principal direction",
}


@dataclass
class Picked:
    name: str  # how the pages label it: "3 -> 8", "brightness", "PC1", a saved name
    direction: dirs.Direction

    @property
    def vector(self) -> np.ndarray:
        return self.direction.vector

    def summary(self) -> str:
        """Its quality in one line, with the 2-D caveat where it applies."""
        caveat = len(self.vector) == 2 and "transfer" in self.direction.quality
        two_d = "; in a 2-D latent the classes are curved regions: one vector cannot carry all of one"
        return self.direction.summary() + (two_d if caveat else "")


def direction_ui(ctx, key: str, container=None, *, allow_none: bool = True, url: bool = False) -> Picked | None:
    """The control in `container` (default: the page); None when no direction is chosen. url: the
    choice is kept in the page's URL (?dir=...) and a shared link opens on it."""
    box = container or st
    if url:
        _from_url(key)
    ds = ctx.dataset("train")
    sources = [s for s in SOURCES if (allow_none or s != "none") and (s != "classes" or ds.labels is not None)]
    sources = [s for s in sources if s != "groups" or ds.columns]
    saved = _saved(ctx)
    if not saved:
        sources = [s for s in sources if s != "saved"]
    source = box.selectbox("Direction", sources, format_func=SOURCES.get, key=f"{key}_source")
    try:
        picked = _pick(ctx, key, box, source, saved, ds)
    except (dirs.DirectionError, store.StoreError) as e:
        box.error(f"No direction: {e}")
        picked = None
    if url:
        _to_url(key, source)
    return picked


_URL_KEYS = {
    "saved": ("saved",),
    "classes": ("from", "to"),
    "groups": ("column", "gfrom", "gto"),
    "property": ("property",),
    "principal": ("pc",),
}


def _to_url(key: str, source: str) -> None:
    """?dir=classes:3:8, saved:NAME, property:brightness, principal:0 (none: no parameter)."""
    if source == "none":
        st.query_params.pop("dir", None)
        return
    values = [str(st.session_state.get(f"{key}_{part}", "")) for part in _URL_KEYS[source]]
    st.query_params["dir"] = ":".join([source, *values])


def _from_url(key: str) -> None:
    """A shared link's ?dir= into the control's keys, once per session (the widgets then take over)."""
    text = st.query_params.get("dir")
    if not text or f"{key}_source" in st.session_state:
        return
    source, *values = text.split(":")
    if source not in _URL_KEYS or len(values) != len(_URL_KEYS[source]):
        return
    st.session_state[f"{key}_source"] = source
    for part, value in zip(_URL_KEYS[source], values):
        st.session_state[f"{key}_{part}"] = int(value) if part in ("from", "to", "pc") and value.isdigit() else value


def _pick(ctx, key: str, box, source: str, saved: dict, ds) -> Picked | None:
    if source == "none":
        return None
    if source == "saved":
        name = box.selectbox("Saved direction", list(saved), key=f"{key}_saved")
        return Picked(name, dirs.Direction.from_dict(saved[name]))
    if source == "classes":
        names = ds.class_names or [str(c) for c in range(int(ds.labels.max()) + 1)]
        left, right = box.columns(2)
        a = left.selectbox("From", range(len(names)), format_func=lambda i: names[i], key=f"{key}_from")
        b = right.selectbox("To", range(len(names)), index=min(1, len(names) - 1), format_func=lambda i: names[i],
                            key=f"{key}_to")  # fmt: skip
        if a == b:
            raise dirs.DirectionError("pick two different classes")
        made = resources.direction(ctx.ref, ("groups", f"label={int(a)}", f"label={int(b)}", "mean", None))
        return Picked(f"{names[a]} → {names[b]}", dirs.Direction.from_dict(made))
    if source == "groups":
        return _groups(ctx, key, box, ds)
    if source == "property":
        props = ["brightness"] + (["saturation", "hue"] if ctx.info.config.image_shape[0] == 3 else [])
        prop = box.selectbox("Property", props, key=f"{key}_property")
        return Picked(prop, dirs.Direction.from_dict(resources.direction(ctx.ref, ("property", prop))))
    k = min(ctx.latent_dim, 5)
    i = box.selectbox("Component", range(k), format_func=lambda j: f"PC{j + 1}", key=f"{key}_pc")
    return Picked(f"PC{i + 1}", dirs.Direction.from_dict(resources.direction(ctx.ref, ("principal", k, int(i)))))


def pad_direction_ui(ctx, key: str, box) -> Picked | None:
    """The Playground's direction (kept in the URL) in `box`: the live pad gets a slider along it."""
    picked = direction_ui(ctx, key, box, url=True)
    if picked is not None:
        box.caption(f"The slider under the image moves z along {picked.name}: {picked.summary()}.")
    return picked


EDIT_AMOUNTS = (-3, -2, -1, 0, 1, 2, 3)  # multiples of the vector in an edit strip


def edit_strip_ui(ctx, picked: Picked, z, name: str, key: str) -> None:
    """One code moved along the picked direction, -3 to +3 times its vector (its reconstruction in
    the middle), decoded on the server, with a PNG download."""
    strip = latent.decode(ctx.model, dirs.edit(z, picked.vector, EDIT_AMOUNTS))
    picture = images.tile(strip, ncols=len(EDIT_AMOUNTS), pad=1)
    st.markdown(f"**{name} along {picked.name}** (amounts {', '.join(f'{a:+d}' for a in EDIT_AMOUNTS)})")
    st.image(images.to_png(picture, scale=max(1, 840 // picture.shape[1])), width="stretch")
    file = f"{ctx.name}-{name}-{picked.name}.png".replace(" ", "_").replace("→", "to")
    st.download_button("Strip (PNG)", images.to_png(picture, scale=4), file_name=file, mime="image/png", key=key)


def _groups(ctx, key: str, box, ds) -> Picked:
    """Two values of a metadata column (emoji: vendor, skin tone), balanced over the label when the data
    has one (only people have skin tones: unbalanced, the vector would also move towards People & Body)."""
    column = box.selectbox("Column", [c for c in ds.columns if c != "emoji"], key=f"{key}_column")
    values = sorted(set(ds.columns[column]))
    left, right = box.columns(2)
    a = left.selectbox("From", values, key=f"{key}_gfrom")
    b = right.selectbox("To", values, index=min(1, len(values) - 1), key=f"{key}_gto")
    if a == b:
        raise dirs.DirectionError("pick two different values")
    method, balance = ("balanced", "label") if ds.labels is not None else ("mean", None)
    made = resources.direction(ctx.ref, ("groups", f"{column}={a}", f"{column}={b}", method, balance))
    return Picked(f"{column} {a} → {b}", dirs.Direction.from_dict(made))


def _saved(ctx) -> dict:
    try:
        saved = saved_directions.list_directions(ctx.name, resources.models_dir())
    except store.StoreError:
        return {}
    return {n: d for n, d in saved.items() if len(d.get("vector") or []) == ctx.latent_dim}
