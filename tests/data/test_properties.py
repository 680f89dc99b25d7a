"""Property-based tests (hypothesis) of the input paths: whatever bytes, arrays or settings arrive,
pictures.prepare, the dataset loaders and ModelConfig either give a well-formed result or raise their
own error type (ImageError, DataError, ConfigError), never anything else.

The profile is fixed and derandomized (the same examples on every run, no example database), with
modest example counts, so the suite stays fast and reproducible.
"""

import io
import zipfile

import corpus
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vae.data import datasets as data
from vae.data import pictures
from vae.data.datasets import DataError
from vae.data.pictures import ImageError
from vae.models.config import ConfigError, ModelConfig
from vae.models.model import VAE
from vae.store.modelfiles import expected, parameter_count

PROFILE = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(PROFILE, max_examples=15)

VALID_PICTURES = [
    corpus.encode(corpus.digit()),
    corpus.encode(corpus.digit().convert("RGB"), "JPEG"),
    corpus.encode(corpus.digit().convert("P"), "GIF"),
    corpus.encode(corpus.digit(), "BMP"),
]


@st.composite
def mutated(draw, valid: list[bytes]) -> bytes:
    """A valid file with a few bytes overwritten and maybe cut short: the realistic broken file."""
    data = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


def _check_prepared(p: pictures.Prepared, shape=(1, 28, 28)) -> None:
    assert p.array.shape == shape and p.array.dtype == np.float32
    assert np.isfinite(p.array).all() and p.array.min() >= 0 and p.array.max() <= 1


@PROFILE
@given(st.one_of(st.binary(max_size=600), mutated(VALID_PICTURES)))
def test_prepare_takes_any_bytes(blob):
    try:
        p = pictures.prepare(blob)
    except ImageError:
        return
    _check_prepared(p)


@PROFILE
@given(
    hnp.arrays(
        st.sampled_from([np.uint8, np.float32, np.float64, np.bool_]),
        st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
            st.tuples(st.integers(1, 30), st.integers(1, 30), st.sampled_from([1, 2, 3, 4, 5])),
        ),
        elements={"allow_nan": True, "allow_infinity": True},
    ),
    st.sampled_from([(1, 28, 28), (3, 16, 16), (1, 8, 12)]),
)
def test_prepare_takes_any_array(a, shape):
    try:
        p = pictures.prepare(a, shape)
    except ImageError:
        return
    _check_prepared(p, shape)


def _check_dataset(ds: data.Dataset) -> None:
    x = ds.images
    assert x.ndim == 4 and x.dtype == np.float32 and len(x) > 0 and x.shape[1] in (1, 3, 4)
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    if ds.labels is not None:
        assert ds.labels.shape == (len(x),) and ds.labels.min() >= 0
        assert ds.labels.max() < len(ds.class_names)


VALID_DATA = [
    corpus.npy(corpus._digits(4)),
    corpus.npz(x=corpus._digits(4), y=np.arange(4)),
    corpus.make_zip({"a/0.png": corpus.tiny_png(), "b/1.png": corpus.tiny_png()}),
]


@PROFILE
@given(st.one_of(st.binary(max_size=400), mutated(VALID_DATA)))
def test_dataset_loader_takes_any_bytes(blob):
    try:
        ds = data.load_user_data(blob)
    except DataError:
        return
    _check_dataset(ds)


@PROFILE
@given(
    hnp.arrays(
        st.sampled_from(
            [np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_, np.complex64, np.uint64]
        ),
        hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=9),
    ),
    st.one_of(
        st.none(),
        hnp.arrays(
            st.sampled_from([np.int64, np.float64, np.uint8]), hnp.array_shapes(min_dims=1, max_dims=2, max_side=9)
        ),
    ),
    st.sampled_from(["npy", "npz"]),
)
def test_dataset_loader_takes_any_array(x, y, kind):
    blob = corpus.npy(x) if kind == "npy" else corpus.npz(x=x, **({} if y is None else {"y": y}))
    try:
        ds = data.load_user_data(blob)
    except DataError:
        return
    _check_dataset(ds)


@FEW
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a/", "b/", "", "../", "/", "c/d/", "__MACOSX/", ".x/"]),
            st.text("xyz.", min_size=1, max_size=4),
            st.sampled_from([".png", ".gif", ".txt", ".zip", ".PNG"]),
            st.sampled_from(VALID_PICTURES[:3] + [b"", b"junk"]),
        ),
        max_size=6,
    )
)
def test_dataset_loader_takes_any_zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for folder, stem, suffix, content in members:
            z.writestr(folder + stem + suffix, content)
    try:
        ds = data.load_user_data(out.getvalue())
    except DataError:
        return
    _check_dataset(ds)


SIZES = st.one_of(
    st.integers(-3, 70), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3)
)
FIELDS = {
    "image_shape": st.one_of(st.lists(st.integers(0, 300), max_size=4), st.tuples(SIZES, SIZES, SIZES), SIZES),
    "latent_dim": SIZES,
    "arch": st.sampled_from(["mlp", "conv", "MLP", "", "rnn"]),
    "hidden": st.one_of(st.lists(st.integers(-1, 10**6), max_size=4), SIZES, st.lists(SIZES, max_size=3)),
    "conv_channels": st.one_of(st.lists(st.integers(-1, 5000), max_size=3), SIZES),
    "conv_dense": SIZES,
    "activation": st.sampled_from(["relu", "tanh", "elu", "gelu", "swish", 3]),
    "likelihood": st.sampled_from(["bernoulli", "gaussian", "poisson", None]),
    "gaussian_std": st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-2, 2), st.text(max_size=2)),
    "num_classes": SIZES,
}


@PROFILE
@given(st.fixed_dictionaries({}, optional=FIELDS), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
def test_model_config_from_any_dict_is_valid_or_a_config_error(d, extra):
    try:
        cfg = ModelConfig.from_dict({**d, **extra})
    except ConfigError:
        return
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg  # round-trips through JSON-like dicts
    assert isinstance(cfg.latent_dim, int) and all(isinstance(h, int) and h >= 1 for h in cfg.hidden)
    assert parameter_count(cfg) > 0 and expected(cfg)  # builds (on the meta device) without error


@FEW
@given(
    st.builds(
        ModelConfig,
        image_shape=st.tuples(st.sampled_from([1, 3]), st.integers(4, 12), st.integers(4, 12)),
        latent_dim=st.integers(1, 4),
        arch=st.sampled_from(["mlp", "conv"]),
        hidden=st.lists(st.integers(1, 8), min_size=1, max_size=2).map(tuple),
        conv_channels=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
        conv_dense=st.integers(1, 8),
        likelihood=st.sampled_from(["bernoulli", "gaussian"]),
    )
)
def test_every_valid_config_builds_a_model_with_the_right_shapes(cfg):
    model = VAE(cfg)
    x = torch.rand(2, *cfg.image_shape)
    mean, mu, logvar, z = model(x)
    assert mean.shape == x.shape and mu.shape == logvar.shape == z.shape == (2, cfg.latent_dim)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: s for k, (_, s) in expected(cfg).items()}


@pytest.mark.parametrize("bad", [[], "mlp", 7, None, [("latent_dim", 2)]])
def test_model_config_from_something_not_a_dict(bad):
    with pytest.raises(ConfigError):
        ModelConfig.from_dict(bad)
