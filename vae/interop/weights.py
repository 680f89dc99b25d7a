"""State dicts from other code, read without running anything.

- .safetensors: the header is parsed and checked (JSON, duplicate names, float dtypes, offsets and
  sizes against the file and the limits) before any tensor is read.
- A BatchNorm's `num_batches_tracked` (one integer) is the only non-float tensor read; it is set
  aside, since an eval-mode BatchNorm uses only its running statistics, weight and bias.
- .pt / .pth / .bin / .ckpt: the file size capped first, then torch.load(weights_only=True,
  map_location="cpu"): torch's restricted unpickler refuses any global other than tensors and plain
  containers, so a pickled module or a payload is never executed; every value must be a tensor.
Every refusal is a StoreError whose sentence names what was wrong.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors

from vae import limits
from vae.store.modelfiles import StoreError

STATE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SUFFIXES = (".safetensors", *STATE_SUFFIXES)
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
COUNTER_BYTES = {"I64": 8, "I32": 4}  # a BatchNorm's num_batches_tracked: one integer, read and set aside
COUNTER = ".num_batches_tracked"
META_CHARS = {"layout_map": 1 << 16}  # metadata values are cut at 1,000 characters, an export's layer map at 64 k
HEADER_BYTES = 16 << 20
PICKLE_HINT = (
    "Save only the weights: torch.save(model.state_dict(), 'model.pt') in the code that trained "
    "it (or safetensors.torch.save_file(model.state_dict(), 'model.safetensors'))"
)


def read_bytes(path: str | os.PathLike, data: bytes | None = None) -> bytes:
    """The file's bytes (or the uploaded ones), refused over limits.MODEL_BYTES before reading."""
    where = Path(path).name
    if data is None:
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such file")
        size = path.stat().st_size
    else:
        size = len(data)
    if size > limits.MODEL_BYTES:
        raise StoreError(
            f"{where}: {size / 2**20:,.0f} MB is over the limit of "
            f"{limits.MODEL_BYTES / 2**20:,.0f} MB per weights file (VAE_MODEL_BYTES)"
        )
    if size == 0:
        raise StoreError(f"{where}: the file is empty")
    return Path(path).read_bytes() if data is None else data


def read_state_dict(name: str, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors by name (float32, finite), string metadata) of a .safetensors or PyTorch file's bytes."""
    suffix = Path(name).suffix.lower()
    if suffix == ".safetensors":
        return _safetensors(Path(name).name, data)
    if suffix in STATE_SUFFIXES:
        return _torch_file(Path(name).name, data), {}
    raise StoreError(f"{Path(name).name}: unknown kind of file; give a {', '.join(SUFFIXES)} file")


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise StoreError(f"the header names the tensor {k!r} twice")
        seen[k] = v
    return seen


