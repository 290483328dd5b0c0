"""``hf-last demo`` end to end on the shipped checkpoint, its overwrite protection, and ``hf-last sweep``."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("accelerate")
pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from conftest import reset_accelerate  # noqa: E402
from helpers import drawn_lines  # noqa: E402
from hf_last.cli import main
from hf_last.experiments import DEMO_BASELINES, DEMO_MARKER, check_output_dir
from hf_last.reporting import method_label


@pytest.fixture(autouse=True)
def forget_accelerate():
    yield
    reset_accelerate()


@pytest.fixture(scope="module")
def model_args():
    """The demo's default: the shipped S5 digits checkpoint (must be installed with the package)."""
    from hf_last.loading import default_checkpoint

    default_checkpoint("s5")
    return []


def assert_plots_records(figure, records, x: str) -> None:
    """Every method's line is its records' accuracy (%) against ``x`` (ratios in %), in order of ratio."""
    lines = drawn_lines(figure)
    for method in {r["method"] for r in records}:
        own = sorted((r for r in records if r["method"] == method), key=lambda r: r["requested_ratio"])
        xs, ys = lines[method_label(method)]
        assert xs == pytest.approx([100 * r[x] if x.endswith("ratio") else r[x] for r in own], abs=1e-9), method
        assert ys == pytest.approx([100 * r["accuracy"] for r in own], abs=1e-9), method


def test_demo_end_to_end(tmp_path, model_args, capsys, saved_figures):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(out), *model_args]) == 0
    printed = capsys.readouterr().out
    assert "hf-last demo:" in printed and "test accuracy:" in printed and "of states removed" in printed
    assert all(f"[{step}/4]" in printed for step in range(1, 5))  # progress while it works

    summary = json.loads((out / DEMO_MARKER).read_text())
    folder = out / "pruned_model"
    for name in ("config.json", "model.safetensors", "README.md", "pruning_plan.json", "accuracy_vs_ratio.png"):
        assert (folder / name).is_file(), name
    records = json.loads((out / "sweep.json").read_text())["records"]
    assert_plots_records(saved_figures["accuracy_vs_ratio.png"], records, x="requested_ratio")
    card = (folder / "README.md").read_text()
    assert "pruned" in card and "digits" in card
    pruned = AutoModelForSequenceClassification.from_pretrained(folder)
    assert pruned.config.pruning["method"] == "last"
    assert pruned.config.pruning["horizon"] == 64 == summary["horizon"]  # "auto": the digits sequences' length

    # the three curves: LAST as published, LAST at the data's horizon, and the strongest baseline on validation,
    # i.e. the baseline with the largest ratio losing < 1 %p there (ties: higher mean accuracy)
    baseline = summary["strongest_baseline"]
    assert {r["method"] for r in records} == {"last", "last@auto", baseline}
    validation = json.loads((out / "validation_sweep.json").read_text())["records"]

    def strength(method):
        own = [r for r in validation if r["method"] == method]
        ok = [r["requested_ratio"] for r in own if r["requested_ratio"] > 0 and r["accuracy_loss"] < 0.01 - 1e-9]
        return max(ok, default=0.0), sum(r["accuracy"] for r in own) / len(own)

    assert baseline in DEMO_BASELINES
    assert all(strength(baseline) >= strength(other) for other in DEMO_BASELINES)
    assert sum(pruned.config.pruning["states_per_layer_after"]) == summary["states_after"]
    assert summary["states_after"] == round(summary["states_before"] * (1 - summary["ratio"]))
    assert summary["validation_search"]["accuracy_loss"] <= 0.01 + 1e-12
    assert summary["test_samples"] == 269
    assert f"{100 * summary['test_accuracy_after']:.2f} %" in printed
    check_output_dir(out)  # an earlier demo output may be reused without --overwrite


def test_demo_refuses_foreign_nonempty_dir(tmp_path, model_args, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my thesis")
    with pytest.raises(SystemExit, match="--overwrite"):
        main(["demo", "--output-dir", str(out), *model_args])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # nothing written
    with pytest.raises(SystemExit, match="not a directory"):
        main(["demo", "--output-dir", str(out / "notes.txt"), *model_args])

    # --overwrite writes the demo's files next to the user's and deletes nothing (fixed ratio: no search)
    assert main(["demo", "--output-dir", str(out), "--overwrite", "--ratio", "0.5", "--horizon", "none",
                 *model_args]) == 0
    assert (out / "notes.txt").read_text() == "my thesis"
    summary = json.loads((out / DEMO_MARKER).read_text())
    assert summary["ratio"] == 0.5 and summary["horizon"] is None and summary["method"] == "last"
    assert "fixed ratio 0.5" in capsys.readouterr().out


def test_sweep_subcommand(tmp_path, model_args, capsys, saved_figures):
    out = tmp_path / "sweep"
    assert main(["sweep", "--default", "s5", "--methods", "last,random", "--ratios", "0,0.5", "--output-dir", str(out)]) == 0
    records = json.loads((out / "sweep.json").read_text())["records"]
    assert [(r["method"], r["requested_ratio"]) for r in records] == [("last", 0.0), ("last", 0.5), ("random", 0.0),
                                                                      ("random", 0.5)]
    assert (out / "summary.md").is_file()
    assert_plots_records(saved_figures["accuracy_vs_states.png"], records, x="kept_states")
    assert "protocol ratio" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sweep", "--default", "s5", "--methods", "nope", "--output-dir", str(out)])
