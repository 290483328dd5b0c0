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


# ---- search over fine-tuned candidates ------------------------------------------------------------------------
class MarkingFinetune:
    """A stand-in fine-tune: returns the candidate marked as fine-tuned (the same object), counting its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, candidate):
        self.calls.append(sum(candidate.config.pruning["states_per_layer_after"]))
        candidate.fine_tuned = True
        return candidate


def threshold_accuracy(needed_dense: int, needed_fine_tuned: int):
    """Accuracy 1 while the model keeps at least the needed states (fewer once fine-tuned), else 0."""

    def evaluate(candidate) -> float:
        pruning = getattr(candidate.config, "pruning", None)
        kept = sum(pruning["states_per_layer_after"]) if pruning else None
        needed = needed_fine_tuned if getattr(candidate, "fine_tuned", False) else needed_dense
        return 1.0 if kept is None or kept >= needed else 0.0

    return evaluate


def test_search_over_fine_tuned_candidates_finds_the_brute_force_ratio(model):
    pruner = LASTPruner(model)
    plan = pruner.plan(0.0)
    total, step = sum(plan.states_before), max(plan.states_per_mode)
    evaluate = threshold_accuracy(needed_dense=total // 2, needed_fine_tuned=total // 8)
    one_shot = pruner.search(evaluate, return_result=True)
    finetune = MarkingFinetune()
    recovered = pruner.search(evaluate, return_result=True, finetune=finetune)
    # brute force over every kept-state count (multiples of the states per mode): the fewest whose fine-tuned
    # accuracy stays within tolerance; the search must land exactly there
    counts = range(sum(plan.states_per_mode), total + 1, step)
    fewest = min(k for k in counts if k >= total // 8)
    assert round(total * (1 - recovered.ratio)) == fewest
    assert round(total * (1 - one_shot.ratio)) == min(k for k in counts if k >= total // 2)
    assert recovered.model.fine_tuned is True  # the returned model is the fine-tuned candidate
    assert finetune.calls == [t.kept_states for t in recovered.trials]  # every candidate, once, before evaluation
    assert not hasattr(pruner.model, "fine_tuned")  # the dense reference is not fine-tuned


def test_search_refuses_a_finetune_that_is_not_callable(model):
    with pytest.raises(TypeError, match="finetune must be a callable"):
        LASTPruner(model).search(threshold_accuracy(1, 1), finetune="recover")
