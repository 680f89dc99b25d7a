"""AppTest: the live pad's side of the protocol, without a browser (ui/components/live.py).

The decoder's weights go into the component's data on a first mount and never again once the
browser reports holding them; a browser that never reports gets the server-side page and one note.
"""

import pytest
from streamlit.testing.v1 import AppTest

from vae.store import bundle

PAD = "pg_pad_default"


@pytest.fixture
def playground():
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    return at


def _payload(at) -> tuple[dict, dict, int]:
    (pad,) = [e for e in at.get("bidi_component") if e.proto.component_name == "vae_explorer.latent_pad"]
    blob = pad.proto.bytes
    arrays, meta = bundle.unpack(blob)
    return arrays, meta, len(blob)


def test_weights_are_sent_once_then_only_z(playground):
    arrays, meta, size = _payload(playground)
    assert set(meta["include"]) == {"dec", "pts"} and size > 1_000_000  # 784-512-2: 1.3 MB as float16
    assert {"dec/body.0.w", "dec/out.w", "pts/mu", "pts/labels"} <= set(arrays)
    assert meta["z"] == [0.0, 0.0] and meta["include"]["dec"]["spec"]["input"] == 2
    # the browser reports what it holds (what latent_pad.js does after reading the data)
    playground.session_state[PAD] = {
        "live": {"ok": True, "have": list(meta["parts"].values()), "error": None},
        "z": None,
    }
    playground.run()
    arrays, meta2, size = _payload(playground)
    assert not arrays and "include" not in meta2 and size < 2_000, size  # no weights again
    assert meta2["parts"] == meta["parts"]
    assert any("on the server" in e.label for e in playground.expander) and not playground.info
    playground.button(key="pg_sample").click().run()  # a server-side z: a new sequence number
    _, meta3, size = _payload(playground)
    assert meta3["seq"] > meta2["seq"] and meta3["z"] != meta2["z"] and size < 2_000


def test_a_browser_that_never_answers_gets_the_server_page_and_one_note(playground):
    assert not playground.info  # first run: the script may still start
    playground.slider[0].set_value(1.0).run()
    notes = [i.value for i in playground.info if "Live decoding is not running" in i.value]
    assert len(notes) == 1
    assert playground.get("image"), "the server decodes"
    _, meta, size = _payload(playground)
    assert "include" not in meta and size < 2_000  # already sent this session: not again


def test_the_cookie_names_only_well_formed_part_ids():
    from ui.components import live

    assert live.stored_ids("dec-0123456789abcdef.pts-fedcba9876543210") == {
        "dec-0123456789abcdef",
        "pts-fedcba9876543210",
    }
    assert live.stored_ids(None) == set() and live.stored_ids("") == set()
    assert live.stored_ids("dec-xyz.dec:default:1.<script>.pts-0123456789abcdef") == {"pts-0123456789abcdef"}


def test_the_part_ids_are_digests_of_their_content(playground):
    _, meta, _ = _payload(playground)
    assert meta["parts"]["dec"].startswith("dec-") and meta["parts"]["pts"].startswith("pts-")
    assert meta["include"]["dec"]["spec"]["encoding"]["encoding"] == "float16"
    assert "preview" in bundle.unpack(playground.get("bidi_component")[0].proto.bytes)[0]  # the server's PNG


def _first_run_playground() -> AppTest:
    """A new session whose first run is the Playground (a reload, a shared link)."""
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/playground.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _first_run_shows_the_pad_alone(at) -> dict:
    _, meta, _ = _payload(at)
    assert set(meta["include"]) == {"dec", "pts"}  # the pad, with its weights
    assert not at.slider and not at.button and not at.sidebar.selectbox and not at.expander
    assert [c.value for c in at.sidebar.caption] == ["VAE Latent Explorer: loading the pages and the model picker…"]
    assert at.title[0].value == "Playground"
    return meta


def test_a_sessions_first_run_draws_the_pad_alone_and_the_rest_when_it_reports():
    at = _first_run_playground()
    meta = _first_run_shows_the_pad_alone(at)
    at.session_state[PAD] = {"live": {"ok": True, "have": list(meta["parts"].values()), "error": None}, "z": None}
    at.run()  # the pad's report (after its first frame) brings the whole page
    assert not at.exception
    assert at.sidebar.selectbox and len(at.slider) == 2 and at.button and not at.info
    _, meta2, size = _payload(at)
    assert "include" not in meta2 and size < 2_000  # no weights again


def test_a_first_run_whose_pad_never_reports_gets_the_server_page():
    """The pad's script blocked: the timer's rerun (here a plain rerun) draws the whole page, and
    the server decodes."""
    at = _first_run_playground()
    _first_run_shows_the_pad_alone(at)
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox and len(at.slider) == 2 and at.get("image")
    assert [i.value for i in at.info if "Live decoding is not running" in i.value]


def test_the_pad_reaches_as_far_as_the_codes_and_the_caption_is_rounded():
    """emoji-2d's test codes reach about 7 (past the prior's +-4): the pad and the sliders follow them;
    the server image's caption shows z as the pad does, two decimals, no float32 noise."""
    at = AppTest.from_file("../../app.py", default_timeout=120)
    at.session_state["model_name"] = "emoji-2d"
    at.run()
    at.switch_page("pages/playground.py").run()
    _, meta, _ = _payload(at)
    assert 7.0 <= meta["limit"] <= 8.0, meta["limit"]
    at.session_state[PAD] = {"live": {"ok": True, "have": list(meta["parts"].values()), "error": None}, "z": None}
    at.run()
    assert at.slider[0].max == meta["limit"]
    at.slider[0].set_value(2.53).run()
    assert any(c == "decode(z), z = [2.53, 0.00]" for im in at.image for c in im.captions), [
        c for im in at.image for c in im.captions
    ]
