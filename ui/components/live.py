"""What the live components (latent_pad, latent_path) share on the Python side: the bundle parts
they send to the browser, which ones to send, and what the browser's reports mean.

A part is (id, meta, arrays), its id a digest of its content ("dec-<16 hex>", "pts-<16 hex>"). The
browser reports the ids it holds in its state "live" ({"ok", "have", "error"}); a part goes into
`data` only when the browser lacks it. On a first mount (no report yet) the browser is assumed to
hold what this session already sent (live.js keeps parts page-wide in globalThis.__vaeLive) and
what its cookie "vae_live" lists: the parts it stored in IndexedDB on an earlier visit. If it does
not, its report says so and they are sent on the next run. So the weights reach a browser once per
model version, not once per visit.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from ui import resources
from vae.plots import explore as plots
from vae.store import bundle

SENT = "live_parts_sent"  # session key: ids of the parts already sent to this browser session
COOKIE = "vae_live"  # the ids of the parts the browser stored (live.js writes it)
_ID = re.compile(r"[a-z]+-[0-9a-f]{16}")


def decoder_part(ctx: resources.Current) -> tuple[str, dict, dict] | str:
    """(id, meta, arrays) of the model's decoder for the browser, or why it cannot run there."""
    try:
        spec, arrays = resources.browser_decoder(ctx.ref)
    except bundle.BundleError as e:
        return str(e)
    return f"dec-{spec['digest']}", {"spec": spec}, arrays


def points_part(ctx: resources.Current) -> tuple[str, dict, dict]:
    """(id, meta, arrays): latent means of the test split, labels, class names, the PCA plane, a
    class-prior model's prior means ("marks", one per class) and, for a plain VAE, the posteriors the
    pad's hole map is drawn from (hole_components)."""
    mu, sigma = ctx.encoded("test")
    ds = ctx.dataset("test")
    arrays = {"mu": mu.astype(np.float32)}
    if ctx.info.config.kind.plain_networks:  # q(z) against N(0, I): the prior of a plain VAE only
        arrays["hole_mu"], arrays["hole_logsig"] = hole_components(mu, sigma)
    meta = {"n": int(len(mu)), "d": int(mu.shape[1]), "classes": None, "colors": list(plots.LABEL_COLORS)}
    if ds.labels is not None:
        arrays["labels"] = np.asarray(ds.labels).astype(np.uint8)
        meta["classes"] = [str(c) for c in ds.class_names] if ds.class_names else None
    means = getattr(ctx.model, "prior_means", None)  # a class-prior model: its mu_y, marked on the map
    if means is not None:
        arrays["marks"] = means.detach().cpu().numpy().astype(np.float32)
    if mu.shape[1] > 2:
        plane = resources.projection(ctx.ref, "test", "pca")
        arrays["pca_mean"], arrays["pca_components"] = plane.mean, plane.components
    return f"pts-{bundle.digest(arrays, meta)}", meta, arrays


HOLE_COMPONENTS = 2000  # posteriors in the pad's q(z): vae.inference.aggregate.log_ratio's n_max
HOLE_FLOATS = 65_536  # at most this many floats each for mu and log sigma (a 64-D latent: 1,024 posteriors)


def hole_components(mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subsample of the codes' posteriors (mu, log sigma as float32) for the pad's hole map,
    which evaluates log q(z) - log p(z) in the browser (pad_map.js logRatio) at 48 x 48 points."""
    m = min(len(mu), HOLE_COMPONENTS, max(256, HOLE_FLOATS // mu.shape[1]))
    keep = np.sort(np.random.default_rng(0).choice(len(mu), m, replace=False))
    return mu[keep].astype(np.float32), np.log(sigma[keep]).astype(np.float32)


def _pack(parts: dict, have: set[str], meta: dict, arrays: dict) -> tuple[bytes, list[str]]:
    """Pack the parts the browser lacks (prefixing their arrays "part/") and `arrays` with the run's meta."""
    arrays, sent = dict(arrays), []
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


def stored_ids(cookie: str | None) -> set[str]:
    """The part ids a vae_live cookie lists (anything that is not an id is ignored)."""
    return {t for t in (cookie or "").split(".") if _ID.fullmatch(t)}


def browser_stored() -> set[str]:
    """The parts this session's browser said (by its cookie, when the session began) it stored."""
    try:
        return stored_ids(st.context.cookies.get(COOKIE))
    except (AttributeError, RuntimeError):  # no browser behind the session (a bare script run)
        return set()


def payload(parts: dict, state: dict | None, meta: dict, preview: bytes | None = None) -> bytes:
    """The component's data: meta plus the parts the browser does not hold, and `preview` (a PNG of
    the server's decode) while the browser may not have a decoder to paint with yet."""
    if state and state.get("have") is not None:
        have = set(state["have"])
    else:
        have = set(st.session_state.get(SENT, ())) | browser_stored()
    meta["parts"] = {}
    lacking = state is None or not {pid for pid, _, _ in parts.values()} <= have
    shown = {"preview": np.frombuffer(preview, np.uint8)} if preview is not None and lacking else {}
    data, sent = _pack(parts, have, meta, shown)
    st.session_state[SENT] = sorted(set(st.session_state.get(SENT, ())) | set(sent))
    return data


def status(dec, mounted: bool, state: dict | None) -> str:
    """ "live", "starting" (no report yet on a first run) or why the browser does not decode."""
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
        note.info(
            f"Live decoding is not running: {status_text}. The sliders below decode on the server.",
            icon=":material/info:",
        )
    return running
