import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

import hf_last  # noqa: F401  (registers the model types)
from hf_last.training import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
TINY = dict(task="digits", hidden_size=32, num_hidden_layers=2, state_size=16, batch_size=16, lr=1e-2,
            progress=False, num_threads=1)


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_tiny_run_learns_and_writes_best_metrics_and_card(tmp_path):
    metrics = train(TrainConfig(family="s4d", epochs=2, output_dir=str(tmp_path), **TINY))
    assert metrics["finished"] and metrics["epochs_completed"] == 2 and len(metrics["history"]) == 2
    assert metrics["best_validation_accuracy"] > 0.3  # chance is 0.1
    best = tmp_path / "best"
    model = AutoModelForSequenceClassification.from_pretrained(best)
    assert type(model).__name__ == "S4DForSequenceClassification" and model.config.num_labels == 10
    # the reported test accuracy is the saved best model's, measured independently on the test split
    from hf_last.data import load_task
    from hf_last.evaluation import evaluate_accuracy

    assert metrics["test_accuracy"] == pytest.approx(evaluate_accuracy(model, load_task("digits")["test"])["accuracy"],
                                                     abs=1e-12)
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["test_accuracy"] == metrics["test_accuracy"]
    assert json.loads((best / "metrics.json").read_text())["best_epoch"] == metrics["best_epoch"]
    card = (best / "README.md").read_text()
    assert "S4D" in card and f"{metrics['test_accuracy'] * 100:.2f}%" in card
    assert (tmp_path / "last" / "trainer_state.json").exists()


def test_two_epochs_equal_one_epoch_plus_resume(tmp_path):
    common = dict(family="s5", epochs=2, dropout=0.1, **TINY)  # dropout: the RNG state must be restored too
    train(TrainConfig(output_dir=str(tmp_path / "straight"), **common))
    first = train(TrainConfig(output_dir=str(tmp_path / "resumed"), stop_after_epochs=1, **common))
    assert first["epochs_completed"] == 1 and not first["finished"]
    second = train(TrainConfig(output_dir=str(tmp_path / "resumed"), resume=True, **common))
    assert second["epochs_completed"] == 2 and second["finished"] and len(second["history"]) == 2
    straight = load_file(tmp_path / "straight" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "last" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("overrides, message", [
    (dict(task="mnist"), "unknown task 'mnist'"),
    (dict(family="mamba"), "unknown model family 'mamba'"),
    (dict(task_settings={"bogus": 1}), "unknown setting"),
    (dict(hidden_size=0), "hidden_size must be a positive integer"),
    (dict(warmup=1.5), "warmup"),
])
def test_bad_arguments_give_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{**TINY, **overrides})


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(TrainConfig(family="s4d", epochs=1, resume=True, output_dir=str(tmp_path), **TINY))


def test_script_rejects_unknown_family_with_a_message():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), "--family", "mamba"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "unknown model family 'mamba'" in result.stderr


def test_argument_parser_round_trip():
    import argparse

    parser = TrainConfig.add_arguments(argparse.ArgumentParser())
    namespace = parser.parse_args(["--family", "s5", "--task-settings", '{"seed": 1}', "--no-prenorm",
                                   "--max-train-samples", "100", "--dt-max", "0.5"])
    args = TrainConfig.from_namespace(namespace)
    assert (args.family, args.task_settings, args.prenorm, args.max_train_samples, args.dt_max) == \
        ("s5", {"seed": 1}, False, 100, 0.5)


@pytest.mark.parametrize("family", ["s4d", "s5"])
def test_shipped_default_models_load_and_are_accurate(family):
    from hf_last.data import load_task
    from hf_last.default_models import default_model_path
    from hf_last.evaluation import evaluate_accuracy

    path = default_model_path(family)
    assert {"config.json", "model.safetensors", "README.md", "metrics.json"} <= {p.name for p in path.iterdir()}
    model = AutoModelForSequenceClassification.from_pretrained(path)
    accuracy = evaluate_accuracy(model, load_task("digits")["test"])["accuracy"]
    assert accuracy > 0.9
    assert accuracy == pytest.approx(json.loads((path / "metrics.json").read_text())["test_accuracy"])


def test_default_model_path_rejects_unknown_family():
    from hf_last.default_models import default_model_path

    with pytest.raises(ValueError, match="no default model"):
        default_model_path("mamba")


def test_cli_train_subcommand_parses_training_arguments():
    from hf_last.cli import build_parser
    from hf_last.cli.train import train_main

    args = build_parser().parse_args(["train", "--family", "s5", "--task", "digits", "--epochs", "3"])
    assert args.func is train_main and (args.family, args.epochs) == ("s5", 3)
    assert TrainConfig.from_namespace(args).family == "s5"


def test_mixed_precision_bf16_run_completes_and_is_recorded(tmp_path):
    from conftest import reset_accelerate

    reset_accelerate()  # the AcceleratorState singleton fixes mixed_precision once per process
    try:
        metrics = train(TrainConfig(family="s5", epochs=1, max_train_samples=64, max_eval_samples=64,
                                    mixed_precision="bf16", output_dir=str(tmp_path), **TINY))
    finally:
        reset_accelerate()
    assert metrics["finished"] and metrics["mixed_precision"] == "bf16"
    assert 0 <= metrics["test_accuracy"] <= 1 and torch.isfinite(torch.tensor(metrics["history"][0]["train_loss"]))
    # the weights are saved in float32: mixed precision is a property of the run, not of the checkpoint
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "best")
    assert model.dtype == torch.float32


def test_mixed_precision_flag_is_checked():
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        TrainConfig(**{**TINY, "mixed_precision": "int8"})


def test_old_class_name_still_works_and_warns():
    import hf_last.training as training

    with pytest.warns(FutureWarning, match="renamed TrainConfig"):
        assert training.TrainingArguments is TrainConfig


@pytest.mark.parametrize("command, expected", [
    (["/usr/bin/python", "/usr/bin/accelerate", "launch", "--cpu", "--num_processes", "2", "train.py"], 2),
    (["accelerate", "launch", "--num-processes=4", "--cpu", "train.py", "--num-processes", "9"], 4),
    (["accelerate", "launch", "--cpu", "train.py", "--num_processes", "3"], None),  # the script's own flag
    (["torchrun", "--nproc_per_node", "2", "train.py"], None),
    ([], None),
])
def test_requested_processes_reads_the_launcher_command(command, expected):
    from hf_last.accelerator import requested_processes

    assert requested_processes(command) == expected


def test_the_world_size_is_printed_with_a_warning_when_the_launcher_started_fewer(monkeypatch, capsys):
    import hf_last.accelerator as accelerator

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setattr(accelerator, "_parent_command",
                        lambda: ["accelerate", "launch", "--cpu", "--num_processes", "2", "scripts/train.py"])
    assert accelerator.announce_world_size("scripts/train.py") == 1
    err = capsys.readouterr().err
    assert "scripts/train.py: world size 1 (1 process)" in err
    assert "asked for 2 processes but started 1" in err and "--multi_gpu --num_processes 2" in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(accelerator, "_parent_command",
                        lambda: ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "scripts/train.py"])
    assert accelerator.announce_world_size("scripts/train.py") == 2
    err = capsys.readouterr().err
    assert "world size 2 (2 processes)" in err and "warning" not in err
    monkeypatch.setenv("RANK", "1")  # only rank 0 prints
    accelerator.announce_world_size("scripts/train.py")
    assert capsys.readouterr().err == ""
