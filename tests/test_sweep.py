"""Sweeps: 2-process evaluation equals 1-process evaluation; the paper's protocol and Table-1 summary on
hand-made records with known answers; report files and plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from helpers import drawn_bars, drawn_lines, drawn_points, mixers, raw_system

pytest.importorskip("accelerate")
pytest.importorskip("matplotlib")

from conftest import reset_accelerate  # noqa: E402
from hf_last import LASTPruner, S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.experiments import run_sweep
from hf_last.evaluation import evaluate_accuracy, predict, sweep
from hf_last.reporting import (
    PAPER_S5_TABLE1,
    method_label,
    paper_comparison_markdown,
    plot_accuracy_vs_states,
    plot_poles,
    plot_states_per_layer,
    protocol,
    protocol_ratio,
    read_records_json,
    summarize_sweep_files,
    summarize,
    summary_markdown,
    write_records_csv,
    write_records_json,
    write_summary,
)

METHODS = ["last", "uniform_magnitude", "random"]
RATIOS = (0.0, 0.3, 0.7, 1.0)
BATCH = 32  # the odd-sized split (269 = 8 * 32 + 13) ends on a partial batch


@pytest.fixture(scope="module")
def test_split():
    pytest.importorskip("sklearn")
    from hf_last.data import load_task

    data = load_task("digits")["test"]
    assert len(data) % 2 == 1 and len(data) % BATCH != 0
    return data


def small_s5(seed: int = 0):
    torch.manual_seed(seed)
    return S5ForSequenceClassification(S5Config(hidden_size=16, num_hidden_layers=2, state_size=8, num_labels=10)).eval()


# ---- data-parallel sweep ---------------------------------------------------------------------------------------
def test_two_process_sweep_equals_one_process(tmp_path, test_split):
    from accelerate import debug_launcher
    from accelerate.utils import patch_environment

    model = small_s5()
    out = tmp_path / "report"

    def worker():
        from accelerate import Accelerator

        torch.set_num_threads(1)
        accelerator = Accelerator(cpu=True)
        assert accelerator.num_processes == 2
        records, _ = run_sweep(model, test_split, out, task="digits", methods=METHODS, ratios=RATIOS,
                               batch_size=BATCH, accelerator=accelerator, metadata={"model": "random-s5"})
        evaluated = evaluate_accuracy(model, test_split, BATCH, accelerator)
        predictions, labels = predict(model, test_split, BATCH, accelerator)
        if accelerator.is_main_process:
            torch.save({"records": records, "evaluated": evaluated, "predictions": predictions, "labels": labels,
                        "rank": accelerator.process_index}, tmp_path / "two.pt")

    reset_accelerate()
    with patch_environment(omp_num_threads=1):  # else accelerate gives each rank 2 threads: 4 on 2 cores
        debug_launcher(worker, num_processes=2)
    reset_accelerate()
    two = torch.load(tmp_path / "two.pt", weights_only=False)

    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    assert accelerator.num_processes == 1
    one_records = sweep(model, test_split, methods=METHODS, ratios=RATIOS, batch_size=BATCH, accelerator=accelerator)
    one_predictions, one_labels = predict(model, test_split, BATCH, accelerator)
    reset_accelerate()

    assert two["records"] == one_records
    assert len(one_records) == len(METHODS) * len(RATIOS)
    # every sample exactly once, in dataset order: no duplicates from the padded last batch, none lost
    assert two["evaluated"]["num_samples"] == len(test_split)
    assert torch.equal(two["labels"], torch.tensor(test_split["label"]))
    assert torch.equal(two["labels"], one_labels)
    assert torch.equal(two["predictions"], one_predictions)
    # the main process wrote the report
    assert read_records_json(out / "sweep.json") == one_records
    for name in ("accuracy_vs_states.png", "accuracy_vs_ratio.png", "states_per_layer.png", "poles_layer0.png"):
        assert (out / name).is_file(), name  # what the plots draw: test_plots_draw_the_records_and_poles
    assert "| **LAST** |" in (out / "summary.md").read_text()


def test_sweep_accuracies_are_each_plans_own(test_split):
    """Against an independent evaluation of the same plan: the sweep evaluates each distinct plan once, and two
    methods that keep the same number of states per layer (uniform magnitude and uniform H∞ at 50 % on the shipped
    S5 digits model) keep different modes and must not share an accuracy."""
    from accelerate import Accelerator

    from hf_last.loading import default_checkpoint, load_model

    model = load_model(default_checkpoint("s5"))
    reset_accelerate()
    accelerator = Accelerator(cpu=True)
    records = sweep(model, test_split, methods=["uniform_magnitude", "uniform_hinf", "last"], ratios=(0.5, 0.6),
                    batch_size=BATCH, accelerator=accelerator)
    at_50 = {r["method"]: r for r in records if r["requested_ratio"] == 0.5}
    assert at_50["uniform_magnitude"]["states_per_layer"] == at_50["uniform_hinf"]["states_per_layer"]
    assert at_50["uniform_magnitude"]["accuracy"] != at_50["uniform_hinf"]["accuracy"]
    for record in records:
        pruned = LASTPruner(model, method=record["method"]).prune(record["requested_ratio"])
        independent = evaluate_accuracy(pruned, test_split, BATCH, accelerator)["accuracy"]
        assert record["accuracy"] == independent, (record["method"], record["requested_ratio"])
    reset_accelerate()


# ---- protocol and summary on hand-made records ----------------------------------------------------------------
def records_for_task(base: float, accuracies: dict[str, dict[float, float]], total: int = 20) -> list[dict]:
    records = []
    for method, by_ratio in accuracies.items():
        for ratio, accuracy in by_ratio.items():
            kept = max(int(total * (1 - ratio)), 2)
            records.append({"method": method, "requested_ratio": ratio, "achieved_ratio": 1 - kept / total,
                            "kept_states": kept, "total_states": total, "states_per_layer": [kept // 2, kept - kept // 2],
                            "accuracy": accuracy, "base_accuracy": base, "accuracy_loss": base - accuracy})
    return records


# task a: LAST within 1 %p up to 0.2 (0.99 %p loss at 0.2), 2 %p at 0.3
TASK_A = records_for_task(0.90, {
    "last": {0.0: 0.90, 0.1: 0.899, 0.2: 0.8901, 0.3: 0.88},
    "uniform_hinf": {0.0: 0.90, 0.1: 0.89, 0.2: 0.85, 0.3: 0.80},
    "random": {0.0: 0.90, 0.1: 0.70, 0.2: 0.60, 0.3: 0.30},
})
# task b: a loss of exactly 1 %p (0.98 - 0.97 in floating point) is not "below 1 %p": non-compressible
TASK_B = records_for_task(0.98, {
    "last": {0.0: 0.98, 0.1: 0.97, 0.2: 0.90},
    "uniform_hinf": {0.0: 0.98, 0.1: 0.95, 0.2: 0.80},
    "random": {0.0: 0.98, 0.1: 0.50, 0.2: 0.20},
})
# task c: LAST within 1 %p up to 0.4 (even improves at 0.1)
TASK_C = records_for_task(0.80, {
    "last": {0.0: 0.80, 0.1: 0.81, 0.2: 0.80, 0.4: 0.7969, 0.5: 0.70},
    "uniform_hinf": {0.0: 0.80, 0.1: 0.80, 0.2: 0.79, 0.4: 0.76, 0.5: 0.5},
    "random": {0.0: 0.80, 0.1: 0.75, 0.2: 0.70, 0.4: 0.40, 0.5: 0.1},
})


def test_protocol_ratio_largest_strictly_below_threshold():
    assert protocol_ratio(TASK_A) == 0.2
    assert protocol_ratio(TASK_B) == 0.0  # loss == 0.01 exactly does not count
    assert protocol_ratio(TASK_C) == 0.4
    assert protocol_ratio(TASK_A, max_accuracy_loss=0.03) == 0.3
    assert protocol_ratio(TASK_A, method="uniform_hinf") == 0.0  # 1 %p at 0.1 (0.90 - 0.89)
    with pytest.raises(ValueError, match="no records for method"):
        protocol_ratio(TASK_A, method="lamp")


def test_protocol_reads_baselines_at_lasts_ratio():
    row = protocol(TASK_A)
    assert row["ratio"] == 0.2 and row["compressible"]
    assert row["methods"]["uniform_hinf"]["accuracy_loss"] == pytest.approx(0.05)
    assert row["methods"]["random"]["accuracy_loss"] == pytest.approx(0.30)
    assert row["methods"]["last"]["accuracy_loss"] == pytest.approx(0.0099)
    non = protocol(TASK_B)
    assert non["ratio"] == 0.0 and not non["compressible"]
    assert all(m["accuracy_loss"] == 0.0 for m in non["methods"].values())
    missing = [r for r in TASK_A if not (r["method"] == "random" and r["requested_ratio"] == 0.2)]
    with pytest.raises(ValueError, match="not evaluated at ratio 0.2"):
        protocol(missing)


def test_summary_averages_and_markdown(tmp_path):
    summary = summarize({"a": TASK_A, "b": TASK_B, "c": TASK_C})
    assert summary["num_tasks"] == 3 and summary["num_compressible"] == 2
    last, uniform, rand = (summary["methods"][m] for m in ("last", "uniform_hinf", "random"))
    assert last["avg_ratio"] == pytest.approx(0.2) and last["avg_ratio_compressible"] == pytest.approx(0.3)
    assert last["avg_loss"] == pytest.approx((0.0099 + 0 + 0.0031) / 3)
    assert last["avg_loss_compressible"] == pytest.approx((0.0099 + 0.0031) / 2)
    assert uniform["avg_loss"] == pytest.approx((0.05 + 0 + 0.04) / 3)
    assert rand["avg_loss_compressible"] == pytest.approx((0.30 + 0.40) / 2)
    assert list(summary["methods"]) == ["random", "uniform_hinf", "last"]  # the paper's table order

    text = summary_markdown(summary)
    assert "| **LAST** | 20.00 (30.00) | 0.43 (0.65) |" in text
    assert "| Random | 20.00 (30.00) | 23.33 (35.00) |" in text
    assert "| b | 98.00 | 0 (non-compressible) | 0.00 | 0.00 | 0.00 |" in text
    assert "| a | 90.00 | 20 | 30.00 | 5.00 | 0.99 |" in text

    comparison = paper_comparison_markdown(summary)
    assert "published S5 numbers" in comparison and "paper: avg loss %p" in comparison
    assert "| LAST | 33.00 (36.67) | 0.52 (0.58) | 20.00 (30.00) | 0.43 (0.65) |" in comparison
    assert "| LAMP | 33.00 (36.67) | 18.07 (20.07) | not run | not run |" in comparison
    assert set(PAPER_S5_TABLE1) >= {"last", "random", "lamp", "uniform_hinf", "global_hinf"}

    written = write_summary({"a": TASK_A, "b": TASK_B}, tmp_path / "summary.md")
    assert (tmp_path / "summary.md").read_text().startswith("## ")
    assert json.loads((tmp_path / "summary.json").read_text())["num_compressible"] == written["num_compressible"] == 1


def test_summary_across_sweep_files(tmp_path):
    write_records_json(TASK_A, tmp_path / "a" / "sweep.json", {"task": "a"})
    write_records_json(TASK_C, tmp_path / "c" / "sweep.json", {"task": "c", "model": "m"})
    write_records_json(TASK_B, tmp_path / "b" / "sweep.json")  # no metadata: the folder name
    summary = summarize_sweep_files([tmp_path / n / "sweep.json" for n in "acb"], tmp_path / "table.md")
    assert list(summary["tasks"]) == ["a", "c (m)", "b"]
    assert summary["methods"]["last"]["avg_ratio"] == pytest.approx(0.2)
    assert "Comparison with the paper" in (tmp_path / "table.md").read_text()
    with pytest.raises(ValueError, match="two sweep files"):
        summarize_sweep_files([tmp_path / "a" / "sweep.json"] * 2, tmp_path / "t2.md")


def test_records_json_csv_round_trip(tmp_path):
    write_records_json(TASK_A, tmp_path / "r.json", {"task": "a"})
    assert read_records_json(tmp_path / "r.json") == TASK_A
    write_records_csv(TASK_A, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(TASK_A)
    assert rows[0]["method"] == "last" and [int(n) for n in rows[0]["states_per_layer"].split()] == TASK_A[0]["states_per_layer"]
    assert float(rows[2]["accuracy_loss"]) == pytest.approx(TASK_A[2]["accuracy_loss"])


def expected_curve(records, method, x="kept_states"):
    """(x, accuracy %) of ``method``'s records in order of requested ratio, recomputed here from the records."""
    own = sorted((r for r in records if r["method"] == method), key=lambda r: r["requested_ratio"])
    return ([100 * r[x] if x == "requested_ratio" else r[x] for r in own], [100 * r["accuracy"] for r in own])


