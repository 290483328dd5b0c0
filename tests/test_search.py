"""LASTPruner.search: the returned model is within tolerance, the next larger ratio it tried is not, and
2 processes return the same model as 1."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("accelerate")
pytest.importorskip("sklearn")

from conftest import reset_accelerate  # noqa: E402
from hf_last import LASTPruner
from hf_last.collate import collate_sequences
from hf_last.data import load_task
from hf_last.evaluation import accuracy_on

TOLERANCE = 0.01
BATCH = 64


@pytest.fixture(scope="module")
def model():
    """The shipped S5 digits checkpoint."""
    from hf_last.loading import default_checkpoint, load_model

    return load_model(default_checkpoint("s5"))


@pytest.fixture(scope="module")
def validation():
    return load_task("digits")["validation"]


@pytest.fixture(scope="module")
def one_process(model, validation):
    from accelerate import Accelerator

    reset_accelerate()
    torch.set_num_threads(1)
    result = LASTPruner(model).search(accuracy_on(validation, BATCH, Accelerator(cpu=True)),
                                      max_accuracy_loss=TOLERANCE, return_result=True)
    reset_accelerate()
    return result


@torch.no_grad()
def plain_accuracy(model, dataset) -> float:
    """Accuracy without accelerate: a plain loop over the whole split."""
    correct = 0
    for start in range(0, len(dataset), BATCH):
        batch = collate_sequences([dataset[i] for i in range(start, min(start + BATCH, len(dataset)))])
        correct += (model(input_values=batch["input_values"]).logits.argmax(-1) == batch["labels"]).sum().item()
    return correct / len(dataset)


def test_search_returns_largest_feasible_count(model, validation, one_process):
    result = one_process
    pruner = LASTPruner(model)
    plan = pruner.plan(0.0)
    total, step = sum(plan.states_before), max(plan.states_per_mode)
    base = plain_accuracy(model, validation)
    assert result.base_accuracy == pytest.approx(base, abs=1e-12)

    # the returned model, measured independently, is within the tolerance
    measured = plain_accuracy(result.model, validation)
    assert base - measured <= TOLERANCE + 1e-12
    assert measured == pytest.approx(result.accuracy, abs=1e-12)
    kept = round(total * (1 - result.ratio))
    assert sum(result.model.config.pruning["states_per_layer_after"]) == kept

    # the next larger ratio it tried (the infeasible trial keeping the most states) is out of tolerance and
    # adjacent: one mode fewer than the returned model
    infeasible = [t for t in result.trials if not t.within_tolerance]
    assert infeasible, "the search never met an infeasible count; the test needs a model that loses > 1 %p"
    boundary = max(infeasible, key=lambda t: t.kept_states)
    assert boundary.kept_states == kept - step
    assert all(t.kept_states <= kept for t in infeasible)
    assert all(t.within_tolerance for t in result.trials if t.kept_states >= kept)
    assert base - plain_accuracy(pruner.prune(boundary.ratio), validation) > TOLERANCE
    assert result.ratio > 0 or kept == total


def test_search_takes_an_evaluate_callable(model, validation):
    with pytest.raises(TypeError, match="accuracy_on"):
        LASTPruner(model).search(validation)


def test_two_processes_return_the_same_model(tmp_path, model, validation, one_process):
    from accelerate import Accelerator, debug_launcher
    from accelerate.utils import patch_environment

    def worker():
        torch.set_num_threads(1)
        accelerator = Accelerator(cpu=True)
        assert accelerator.num_processes == 2
        result = LASTPruner(model).search(accuracy_on(validation, BATCH, accelerator), max_accuracy_loss=TOLERANCE,
                                          return_result=True)
        if accelerator.is_main_process:
            torch.save({"ratio": result.ratio, "kept_modes": result.model.pruning_plan.kept_modes,
                        "trials": [vars(t) for t in result.trials], "state_dict": result.model.state_dict(),
                        "config": result.model.config.to_dict()}, tmp_path / "two.pt")

    reset_accelerate()
    with patch_environment(omp_num_threads=1):  # else accelerate gives each rank 2 threads: 4 on 2 cores
        debug_launcher(worker, num_processes=2)
    reset_accelerate()
    two = torch.load(tmp_path / "two.pt", weights_only=False)
    one = one_process
    assert two["ratio"] == one.ratio
    assert two["kept_modes"] == one.model.pruning_plan.kept_modes
    assert two["trials"] == [vars(t) for t in one.trials]
    assert two["config"]["per_layer_config"] == one.model.config.to_dict()["per_layer_config"]
    state = one.model.state_dict()
    assert two["state_dict"].keys() == state.keys()
    assert all(torch.equal(two["state_dict"][k], state[k]) for k in state)