def _safetensors(where: str, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if len(data) < 8:
        raise StoreError(f"{where}: not a safetensors file (too short: {len(data)} bytes)")
    n = int.from_bytes(data[:8], "little")
    if n > HEADER_BYTES or 8 + n > len(data):
        raise StoreError(
            f"{where}: not a safetensors file, or truncated (it declares a {n:,}-byte header "
            f"in a {len(data):,}-byte file)"
        )
    try:
        head = json.loads(data[8 : 8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except StoreError as e:
        raise StoreError(f"{where}: {e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise StoreError(f"{where}: not a safetensors file (its header is not JSON)") from None
    except ValueError:  # a number of thousands of digits
        raise StoreError(f"{where}: not a safetensors file (its header holds a number too long to read)") from None
    if not isinstance(head, dict):
        raise StoreError(f"{where}: not a safetensors file (the header is not a JSON object)")
    meta = head.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise StoreError(f"{where}: not a safetensors file (malformed __metadata__)")
    body, total = len(data) - 8 - n, 0
    for k, v in head.items():
        if not (isinstance(v, dict) and isinstance(v.get("shape"), list) and isinstance(v.get("data_offsets"), list)):
            raise StoreError(f"{where}: {k}: malformed header entry")
        dtype = v.get("dtype") if isinstance(v.get("dtype"), str) else None
        counter = str(k).endswith(COUNTER) and dtype in COUNTER_BYTES and v.get("shape") in ([], [1])
        if dtype not in DTYPE_BYTES and not counter:
            raise StoreError(f"{where}: weights must be floating point; {k} is {v.get('dtype')}")
        shape, offsets = v["shape"], v["data_offsets"]
        if (
            not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise StoreError(f"{where}: {k}: malformed shape or offsets")
        count = math.prod(shape)
        total += count
        if total > limits.MODEL_PARAMS:
            raise StoreError(
                f"{where}: the header claims over {limits.MODEL_PARAMS:,} weights (at {k}, "
                f"shape {shape}); the limit is VAE_MODEL_PARAMS"
            )
        size = count * {**DTYPE_BYTES, **COUNTER_BYTES}[v["dtype"]]
        if offsets[1] - offsets[0] != size or not 0 <= offsets[0] <= offsets[1] <= body:
            raise StoreError(
                f"{where}: {k}: its offsets {offsets} do not fit its shape {shape} or the file "
                f"({body:,} bytes of data); the file is truncated or damaged"
            )
    try:
        tensors = load_safetensors(data)
    except Exception as e:  # safetensors' own checks: overlapping offsets and the like
        raise StoreError(f"{where}: not a valid safetensors file ({str(e)[:200]})") from None
    return _checked(where, tensors), {str(k): str(v)[: META_CHARS.get(str(k), 1000)] for k, v in meta.items()}


def _torch_file(where: str, data: bytes) -> dict[str, torch.Tensor]:
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError, EOFError):  # names not UTF-8 too
            raise StoreError(f"{where}: not a PyTorch file (a damaged or truncated zip)") from None
        if not any(n.endswith("data.pkl") for n in names):
            raise StoreError(f"{where}: a zip archive, but not one torch.save wrote (no data.pkl inside)")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": the refusal below says more
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        lines = str(e).strip().splitlines()
        what = next((line for line in lines if "global" in line.lower()), None) or _first_global(data)
        if what is None:  # not a pickle of objects at all: bytes the unpickler cannot read
            raise _not_weights(where, data) from None
        named = re.search(r"GLOBAL\s+([\w.]+)", what)  # torch's sentence around it is advice for its own API
        what = f"it names the global {named.group(1)}" if named else _first_global(data) or "it builds other objects"
        raise StoreError(
            f"{where}: refused: the file holds pickled Python objects, not only tensors "
            f"({what.strip()[:160]}); nothing in it was run. {PICKLE_HINT}"
        ) from None
    except Exception:  # truncated files, other formats: the unpickler's own words mean nothing here
        raise _not_weights(where, data) from None
    return _checked(where, _unwrap(where, obj))


def _not_weights(where: str, data: bytes) -> StoreError:
    """What to tell a user whose file torch.load cannot read: what it seems to be and what to send."""
    head = data[:4096]
    try:
        text = head.decode("utf-8")
        kind = "a text file" if all(c.isprintable() or c.isspace() for c in text) else None
    except UnicodeDecodeError:
        kind = None
    kind = kind or "damaged, cut short or in another format"
    return StoreError(
        f"{where}: not PyTorch weights ({kind}). Send a .safetensors file or a .pt written by "
        "torch.save(model.state_dict(), path)."
    )


def _first_global(data: bytes) -> str | None:
    """The first Python global a raw pickle names (read with pickletools, never run), if any: the
    restricted unpickler stops at the first opcode it does not know, before it reaches the global."""
    import pickletools

    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name == "GLOBAL":
                return f"it names the global {str(arg).replace(' ', '.')}"
            if op.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"it names the global {strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # not a pickle, or a damaged one
        return None
    return None


def _depth(obj, level: int = 0) -> int:
    if isinstance(obj, (dict, list, tuple)) and level < 100:
        values = obj.values() if isinstance(obj, dict) else obj
        return max((_depth(v, level + 1) for v in values), default=level + 1)
    return level


def _unwrap(where: str, obj) -> dict:
    """A state dict, or the usual checkpoint holding one under 'state_dict' / 'model_state_dict' / 'model'."""
    if isinstance(obj, torch.Tensor):
        raise StoreError(f"{where}: holds one tensor, not a state dict (names -> tensors)")
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return _unwrap(where, obj[key])
    if not isinstance(obj, dict):
        raise StoreError(f"{where}: holds a {type(obj).__name__}, not a state dict; {PICKLE_HINT}")
    nested = [str(k) for k, v in obj.items() if isinstance(v, (dict, list, tuple))]
    if nested:
        raise StoreError(
            f"{where}: a state dict maps names to tensors; {nested[0]!r} holds a nested "
            f"container ({_depth(obj[nested[0]])} levels deep). {PICKLE_HINT}"
        )
    return obj


def _checked(where: str, tensors: dict) -> dict[str, torch.Tensor]:
    bad = [str(k) for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise StoreError(
            f"{where}: every value must be a tensor; {bad[0]!r} is {type(tensors[bad[0]]).__name__}. {PICKLE_HINT}"
        )
    if not tensors:
        raise StoreError(f"{where}: holds no tensors")
    if sum(v.numel() for v in tensors.values()) > limits.MODEL_PARAMS:
        raise StoreError(f"{where}: over {limits.MODEL_PARAMS:,} weights; the limit is VAE_MODEL_PARAMS")
    out = {}
    for k, v in tensors.items():
        if str(k).endswith(COUNTER) and v.dtype in (torch.int64, torch.int32) and v.numel() <= 1:
            continue  # how many batches a BatchNorm saw in training: nothing for eval mode
        if v.is_complex() or not v.is_floating_point():
            raise StoreError(f"{where}: weights must be real floating point; {k} is {v.dtype}")
        if v.numel() and not bool(torch.isfinite(v).all()):
            raise StoreError(f"{where}: {k} holds NaN or infinite values")
        out[str(k)] = v.detach().to(torch.float32).contiguous()
    return out