def assert_accuracy_lines(figure, records, x="kept_states"):
    lines = drawn_lines(figure)
    for method in {r["method"] for r in records}:
        got_x, got_y = lines[method_label(method)]
        want_x, want_y = expected_curve(records, method, x)
        assert got_x == want_x and got_y == pytest.approx(want_y, abs=1e-12), method
    assert lines["dense"][1] == pytest.approx([100 * records[0]["base_accuracy"]] * 2)


def test_plots_draw_the_records_and_poles(tmp_path, saved_figures):
    plot_accuracy_vs_states(TASK_C, tmp_path / "acc.png")
    assert_accuracy_lines(saved_figures["acc.png"], TASK_C)
    plot_accuracy_vs_states(TASK_C, tmp_path / "acc_ratio.png", x="requested_ratio", mark=0.4, mark_label="chosen")
    assert_accuracy_lines(saved_figures["acc_ratio.png"], TASK_C, x="requested_ratio")
    assert drawn_lines(saved_figures["acc_ratio.png"])["chosen"][0] == [40.0, 40.0]

    plot_states_per_layer(TASK_C, tmp_path / "layers.png", ratios=(0.2, 0.4))
    last = {r["requested_ratio"]: r["states_per_layer"] for r in TASK_C if r["method"] == "last"}
    assert drawn_bars(saved_figures["layers.png"]) == {"dense": last[0.0], "20 %": last[0.2], "40 %": last[0.4]}

    torch.manual_seed(0)
    s4d = S4DForSequenceClassification(S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=8, num_labels=3))
    s5 = small_s5()
    for name, dense, layer in (("poles_s5.png", s5, 1), ("poles_s4d.png", s4d, 0)):  # S4D: every channel's modes
        pruned = LASTPruner(dense).prune(0.6)
        plot_poles(dense, pruned, tmp_path / name, layer=layer)
        points = drawn_points(saved_figures[name])
        for label, model in (("before", dense), ("after", pruned)):
            poles, _, _ = raw_system(mixers(model)[layer], model.config)
            poles = np.concatenate([poles, poles.conj()])  # conjugate pairs: both poles are drawn
            (drawn,) = [p for text, p in points.items() if text.startswith(label)]
            np.testing.assert_allclose(np.sort_complex(drawn), np.sort_complex(poles), rtol=1e-6, err_msg=name)
    with pytest.raises(IndexError):
        plot_poles(s4d, s4d, tmp_path / "bad.png", layer=5)


def test_loss_by_ratio_table_averages_over_tasks():
    from hf_last.reporting import loss_by_ratio_markdown

    def records(offset):
        return [{"method": m, "requested_ratio": r, "accuracy_loss": loss + offset}
                for m, r, loss in [("last", 0.1, 0.01), ("last", 0.2, 0.03), ("random", 0.1, 0.2)]]

    table = loss_by_ratio_markdown({"a": records(0.0), "b": records(0.02)}, ratios=(0.1, 0.2))
    assert "| LAST | 2.00 | 4.00 |" in table  # (1 + 3) / 2 and (3 + 5) / 2 %p
    assert "| Random | 21.00 | – |" in table  # missing at r = 0.2: no average over a partial set
