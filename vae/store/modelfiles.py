"""A model folder's files, checked before anything is built from them.

model.json must be JSON with the fields the app reads, of the types it reads them as, and a config
whose model stays under vae.limits.MODEL_PARAMS. A safetensors file's header (names, dtypes, shapes)
must match the model that config builds (found on torch's "meta" device, which allocates nothing)
before its tensors are read; its tensors must be finite. Nothing is unpickled, and a file in a
model folder can only ever be parsed as JSON or safetensors. Every failure is a StoreError.
"""

from __future__ import annotations

import functools
import json
import math

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors

from vae import limits
from vae.models.config import ConfigError, ModelConfig
from vae.models.registry import build

HEADER_BYTES = 2**20  # a safetensors header (JSON) larger than this is refused
_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
_CARD_METRICS = ("elbo", "iw_log_likelihood", "kl")  # formatted as numbers by the model card


class StoreError(ValueError):
    """A model is missing, malformed, or a name is not allowed."""


def parse_meta(raw: bytes, where: str, meta_name: str, format_version: int) -> dict:
    """model.json bytes -> the metadata dict, or StoreError saying what is wrong."""
    meta = json_text(raw, f"{where}: {meta_name}")
    if not isinstance(meta, dict) or meta.get("format_version") != format_version:
        raise StoreError(f"{where}: unsupported model format (expected format_version {format_version})")
    config = config_of(meta.get("config"), where)
    for key, kind in (
        ("dataset", dict),
        ("metrics", dict),
        ("train_config", dict),
        ("history", list),
        ("created", str),
        ("version", str),
    ):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise StoreError(f"{where}: {meta_name} field {key!r} must be a {kind.__name__}")
    metrics = meta.get("metrics") or {}
    bad = [
        k
        for k in _CARD_METRICS
        if k in metrics and (isinstance(metrics[k], bool) or not isinstance(metrics[k], (int, float)))
    ]
    if bad:
        raise StoreError(f"{where}: metric {bad[0]!r} must be a number")
    count = parameter_count(config)
    if count > limits.MODEL_PARAMS:
        raise StoreError(
            f"{where}: the config asks for {count:,} parameters, over the limit of "
            f"{limits.MODEL_PARAMS:,} (VAE_MODEL_PARAMS)"
        )
    return meta


def json_text(raw: bytes, what: str):
    """JSON bytes -> the value, or StoreError in a user's terms: where the bytes stop being UTF-8 or
    JSON, a number too long to read (Python reads at most 4,300 digits), nesting too deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StoreError(f"{what} is not valid JSON: not UTF-8 text at byte {e.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise StoreError(f"{what} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise StoreError(f"{what} is not valid JSON here: it nests too deep") from None
    except ValueError:  # int("9" * 5000): past the interpreter's digit limit
        raise StoreError(f"{what} holds a number too long to read (thousands of digits)") from None


def config_of(d, where: str) -> ModelConfig:
    if not isinstance(d, dict):
        raise StoreError(f"{where}: bad model config (missing, or not a JSON object)")
    try:
        return ModelConfig.from_dict(d)
    except ConfigError as e:
        raise StoreError(f"{where}: bad model config ({e})") from None
    except (TypeError, ValueError, OverflowError, RecursionError):  # a value of the wrong kind deep inside
        raise StoreError(f"{where}: bad model config (a setting holds a value of the wrong kind)") from None


@functools.lru_cache(maxsize=64)
def expected(config: ModelConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (safetensors dtype, shape) of every tensor the config's model holds."""
    with torch.device("meta"):
        state = build(config).state_dict()
    return {k: (_DTYPES.get(v.dtype, str(v.dtype)), tuple(v.shape)) for k, v in state.items()}


def parameter_count(config: ModelConfig) -> int:
    return sum(math.prod(shape) for _, shape in expected(config).values())


def header(raw: bytes, where: str) -> dict:
    """The JSON header of safetensors bytes (all of the file, or at least its header)."""
    if len(raw) < 8:
        raise StoreError(f"{where}: not a valid safetensors file (too short)")
    n = int.from_bytes(raw[:8], "little")
    if n > HEADER_BYTES:
        raise StoreError(f"{where}: not a valid safetensors file (it declares a {n:,}-byte header)")
    if len(raw) < 8 + n:
        raise StoreError(f"{where}: not a valid safetensors file (truncated)")
    try:
        head = json_text(raw[8 : 8 + n], "its header")
    except StoreError as e:
        raise StoreError(f"{where}: not a valid safetensors file ({e})") from None
    if not isinstance(head, dict) or not all(isinstance(v, dict) for v in head.values()):
        raise StoreError(f"{where}: not a valid safetensors file (malformed header)")
    for k, v in head.items():
        if k == "__metadata__":
            continue
        shape = v.get("shape")
        if not isinstance(v.get("dtype"), str) or not (
            isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise StoreError(f"{where}: not a valid safetensors file ({k[:80]!r}: its dtype or shape is malformed)")
    return head


def check_weights(raw: bytes, config: ModelConfig, where: str) -> None:
    """StoreError unless the header's tensors are exactly those the config's model holds."""
    head = header(raw, where)
    found = {k: (v.get("dtype"), tuple(v.get("shape") or ())) for k, v in head.items() if k != "__metadata__"}
    want = expected(config)
    missing, extra = sorted(set(want) - set(found)), sorted(set(found) - set(want))
    wrong = [
        f"{k} is {found[k][0]} {list(found[k][1])}, the config needs {want[k][0]} {list(want[k][1])}"
        for k in sorted(set(want) & set(found))
        if found[k] != want[k]
    ]
    if missing or extra or wrong:
        parts = (
            ([f"missing {', '.join(missing[:3])}"] if missing else [])
            + ([f"unexpected {', '.join(extra[:3])}"] if extra else [])
            + wrong[:2]
        )
        raise StoreError(f"{where}: the weights do not match the config ({'; '.join(parts)})")


def read_weights(raw: bytes, config: ModelConfig, where: str) -> dict[str, torch.Tensor]:
    check_weights(raw, config, where)
    state = read_tensors(raw, where)[0]
    if not all(bool(torch.isfinite(t).all()) for t in state.values()):
        raise StoreError(f"{where}: the weights contain NaN or infinite values")
    return state


def read_tensors(raw: bytes, where: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, string metadata) of safetensors bytes."""
    metadata = header(raw, where).get("__metadata__") or {}
    try:
        return load_tensors(raw), dict(metadata)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as e:
        raise StoreError(f"{where}: not a valid safetensors file ({e})") from None
