"""What the live components (latent_pad, latent_path) share on the Python side: the bundle parts
they send to the browser, which ones to send, and what the browser's reports mean.

A part is (id, meta, arrays). The browser reports the ids it holds in its state "live"
({"ok", "have", "error"}); a part goes into `data` only when the browser lacks it. On a first
mount (no report yet) the parts this session already sent are assumed held (the browser keeps
them page-wide in globalThis.__vaeLive); if they are not, the report says so and they are sent on
the next run.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import resources
from vae.plots import explore as plots
from vae.store import bundle

SENT = "live_parts_sent"  # session key: ids of the parts already sent to this browser session


def decoder_part(ctx: resources.Current) -> tuple[str, dict, dict] | str:
    """(id, meta, arrays) of the model's decoder for the browser, or why it cannot run there."""
    try:
        spec, arrays = resources.browser_decoder(ctx.name, ctx.version, ctx.directory)
    except bundle.BundleError as e:
        return str(e)
    return f"dec:{ctx.name}:{ctx.version}", {"spec": spec}, arrays


def points_part(ctx: resources.Current) -> tuple[str, dict, dict]:
    """(id, meta, arrays): latent means of the test split, labels, class names, the PCA plane and a
    class-prior model's prior means ("marks", one per class)."""
    mu, _ = ctx.encoded("test")
    ds = ctx.dataset("test")
    arrays = {"mu": mu.astype(np.float32)}
    meta = {"n": int(len(mu)), "d": int(mu.shape[1]), "classes": None, "colors": list(plots.LABEL_COLORS)}
    if ds.labels is not None:
        arrays["labels"] = np.asarray(ds.labels).astype(np.uint8)
        meta["classes"] = [str(c) for c in ds.class_names] if ds.class_names else None
    means = getattr(ctx.model, "prior_means", None)  # a class-prior model: its mu_y, marked on the map
    if means is not None:
        arrays["marks"] = means.detach().cpu().numpy().astype(np.float32)
    if mu.shape[1] > 2:
        plane = resources.projection(ctx.name, ctx.version, ctx.directory, ctx.source, "test", "pca")
        arrays["pca_mean"], arrays["pca_components"] = plane.mean, plane.components
    return f"pts:{ctx.name}:{ctx.version}:{ctx.source}", meta, arrays


def _pack(parts: dict, have: set[str], meta: dict) -> tuple[bytes, list[str]]:
    """Pack the parts the browser lacks (prefixing their arrays "part/") with the run's meta."""
    arrays, sent = {}, []
    for tag, (pid, pmeta, parrays) in parts.items():
        meta["parts"][tag] = pid
        if pid not in have:
            meta.setdefault("include", {})[tag] = {"id": pid, **pmeta}
            arrays.update({f"{tag}/{k}": v for k, v in parrays.items()})
            sent.append(pid)
    return bundle.pack(arrays, meta), sent


def mount_state(key: str) -> tuple[bool, dict | None]:
    """(mounted before this run, the browser's last "live" report or None)."""
    mounted = key in st.session_state  # False on the first run of a mount
    return mounted, (st.session_state.get(key) or {}).get("live") if mounted else None


def payload(parts: dict, state: dict | None, meta: dict) -> bytes:
    """The component's data: meta plus the parts the browser does not hold."""
    have = set(state["have"]) if state and state.get("have") is not None else set(st.session_state.get(SENT, ()))
    meta["parts"] = {}
    data, sent = _pack(parts, have, meta)
    st.session_state[SENT] = sorted(set(st.session_state.get(SENT, ())) | set(sent))
    return data


def status(dec, mounted: bool, state: dict | None) -> str:
    """"live", "starting" (no report yet on a first run) or why the browser does not decode."""
    if isinstance(dec, str):
        return f"this model's decoder cannot run in the browser ({dec})"
    if state is None:
        return "starting" if not mounted else "the component's script did not start in this browser"
    return "live" if state.get("ok") else str(state.get("error") or "the browser could not start it")


def fallback_note(status_text: str) -> bool:
    """Whether the browser decodes (or may still start: a report never remounts the elements); if it
    does not, one note says why and that the server decodes. The note's slot is always there, so the
    elements below keep their places."""
    running = status_text in ("live", "starting")
    note = st.empty()
    if not running:
        note.info(f"Live decoding is not running: {status_text}. The sliders below decode on the server.",
                  icon=":material/info:")
    return running
