"""Recovery fine-tuning and iterative pruning (hf_last.recovery): the input is untouched, the fine-tuned pruned model
round-trips exactly, a step lowers the training loss, the iterative schedule records (and replays to) its plans, and
2 processes make the same plans as 1."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import reset_accelerate
from datasets import DatasetDict

from hf_last import LASTPruner, S5Config, S5ForSequenceClassification
from hf_last.collate import collate_sequences
from hf_last.recovery import (RecoveryConfig, compose_plans, iterative_prune, recover, schedule_ratios, step_ratio)

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16


@pytest.fixture(scope="module")
def data():
    """A small fixed digits task: 64 training and 32 validation sequences (the first ones, no shuffling)."""
    from hf_last.data import load_task

    full = load_task("digits")
    return DatasetDict(train=full["train"].select(range(64)), validation=full["validation"].select(range(32)))


def small_model(seed: int = 0):
    torch.manual_seed(seed)
    return S5ForSequenceClassification(S5Config(hidden_size=16, num_hidden_layers=2, state_size=8, num_labels=10)).eval()


def config(**kwargs) -> RecoveryConfig:
    return RecoveryConfig(**{"task": "digits", "epochs": 2, "batch_size": BATCH, "eval_batch_size": 32, **kwargs})


def snapshot(model) -> dict:
    return {"state": {k: v.clone() for k, v in model.state_dict().items()}, "config": model.config.to_dict(),
            "plan": copy.deepcopy(getattr(model, "pruning_plan", None)), "training": model.training}


def assert_same(model, before: dict) -> None:
    state = model.state_dict()
    assert state.keys() == before["state"].keys()
    assert all(torch.equal(state[k], before["state"][k]) for k in state)
    assert model.config.to_dict() == before["config"]
    assert getattr(model, "pruning_plan", None) == before["plan"]
    assert model.training == before["training"]


def training_loss(model, dataset) -> float:
    """Mean cross-entropy over ``dataset`` in eval mode (one full batch)."""
    batch = collate_sequences([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        return float(model.eval()(**batch).loss)


# ---- recover ----------------------------------------------------------------------------------------------------
def test_recover_never_touches_the_input(data):
    pruned = LASTPruner(small_model()).prune(0.5)
    before = snapshot(pruned)
    recovered, report = recover(pruned, config(), data=data)
    assert_same(pruned, before)
    assert recovered is not pruned
    assert any(not torch.equal(a, b) for a, b in zip(recovered.state_dict().values(), before["state"].values()))
    # the copy keeps its plan and pruning metadata, and records the recovery
    assert recovered.pruning_plan == pruned.pruning_plan
    assert {k: v for k, v in recovered.config.pruning.items() if k != "recovery"} == pruned.config.pruning
    record = recovered.config.pruning["recovery"]
    assert record["optimizer_steps"] == report["optimizer_steps"] == 2 * 64 // BATCH
    assert record["epochs"] == 2 and record["wall_time_s"] > 0 and record["budget"] == "2 epochs"
    assert not recovered.training


def test_recovered_model_saves_and_loads_bit_identically(tmp_path, data):
    from transformers import AutoModelForSequenceClassification

    recovered, _ = recover(LASTPruner(small_model()).prune(0.5), config(max_steps=3), data=data)
    recovered.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(loaded) is type(recovered)
    state, other = recovered.state_dict(), loaded.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)
    assert loaded.config.pruning == json.loads(json.dumps(recovered.config.pruning))
    assert loaded.config.pruning["recovery"]["optimizer_steps"] == 3
    x = torch.tensor([data["validation"][i]["input_values"] for i in range(4)])
    with torch.no_grad():
        assert torch.equal(recovered(input_values=x).logits, loaded(input_values=x).logits)


def test_a_recovery_step_decreases_the_training_loss(data):
    """Full-batch steps on the fixed 64 training sequences, final weights kept: the loss goes down."""
    pruned = LASTPruner(small_model()).prune(0.5)
    before = training_loss(pruned, data["train"])
    one, _ = recover(pruned, config(epochs=None, max_steps=1, batch_size=64, keep="last", warmup=0.0), data=data)
    five, report = recover(pruned, config(epochs=None, max_steps=5, batch_size=64, keep="last", warmup=0.0,
                                          lr=3e-3), data=data)
    assert report["optimizer_steps"] == 5
    after_one, after_five = training_loss(one, data["train"]), training_loss(five, data["train"])
    assert after_five < after_one < before, (before, after_one, after_five)


def test_best_validation_weights_are_kept(data):
    """keep="best" (default) returns the weights of the best validation epoch, the pruned weights included."""
    pruned = LASTPruner(small_model()).prune(0.5)
    recovered, report = recover(pruned, config(epochs=3), data=data)
    accuracies = [report["validation_accuracy_before"]] + [h["validation_accuracy"] for h in report["history"]]
    assert report["validation_accuracy_after"] == max(accuracies)
    best = max(i for i, a in enumerate(accuracies) if a == max(accuracies))  # ties: the later epoch
    assert report["best_epoch"] == best


# ---- iterative --------------------------------------------------------------------------------------------------
def test_schedule_and_step_ratios():
    assert schedule_ratios(0.6, 3) == pytest.approx([0.2, 0.4, 0.6])
    assert step_ratio(16, 16, 0.0) == 0.0
    for total, now, target in ((128, 128, 0.3), (512, 300, 0.7), (16, 12, 0.5), (10, 7, 0.9)):
        kept = max(int(now * (1 - step_ratio(now, total, target))), 1)  # what the global allocation keeps
        assert kept == max(int(total * (1 - target) + 1e-9), 1)
    with pytest.raises(ValueError, match="steps"):
        schedule_ratios(0.5, 0)
    with pytest.raises(ValueError, match="ratio"):
        schedule_ratios(1.5, 2)


@pytest.mark.parametrize("method", ["last@auto", "uniform_magnitude"])
def test_iterative_schedule_records_and_replays_its_plans(data, method):
    model = small_model()
    before = snapshot(model)
    recovery = config(epochs=1)
    result = iterative_prune(model, 0.75, 3, recovery, method=method, data=data)
    assert_same(model, before)
    assert len(result.step_plans) == len(result.steps) == 3
    # each step: its plan is what the pruner makes on the previous step's fine-tuned weights, and its model is
    # that plan applied and fine-tuned (replayed here step by step)
    current = model
    cumulative = LASTPruner(model).plan(0.0)
    for plan, record in zip(result.step_plans, result.steps):
        pruner = LASTPruner(current, method=method).resolve_horizon(64)
        assert pruner.plan(plan.requested_ratio) == plan
        current, _ = recover(pruner.apply(plan), recovery, data=data)
        cumulative = compose_plans(cumulative, plan)
        assert record["states_after"] == sum(plan.states_after)
    final = result.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in current.state_dict().items())
    # the cumulative plan is a plan of the input model whose one-shot application has the final structure
    assert result.cumulative_plan.kept_modes == cumulative.kept_modes
    assert result.cumulative_plan.achieved_ratio == pytest.approx(0.75)
    assert result.model.pruning_plan == result.cumulative_plan
    one_shot = LASTPruner(model, method=method).apply(result.cumulative_plan)
    assert one_shot.config.layer_state_sizes() == result.model.config.layer_state_sizes() == [2, 2]
    assert {k: v.shape for k, v in one_shot.state_dict().items()} == {k: v.shape for k, v in final.items()}
    # config.pruning: the whole schedule against the input model, with each step's metadata and recovery
    pruning = result.model.config.pruning
    assert pruning["states_per_layer_before"] == [8, 8] and pruning["achieved_ratio"] == pytest.approx(0.75)
    assert pruning["requested_ratio"] == 0.75
    assert [sum(h["states_per_layer_after"]) for h in pruning["history"]] == [r["states_after"] for r in result.steps]
    assert all("recovery" in h and "previous" not in h for h in pruning["history"])
    assert pruning["schedule"]["steps"] == 3
    assert pruning["schedule"]["optimizer_steps"] == sum(h["recovery"]["optimizer_steps"] for h in pruning["history"])
    json.dumps(result.to_dict())  # the plans and records are JSON


def test_card_says_what_was_done_and_at_what_cost(data):
    from hf_last.hub import render_card

    result = iterative_prune(small_model(), 0.5, 2, config(max_steps=2), data=data)
    text = str(render_card(result.model, "user/iterative"))
    assert "Pruned iteratively in 2 steps" in text and "4 optimiser steps" in text
    recovered, _ = recover(LASTPruner(small_model()).prune(0.5), config(max_steps=2), data=data)
    assert "Pruned in one shot, then fine-tuned" in str(render_card(recovered, "user/recovered"))
    assert "Fine-tuning after pruning" not in str(render_card(LASTPruner(small_model()).prune(0.5), "user/one-shot"))


def test_two_processes_run_the_same_schedule_as_one(tmp_path, data):
    from accelerate import debug_launcher
    from accelerate.utils import patch_environment

    model = small_model()
    recovery = config(epochs=1)

    def worker():
        from hf_last.accelerator import get_accelerator

        torch.set_num_threads(1)
        accelerator = get_accelerator()
        assert accelerator.num_processes == 2
        result = iterative_prune(model, 0.75, 3, recovery, method="last@auto", data=data, accelerator=accelerator)
        torch.save({"plans": [p.to_dict() for p in result.step_plans], "state": result.model.state_dict(),
                    "steps": result.steps}, tmp_path / f"rank{accelerator.process_index}.pt")

    reset_accelerate()
    with patch_environment(omp_num_threads=1):
        debug_launcher(worker, num_processes=2)
    reset_accelerate()
    from hf_last.accelerator import get_accelerator

    one = iterative_prune(model, 0.75, 3, recovery, method="last@auto", data=data, accelerator=get_accelerator())
    reset_accelerate()
    ranks = [torch.load(tmp_path / f"rank{i}.pt", weights_only=False) for i in range(2)]
    def decisions(plans):  # everything but the fingerprint, which hashes weights that differ by float rounding
        return [{k: v for k, v in p.items() if k != "fingerprint"} for p in plans]

    assert ranks[0]["plans"] == ranks[1]["plans"]  # the ranks hold identical weights: identical plans
    for two in ranks:
        assert decisions(two["plans"]) == decisions([p.to_dict() for p in one.step_plans])
        assert [s["optimizer_steps"] for s in two["steps"]] == [s["optimizer_steps"] for s in one.steps]
        for key, value in one.model.state_dict().items():
            torch.testing.assert_close(two["state"][key], value, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(ranks[0]["state"][k], ranks[1]["state"][k]) for k in ranks[0]["state"])


# ---- bad arguments, drivers, CLI --------------------------------------------------------------------------------
def test_bad_arguments(data):
    with pytest.raises(ValueError, match="budget"):
        RecoveryConfig(task="digits")
    with pytest.raises(ValueError, match="epochs"):
        RecoveryConfig(task="digits", epochs=0)
    with pytest.raises(ValueError, match="keep"):
        RecoveryConfig(task="digits", epochs=1, keep="first")
    with pytest.raises(ValueError, match="unknown task"):
        RecoveryConfig(task="nope", epochs=1)
    with pytest.raises(TypeError, match="RecoveryConfig"):
        recover(small_model(), {"epochs": 1}, data=data)
    with pytest.raises(ValueError, match="validation"):
        recover(small_model(), config(), data=DatasetDict(train=data["train"]))
    with pytest.raises(ValueError, match="steps"):
        iterative_prune(small_model(), 0.5, 0, config(), data=data)


def test_prune_checkpoint_checks_its_recovery_request():
    from hf_last.experiments.prune import check_recovery_request

    check_recovery_request(None, config(), None)  # the search over fine-tuned candidates
    with pytest.raises(ValueError, match="fixed ratio"):
        check_recovery_request(None, config(), 2)
    with pytest.raises(ValueError, match="recovery="):
        check_recovery_request(0.5, None, 3)
    check_recovery_request(0.5, config(), 2)


def test_prune_script_recovers_iteratively(tmp_path):
    torch.manual_seed(0)
    model = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=2, state_size=8, num_labels=10))
    model.save_pretrained(tmp_path / "base")
    out = tmp_path / "pruned"
    command = [sys.executable, str(ROOT / "scripts" / "prune.py"), "--model", str(tmp_path / "base"), "--ratio", "0.5",
               "--method", "last@auto", "--recover-steps", "2", "--iterative-steps", "2", "--output-dir", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step 2: states 12 -> 8" in run.stdout
    iterative = json.loads((out / "iterative.json").read_text())
    assert len(iterative["step_plans"]) == 2 and iterative["cumulative_plan"]["kept_modes"]
    saved = json.loads((out / "config.json").read_text())["pruning"]
    assert saved["schedule"]["optimizer_steps"] == 2 and len(saved["history"]) == 2
    assert "Pruned iteratively in 2 steps" in (out / "README.md").read_text()
    bad = subprocess.run(command[:-6] + ["--iterative-steps", "2", "--output-dir", str(out)], capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode == 2 and "recovery budget" in bad.stderr


# ---- search with recovery, hf-last prune with recovery, the comparison driver ----------------------------------
def plain_accuracy(model, dataset) -> float:
    """Accuracy by a plain loop over the whole split (no accelerate)."""
    batch = collate_sequences([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        return float((model.eval()(input_values=batch["input_values"]).logits.argmax(-1) == batch["labels"]).float()
                     .mean())


def test_search_with_recovery_fine_tunes_every_candidate(data):
    from hf_last.experiments.prune import prune_with_search

    model = small_model()
    before = snapshot(model)
    pruned, info = prune_with_search(model, data["validation"], method="last@auto", max_accuracy_loss=0.05,
                                     recovery=config(epochs=None, max_steps=2), train_data=data)
    assert_same(model, before)
    assert info["mode"] == "search" and info["trials"]
    base = plain_accuracy(model, data["validation"])
    assert info["base_accuracy"] == pytest.approx(base, abs=1e-6)
    if info["ratio"] > 0:  # the returned model is a fine-tuned candidate, within tolerance measured independently
        assert pruned.config.pruning["recovery"]["optimizer_steps"] == 2
        assert info["recovery"]["candidates_fine_tuned"] == len(info["trials"])
        assert base - plain_accuracy(pruned, data["validation"]) <= 0.05 + 1e-6
        assert plain_accuracy(pruned, data["validation"]) == pytest.approx(info["accuracy"], abs=1e-6)
    assert pruned.config.pruning["horizon"] == max(len(x) for x in data["validation"]["input_values"])


def test_hf_last_prune_fine_tunes_each_variant(tmp_path):
    from hf_last.cli import main

    model = small_model()
    model.save_pretrained(tmp_path / "base")
    code = main(["prune", str(tmp_path / "base"), "--ratios", "0.5", "--method", "last", "--horizon", "auto",
                 "--task", "digits", "--recover-steps", "2", "--max-train-samples", "64", "--max-eval-samples", "32",
                 "--output-dir", str(tmp_path / "out"), "--name", "tiny"])
    assert code == 0
    saved = json.loads((tmp_path / "out" / "tiny-pruned-50" / "config.json").read_text())["pruning"]
    assert saved["recovery"]["optimizer_steps"] == 2 and saved["recovery"]["num_train_samples"] == 64
    assert saved["horizon"] == 64  # digits sequences: the longest validation sequence
    assert "Pruned in one shot, then fine-tuned" in (tmp_path / "out" / "tiny-pruned-50" / "README.md").read_text()
    with pytest.raises(SystemExit, match="auto"):  # without a task's data there is no L to take
        main(["prune", str(tmp_path / "base"), "--ratios", "0.5", "--horizon", "auto", "--output-dir",
              str(tmp_path / "out2")])


def test_hf_last_prune_refuses_bad_recovery_requests(tmp_path, capsys):
    from hf_last.cli import main

    small_model().save_pretrained(tmp_path / "base")
    torch.manual_seed(0)
    S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=1, state_size=4, num_labels=10,
                                         vocab_size=20, input_size=None)).save_pretrained(tmp_path / "tokens")
    common = ["--ratios", "0.5", "--recover-steps", "2", "--output-dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:  # no --task: which train split would it fine-tune on?
        main(["prune", str(tmp_path / "base"), *common])
    assert exit_info.value.code == 2 and "pass --task T" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="does not fit task 'digits': input_size None"):  # a token model
        main(["prune", str(tmp_path / "tokens"), "--task", "digits", *common])
    with pytest.raises(SystemExit) as exit_info:  # a horizon asked of a method that has none
        main(["prune", str(tmp_path / "base"), "--method", "global_magnitude", "--horizon", "auto", "--task",
              "digits", *common])
    assert exit_info.value.code == 2 and "does not depend on a horizon" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written


def test_recover_refuses_a_model_of_another_task(data):
    model = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=1, state_size=4, num_labels=3))
    with pytest.raises(ValueError, match="num_labels 3 \\(the task's: 10\\)"):
        recover(model, config(), data=data)


def test_comparison_records_every_variant_and_the_dense_control(tmp_path, data):
    from hf_last.experiments.recovery import DENSE_CONTROL, compare_recovery

    splits = DatasetDict(train=data["train"], validation=data["validation"], test=data["validation"])
    model = small_model()
    before = snapshot(model)
    records = compare_recovery(model, splits, ["last"], [0.5], config(epochs=None, max_steps=2), 2,
                               output_dir=tmp_path, batch_size=32)
    assert_same(model, before)
    assert [(r["method"], r["variant"]) for r in records] == [
        ("dense", DENSE_CONTROL), ("last", "one-shot"), ("last", "one-shot+recovery"), ("last", "iterative")]
    base = plain_accuracy(model, splits["test"])
    one_shot = plain_accuracy(LASTPruner(model).prune(0.5), splits["test"])  # independent of the driver
    assert records[1]["test_accuracy"] == pytest.approx(one_shot, abs=1e-6)
    assert records[1]["test_accuracy_loss"] == pytest.approx(base - one_shot, abs=1e-6)
    assert [r["optimizer_steps"] for r in records] == [2, 0, 2, 2]
    summary = (tmp_path / "summary.md").read_text()
    assert "Control: the dense model fine-tuned with the same budget (2 steps)" in summary
    assert "| 50 % |" in summary and "| 0 % |" not in summary  # the control is not a ratio column
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 4


def test_prune_checkpoint_refuses_a_recovery_on_another_task():
    from hf_last.experiments import prune_checkpoint

    with pytest.raises(ValueError, match="RecoveryConfig\\(task='digits'"):
        prune_checkpoint("unused", task="digits", ratio=0.5, recovery=config(task="listops"))


def test_protocol_ratios_on_a_grid_with_a_lucky_pass():
    from hf_last.experiments.recovery import contiguous_protocol_ratio, protocol_ratio

    losses = {0.3: 0.0, 0.5: 0.005, 0.7: 0.02, 0.9: 0.0}  # 90 % passes by luck after 70 % failed
    records = [{"method": "last", "variant": "iterative", "ratio": r, "test_accuracy_loss": loss}
               for r, loss in losses.items()]
    assert protocol_ratio(records, "iterative", "last") == 0.9
    assert contiguous_protocol_ratio(records, "iterative", "last") == 0.5
    records[0]["test_accuracy_loss"] = 0.01  # exactly 1 %p is not < 1 %p
    assert contiguous_protocol_ratio(records, "iterative", "last") == 0.0


def test_split_budget_evenly_or_with_a_longer_last_step(data):
    from hf_last.recovery import split_budget

    assert [c.epochs for c in split_budget(config(epochs=10), 5)] == [2, 2, 2, 2, 2]
    assert [c.epochs for c in split_budget(config(epochs=10), 5, final_share=0.6)] == [1, 1, 1, 1, 6]
    assert [c.max_steps for c in split_budget(config(epochs=None, max_steps=100), 3, final_share=0.5)] == [25, 25, 50]
    assert [c.max_steps for c in split_budget(config(epochs=None, max_steps=7), 3)] == [2, 2, 2]
    with pytest.raises(ValueError, match="final_share"):
        split_budget(config(), 3, final_share=1.0)
    # iterative_prune follows the per-step budgets: optimiser steps per step as given
    budgets = split_budget(config(epochs=None, max_steps=6), 2, final_share=2 / 3)
    result = iterative_prune(small_model(), 0.5, 2, budgets, data=data)
    assert [step["optimizer_steps"] for step in result.steps] == [2, 4]
    with pytest.raises(ValueError, match="one per step"):
        iterative_prune(small_model(), 0.5, 3, budgets, data=data)
