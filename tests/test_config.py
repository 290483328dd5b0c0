import json

import pytest
from transformers import AutoConfig

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import S4DConfig, S5Config


@pytest.mark.parametrize(
    "config_class, kwargs, field",
    [
        (S5Config, {"state_size": 7}, "state_size"),  # odd with conj_sym
        (S5Config, {"state_size": 0}, "state_size"),
        (S5Config, {"hidden_size": -4}, "hidden_size"),
        (S5Config, {"num_hidden_layers": 0}, "num_hidden_layers"),
        (S5Config, {"state_size": 64, "blocks": 3}, "blocks"),
        (S5Config, {"state_size": 12, "blocks": 4}, "blocks"),  # blocks of 3: odd with conj_sym
        (S5Config, {"discretization": "euler"}, "discretization"),
        (S5Config, {"norm_type": "rms"}, "norm_type"),
        (S5Config, {"activation": "relu"}, "activation"),
        (S5Config, {"pooling": "max"}, "pooling"),
        (S5Config, {"c_init": "zeros"}, "c_init"),
        (S5Config, {"dt_min": 0.2, "dt_max": 0.1}, "dt_min"),
        (S5Config, {"dt_min": -0.1}, "dt_min"),
        (S5Config, {"step_rescale": 0.0}, "step_rescale"),
        (S5Config, {"dropout": 1.5}, "dropout"),
        (S5Config, {"input_size": None, "vocab_size": None}, "input_size"),
        (S5Config, {"vocab_size": 0}, "vocab_size"),
        (S5Config, {"per_layer_config": {1: {"state_size": 5}}}, "per_layer_config[1].state_size"),
        (S5Config, {"per_layer_config": {0: {"hidden_size": 8}}}, "per_layer_config[0]"),
        (S4DConfig, {"ssm_init": "random"}, "ssm_init"),
        (S4DConfig, {"hidden_size": 4, "per_layer_config": {0: {"channel_state_sizes": [2, 2]}}}, "channel_state_sizes"),
        (S4DConfig, {"hidden_size": 2, "per_layer_config": {0: {"channel_state_sizes": [2, 3]}}}, "channel_state_sizes"),
        (S4DConfig, {"hidden_size": 2, "per_layer_config": {0: {"channel_state_sizes": [0, 0]}}}, "channel_state_sizes"),
    ],
)
def test_invalid_config_raises_naming_the_field(config_class, kwargs, field):
    with pytest.raises(ValueError) as error:
        config_class(**kwargs)
    assert field in str(error.value)


def test_per_layer_layer_index_out_of_range():
    with pytest.raises(ValueError, match="per_layer_config"):
        S5Config(num_hidden_layers=2, per_layer_config={5: {"state_size": 4}})


def test_odd_state_size_allowed_without_conjugate_symmetry():
    config = S5Config(state_size=7, conj_sym=False)
    assert config.layer_state_sizes() == [7] * config.num_hidden_layers


def test_per_layer_sizes_round_trip(tmp_path):
    config = S5Config(num_hidden_layers=3, state_size=8, blocks=2, per_layer_config={1: {"state_size": 6}})
    assert config.is_heterogeneous
    assert config.layer_state_sizes() == [8, 6, 8]
    config.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["per_layer_config"] == {"1": {"state_size": 6}}
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is S5Config
    assert loaded.layer_state_sizes() == [8, 6, 8]


def test_channel_state_sizes_round_trip(tmp_path):
    sizes = [2, 4, 0, 6]
    config = S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=4, per_layer_config={1: {"channel_state_sizes": sizes}})
    assert config.channel_sizes(0) == [4, 4, 4, 4]
    assert config.channel_sizes(1) == sizes
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is S4DConfig and loaded.channel_sizes(1) == sizes


def test_namespaced_model_types():
    assert S4DConfig.model_type == "last_s4d" and S5Config.model_type == "last_s5"
