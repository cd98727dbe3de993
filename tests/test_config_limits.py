"""The settings, limits and target domains that the training, data and file rooms share."""

import tomllib
from dataclasses import asdict

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import limits
from deltaprop.engine import losses
from deltaprop.training import config, runs


def test_config_toml_round_trips_to_the_same_settings():
    cfg = config.config_from({"data": "spiral", "hidden": [5, 7], "momentum": 0.5, "optimizer": "sgd"})
    back = config.config_from(tomllib.loads(runs.to_toml(asdict(cfg))), recipe=False)
    assert back == cfg
    assert "momentum = 0.5" in runs.to_toml(asdict(cfg)) and "target" not in runs.to_toml(asdict(cfg))


def test_a_trainconfig_is_taken_as_given_and_not_changed():
    cfg = config.TrainConfig(data="iris", hidden=[3], epochs=2, early_stopping=0)
    settled = config.settle(cfg, "wine", {"epochs": 1})
    assert (settled.data, settled.epochs, settled.hidden) == ("wine", 1, [3])
    assert (cfg.data, cfg.epochs) == ("iris", 2)  # the caller's config is not modified


def test_training_refuses_what_loading_would_refuse():
    """One set of limits: a network too large to load back is not trained either."""
    too_wide = [2, limits.MAX_WIDTH + 1, 2]
    for where in ("training", "loading"):
        with pytest.raises(dp.DeltapropError, match=rf"\[1, {limits.MAX_WIDTH}\]"):
            if where == "training":
                dp.fit((np.zeros((4, 2)), np.array([0, 1, 0, 1])), hidden=too_wide[1:2], epochs=1)
            else:
                limits.network_sizes(too_wide, "model.npz")
    with pytest.raises(dp.DeltapropError, match="parameters; the limit is"):
        limits.network_sizes([limits.MAX_WIDTH, limits.MAX_WIDTH], "x")


@pytest.mark.parametrize("name,T,row", [
    ("cross_entropy", [[1.0, 0.0], [0.6, 0.6]], 2),  # a row summing to 1.2
    ("cross_entropy", [[-0.5, 1.5]], 1),
    ("binary_cross_entropy", [[0.5], [1.0], [1.5]], 3),
    ("itakura_saito", [[1.0], [0.0]], 2),
])
def test_each_loss_refuses_targets_outside_its_domain_naming_the_row(name, T, row):
    with pytest.raises(dp.DeltapropError, match=rf"^here: row {row} has targets"):
        losses.get(name).check_targets(np.array(T), "here")


def test_losses_defined_for_every_target_accept_any_real_t():
    for name in ("quadratic", "gaussian_nll"):
        losses.get(name).check_targets(np.array([[-1e6], [3.5]]), "here")  # no error
