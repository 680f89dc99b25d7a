"""--models-dir is accepted before and after every command (the README shows it after `train`)."""

import numpy as np
import pytest

from vae.cli.main import _parser, main
from vae.models.config import ModelConfig
from vae.models.registry import build
from vae.store import catalog as store

MC = ModelConfig(image_shape=(1, 8, 8), hidden=(16,))
COMMANDS = [
    ["train", "--name", "t"],
    ["evaluate", "m"],
    ["list"],
    ["rename", "a", "b"],
    ["delete", "m"],
    ["data", "list"],
    ["data", "fetch", "mnist"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_takes_it_before_or_after_and_after_wins(command):
    parse = _parser().parse_args
    assert parse(["--models-dir", "A", *command]).models_dir == "A"
    assert parse([*command, "--models-dir", "B"]).models_dir == "B"
    assert parse(["--models-dir", "A", *command, "--models-dir", "B"]).models_dir == "B"
    assert parse(command).models_dir is None  # then $VAE_MODELS_DIR or ./models


def test_train_list_evaluate_with_the_option_after_the_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x=rng.uniform(0, 1, (60, 8, 8)).astype(np.float32))
    models = str(tmp_path / "elsewhere")
    assert (
        main(
            [
                "train",
                "--dataset",
                str(tmp_path / "tiny.npz"),
                "--name",
                "after",
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--eval-iw-samples",
                "2",
                "--quiet",
                "--models-dir",
                models,
            ]
        )
        == 0
    )
    assert store.find("after", models).meta["history"]
    with pytest.raises(store.StoreError):
        store.find("after")  # not in $VAE_MODELS_DIR
    store.save(build(MC, seed=0), "other", models)
    assert main(["list", "--models-dir", models]) == 0
    assert "after" in capsys.readouterr().out
    assert main(["rename", "other", "renamed", "--models-dir", models]) == 0
    assert main(["delete", "renamed", "--models-dir", models]) == 0
    assert [m.name for m in store.list_models(models)] == ["default", "emoji-2d", "mnist-5k-2d", "after"]
