"""vae.inference.conditioning: decodes under a fixed condition, the style table, completions, encoding with labels."""

import numpy as np
import pytest
import torch

from vae.inference import conditioning, latent
from vae.models.config import ModelConfig
from vae.models.registry import build

KINDS = {
    "label": ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,), conditional="label", num_classes=4),
    "prior": ModelConfig(image_shape=(1, 8, 8), latent_dim=2, hidden=(16,), conditional="prior", num_classes=4),
    "completion": ModelConfig(image_shape=(1, 8, 8), latent_dim=3, hidden=(16, 12), conditional="completion"),
}


@pytest.fixture(params=list(KINDS))
def model(request):
    return build(KINDS[request.param], seed=0).eval()


def test_given_decodes_like_the_model_with_that_condition(model, blobs):
    x, labels = blobs
    z = torch.randn(5, model.latent_dim)
    cond = 2 if model.config.conditional != "completion" else x[0].numpy()
    got = latent.decode(conditioning.given(model, cond), z.numpy())
    with torch.inference_mode():
        want = {
            "label": lambda: model.decode(z, 2),
            "prior": lambda: model.decode(model.prior_mean(2) + z),
            "completion": lambda: model.decode(z, model.visible_of(x[:1]).expand(5, -1)),
        }[model.config.conditional]()
    np.testing.assert_allclose(got, want.numpy(), atol=1e-6)


def test_encode_dataset_gives_each_image_its_condition(model, blobs):
    x, labels = blobs
    mu, sigma = conditioning.encode_dataset(model, x[:20].numpy(), labels[:20], batch_size=7)
    assert mu.shape == sigma.shape == (20, model.latent_dim) and (sigma > 0).all()
    with torch.inference_mode():
        if model.config.conditional == "label":
            want = model.encode(x[:20], torch.as_tensor(labels[:20]))[0]
        elif model.config.conditional == "completion":
            want = model.encode(x[:20], model.visible_of(x[:20]))[0]
        else:
            want = model.encode(x[:20])[0]
    np.testing.assert_allclose(mu, want.numpy(), atol=1e-5)
    recon = conditioning.reconstruct(model, x[:6].numpy(), labels[:6])
    assert recon.shape == (6, 1, 8, 8)


def test_class_out_of_range_and_missing_labels_are_clear_errors():
    label = build(KINDS["label"], seed=0)
    with pytest.raises(ValueError, match="class 4"):
        conditioning.given(label, 4)
    with pytest.raises(ValueError, match="label"):
        conditioning.encode_dataset(label, np.zeros((2, 1, 8, 8), np.float32))


@pytest.mark.parametrize("name", ["label", "prior"])
def test_style_table_decodes_one_style_under_every_class(name, blobs):
    model = build(KINDS[name], seed=0).eval()
    x, labels = blobs
    table = conditioning.style_table(model, x[5].numpy(), int(labels[5]))
    assert table.shape == (4, 1, 8, 8)
    style = conditioning.style_z(model, x[5].numpy(), int(labels[5]))
    with torch.inference_mode():
        mu = model.encode(x[5:6], int(labels[5]))[0] if name == "label" else model.encode(x[5:6])[0]
        if name == "prior":
            np.testing.assert_allclose(style, (mu - model.prior_mean(int(labels[5])))[0].numpy(), atol=1e-6)
            want = model.decode(model.prior_means + torch.as_tensor(style))
        else:
            want = model.decode(mu.expand(4, -1), torch.arange(4))
    np.testing.assert_allclose(table, want.numpy(), atol=1e-6)  # row k: the same style as class k
    assert not np.allclose(table[0], table[1])  # the class changes the image
    samples = conditioning.class_samples(model, 3, seed=1)
    assert samples.shape == (4, 3, 1, 8, 8)


def test_completion_keeps_the_visible_part_and_draws_fifteen(blobs):
    model = build(KINDS["completion"], seed=0).eval()
    x, _ = blobs
    image = x[3].numpy()
    c = conditioning.complete(model, image, seed=0)
    mask = model.visible_mask.numpy()
    assert c.completions.shape == (conditioning.COMPLETIONS, 1, 8, 8)
    np.testing.assert_allclose(c.completions[:, mask], np.broadcast_to(image[mask], (15, mask.sum())), atol=1e-6)
    assert not np.allclose(c.completions[0], c.completions[1])  # different z, different completions
    np.testing.assert_allclose(c.visible[~mask], conditioning.HIDDEN_SHADE, atol=1e-6)
    np.testing.assert_array_equal(c.visible[mask], image[mask])
    assert c.row().shape == (18, 1, 8, 8) and np.array_equal(c.truth, image)
    np.testing.assert_allclose(c.regression[mask], image[mask], atol=1e-6)  # the regressor keeps it too
    np.testing.assert_array_equal(conditioning.complete(model, image, seed=0).completions, c.completions)
    with pytest.raises(ValueError, match="completion"):
        conditioning.complete(build(KINDS["label"]), image)


@pytest.mark.parametrize("name", ["label", "prior"])
def test_folded_plain_vae_decodes_and_encodes_like_the_class(name, blobs):
    model = build(KINDS[name], seed=0).eval()
    with torch.no_grad():
        for p in model.parameters():  # off the initial values, so every bias matters
            p.add_(0.1 * torch.randn_like(p))
    x, _ = blobs
    plain = conditioning.folded(model, 3)
    assert conditioning.kind(plain).name == "none" and not conditioning.kind(plain).conditional
    z = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
    np.testing.assert_allclose(latent.decode(plain, z), latent.decode(conditioning.given(model, 3), z), atol=1e-5)
    mu, _ = latent.encode_dataset(plain, x[:5].numpy())
    want = np.stack([conditioning.style_z(model, x[i].numpy(), 3) for i in range(5)])
    np.testing.assert_allclose(mu, want, atol=1e-5)
    with pytest.raises(ValueError, match="fold"):
        conditioning.folded(build(KINDS["completion"], seed=0), 0)
