"""Dense vs LAST-pruned S5 and S4D models on CPU: parallel forward, recurrent step, peak memory, pruning cost.

Run from the repository root:

    python benchmarks/bench_pruning.py                 # full run, writes results/bench_pruning.{json,md}
    python benchmarks/bench_pruning.py --quick         # smoke run (L=128, few repeats), writes *_quick.*

Models (untrained, random init; LAST on an untrained model is fine for timing):
- S5: 6 layers, hidden_size=128, state_size=256 (conj_sym: 128 stored modes per layer), blocks=16,
  bidirectional=False (so step mode exists), input_size=1, num_labels=10.
- S4D: 6 layers, hidden_size=128, state_size=64 per channel (32 stored modes per channel, 4096 per layer).
- the residual block around every SSM (``--block``): ``paper`` (default) is the S5 reference scripts' LRA
  setting for 6 x 128 x 256 models (Retrieval, Path-X): prenorm BatchNorm and half_glu1; ``library`` is this
  library's config defaults (prenorm LayerNorm, GLU) and writes ``bench_pruning_library_block.*``.
Each is compared with ``LASTPruner(dense).prune(r)`` for r in 0.33, 0.5, 0.8 (physically smaller copies).
Inputs: B=8, L=1024, float32, everything under ``torch.no_grad()``.

Measurements (medians; the four models of a family are timed in interleaved rounds, dense/pruned/...
in one round, rotating the order every round, so load from other processes hits all of them alike):
- parallel: ``model(input_values=x)`` over (B, L); plus the six ``layer.mixer(u)`` calls alone (random u of
  shape (B, L, H)), timed in the same rounds, giving the SSM share of the dense forward (it caps the speed-up
  that pruning states can bring: Amdahl).
- recurrent forward: ``model(input_values=x, mode="recurrent")`` over (B, L): every layer runs its recurrence
  one time step after another (S5 batches B̄u and the output map over time); plus the six mixers alone.
- step: ``model.backbone.step(state, input_values=x[:, t])`` for ``--steps`` steps from the zero state
  (streaming, one token of each of the B sequences per call), reported per step; plus the six
  ``mixer.recurrent_step`` calls alone with the cached discrete system (as the generic ``SSMBlock.step`` runs
  them), and with the system precomputed (as the eval streaming plan, ``backbone.streaming_plan``, runs them);
  the rest of the blocks in a step (the plan's ``BlockStep`` norm and channel mixing) and, for S5, the step's
  matrix products alone (what pruning could at most gain per step); and the S5 step of dense vs 50 % at
  larger batches (``--step-batches``).
- peak memory: one fresh subprocess per model (``--memory-worker``), started with
  ``MALLOC_MMAP_THRESHOLD_=65536`` so that every tensor above 64 KiB is its own mmap and goes back to the OS
  when freed (glibc otherwise keeps freed heap pages resident and adapts the threshold, so RSS would show the
  history of the process, not the forward). The worker builds the model, runs one warm-up forward, resets the
  kernel's RSS high-water mark (``echo 5 > /proc/self/clear_refs``), reads VmRSS, runs the forward under
  no_grad and reads VmHWM: peak = VmHWM − VmRSS before (max over ``--memory-repeats`` forwards). This sees
  every allocation of the forward (torch's CPU allocator has no cache; library workspaces included) and
  nothing of imports and model construction. A calibration allocation of a known size is measured the same
  way. ``tracemalloc`` would not see torch's allocations; the torch profiler's CPU memory events attach
  allocations to ops and frees to separate events, so a faithful timeline cannot be rebuilt from them.
- pruning: ``LASTPruner(model).prune(0.5)`` (scores + plan + surgery = deep copy and ``keep_modes``), and
  ``plan`` / ``apply`` separately, median over repeats.

Threads: ``torch.set_num_threads(1)`` by default (``--threads N``): the machine has 2 cores shared with other
users' trainings; a single-threaded process is delayed only when the scheduler takes its core away, which
stretches dense and pruned calls of the same round alike, whereas a multi-threaded op waits on its slowest,
possibly descheduled, thread (see the contention notes in results/bench_layers.md). The ratio of process CPU
time to wall time of every timed call is recorded (1.0 = never descheduled) along with the load average.

Targets (from the measured medians):
- S5 pruned 50 %: >= 1.6x faster than dense in parallel (scan) mode;
- S5 pruned 50 %: >= 1.6x faster than dense for the recurrent-mode forward over (B, L);
- S5 pruned 50 %: >= 1.4x faster than dense for the streaming ``backbone.step`` per token at B=8 (issue 13);
- S5 pruned 50 %: peak memory of the forward <= 0.65x of dense (issue 13); the peak of one mixer alone is
  reported next to it (the SSM's own buffers, without the block's (B, L, H) ones);
- S5 ``LASTPruner(model).prune(0.5)``: < 0.2 s (median).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from hf_last import LASTPruner, S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification

from harness import (  # benchmarks/ is on sys.path when a script runs from it
    git_state,
    load_average,
    paired_ratio,
    pass_fail,
    run_environment,
    summarize,
    time_rounds,
    write_report,
)

RATIOS = (0.0, 0.33, 0.5, 0.8)
PARALLEL_TARGET = 1.6  # S5 pruned 50 % vs dense, parallel forward
STEP_TARGET = 1.6  # S5 pruned 50 % vs dense, recurrent-mode forward over (B, L)
STREAM_STEP_TARGET = 1.4  # S5 pruned 50 % vs dense, streaming backbone.step at B=8
MEMORY_TARGET = 0.65  # S5 pruned 50 %: peak memory of the forward / dense
PRUNE_TIME_TARGET_S = 0.2  # LASTPruner(S5).prune(0.5)
TARGET_RATIO = 0.5
MEASURED_SOURCES = ("models", "ssm", "pruning")  # hf_last sub-packages whose code this benchmark times


# ----------------------------------------------------------------------------------------------- models


# The residual block around the SSM. "paper": the S5 reference scripts' LRA settings for 6 x 128 x 256 models
# (Retrieval, Path-X): prenorm BatchNorm and run_train.py's default activation half_glu1. "library": this
# library's config defaults (prenorm LayerNorm, GLU with a 2H-wide output linear).
BLOCKS = {
    "paper": {"norm_type": "batch", "prenorm": True, "activation": "half_glu1"},
    "library": {"norm_type": "layer", "prenorm": True, "activation": "glu"},
}


def build_dense(family: str, args) -> torch.nn.Module:
    torch.manual_seed(args.seed)
    block = BLOCKS[args.block]
    if family == "S5":
        config = S5Config(hidden_size=args.hidden, num_hidden_layers=args.layers, state_size=256, blocks=args.blocks,
                          conj_sym=True, bidirectional=False, input_size=1, num_labels=10, **block)
        return S5ForSequenceClassification(config).eval()
    config = S4DConfig(hidden_size=args.hidden, num_hidden_layers=args.layers, state_size=64, conj_sym=True,
                       bidirectional=False, input_size=1, num_labels=10, **block)
    return S4DForSequenceClassification(config).eval()


def build_models(family: str, args) -> dict[float, torch.nn.Module]:
    """{ratio: model}: the dense model (ratio 0) and its LAST-pruned copies."""
    dense = build_dense(family, args)
    pruner = LASTPruner(dense)
    return {ratio: dense if ratio == 0 else pruner.prune(ratio).eval() for ratio in RATIOS}


def label(ratio: float) -> str:
    return "dense" if ratio == 0 else f"pruned {round(100 * ratio)}%"


def describe(model) -> dict:
    mixers = [layer.mixer for layer in model.backbone.layers]
    states_per_mode = 2 if model.config.conj_sym else 1
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "param_mb": sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20,
        "ssm_params": sum(p.numel() for m in mixers for p in m.parameters()),
        "stored_modes_per_layer": [m.num_modes for m in mixers],
        "states": sum(m.num_modes for m in mixers) * states_per_mode,
        "achieved_ratio": (model.config.pruning or {}).get("achieved_ratio", 0.0),
        "s4d_uniform_layers": [bool(m.uniform) for m in mixers] if hasattr(mixers[0], "uniform") else None,
        "s4d_max_modes_per_channel": [m.max_modes for m in mixers] if hasattr(mixers[0], "max_modes") else None,
    }


# ----------------------------------------------------------------------------------------------- timing


def bench_forward(models: dict, args, mode: str) -> dict:
    """``model(input_values=x, mode=mode)`` over (B, L), and the six mixers alone in that mode."""
    x = torch.randn(args.batch, args.length, 1)
    u = [torch.randn(args.batch, args.length, args.hidden) for _ in range(args.layers)]
    fns = {}
    for ratio, model in models.items():
        layers = model.backbone.layers
        fns[(ratio, "model")] = (lambda m=model: m(input_values=x, mode=mode))
        fns[(ratio, "mixers")] = (lambda ls=layers: [layer.mixer(ui, mode=mode) for layer, ui in zip(ls, u)])
        if mode == "parallel" and hasattr(layers[0].mixer, "kernel"):  # S4D: the state-dependent part (not the FFT conv)
            fns[(ratio, "kernels")] = (lambda ls=layers: [layer.mixer.kernel(args.length) for layer in ls])
    raw = time_rounds(fns, args.repeats if mode == "parallel" else args.recurrent_repeats)
    return collect(raw, models, scale=1e3)  # ms per forward


def bench_step(models: dict, args) -> dict:
    x = torch.randn(args.batch, args.steps, 1)
    x_steps = [x[:, t] for t in range(args.steps)]
    u = [torch.randn(args.steps, args.batch, args.hidden).unbind(0) for _ in range(args.layers)]
    fns = {}
    for ratio, model in models.items():
        backbone = model.backbone
        mixers = [layer.mixer for layer in backbone.layers]
        with torch.no_grad():
            systems = [m.recurrent_system() for m in mixers]

        def whole(b=backbone):
            state = b.init_recurrent_state(args.batch)
            for x_t in x_steps:
                _, state = b.step(state, input_values=x_t)

        def mixers_alone(ms=mixers, b=backbone):  # what backbone.step runs of each mixer
            states = b.init_recurrent_state(args.batch)
            for t in range(args.steps):
                for i, m in enumerate(ms):
                    _, states[i] = m.recurrent_step(m.cached_recurrent_system(), u[i][t], states[i])

        def mixers_precomputed(ms=mixers, b=backbone, sy=systems):
            states = b.init_recurrent_state(args.batch)
            for t in range(args.steps):
                for i, m in enumerate(ms):
                    _, states[i] = m.recurrent_step(sy[i], u[i][t], states[i])

        plan = backbone.streaming_plan(1.0)  # what backbone.step runs in eval mode under no_grad
        blocks = plan[0] if plan is not None else None

        def block_rest(ls=backbone.layers, bs=blocks):  # a block step minus the mixer: norm, GELU, output layer, residual
            if bs is not None:
                for t in range(args.steps):
                    for i, block in enumerate(bs):
                        block.mix_channels(block.normalize(u[i][t]), u[i][t])
                return
            for t in range(args.steps):
                for i, layer in enumerate(ls):
                    layer.step_channels(layer.step_norm(u[i][t]), u[i][t])

        fns[(ratio, "model")] = whole
        fns[(ratio, "mixers")] = mixers_alone
        fns[(ratio, "mixers_precomputed")] = mixers_precomputed
        fns[(ratio, "block_rest")] = block_rest
        if hasattr(mixers[0], "input_weight"):  # S5: the system holds real (H, 2P) / (2P, H) weights
            weights = [(sy[1], sy[2], layer.output_linear.weight, layer.output_linear.bias)
                       for sy, layer in zip(systems, backbone.layers)]
            fns[(ratio, "matmuls_only")] = (lambda ws=weights: step_matmuls(ws, u, args))
    raw = time_rounds(fns, args.step_repeats)
    return collect(raw, models, scale=1e6 / args.steps)  # µs per step


def bench_step_batches(models: dict, args) -> dict:
    """Streaming ``backbone.step`` of the dense and the 50 % model at several batch sizes (µs per step)."""
    pair = {ratio: models[ratio] for ratio in (0.0, TARGET_RATIO)}
    out = {}
    for batch in args.step_batches:
        x = torch.randn(batch, args.batch_steps, 1)

        def stream(b, x=x, batch=batch):
            state = b.init_recurrent_state(batch)
            for t in range(x.shape[1]):
                _, state = b.step(state, input_values=x[:, t])

        raw = time_rounds({label(ratio): (lambda m=model: stream(m.backbone)) for ratio, model in pair.items()},
                          args.batch_repeats)
        dense, pruned = raw[label(0.0)]["wall"], raw[label(TARGET_RATIO)]["wall"]
        out[batch] = {"dense_us": 1e6 * statistics.median(dense) / args.batch_steps,
                      "pruned_us": 1e6 * statistics.median(pruned) / args.batch_steps,
                      "speedup": statistics.median(dense) / statistics.median(pruned),
                      "speedup_paired": paired_ratio(dense, pruned)}
    return out


def step_matmuls(weights, u, args) -> None:
    """Only the matrix products of S5 streaming steps: B̄u, the output map and the block's output linear of
    every layer, on (B, ·) operands; everything else (state update, norm, GELU, gates, residual, dispatch
    around them) left out. What a step would cost if all of that were free."""
    for t in range(args.steps):
        for i, (input_weight, output_weight, linear_weight, linear_bias) in enumerate(weights):
            b_u = u[i][t] @ input_weight  # (B, 2P): B̄u as real pairs (stands in for the state)
            torch.nn.functional.linear(b_u @ output_weight, linear_weight, linear_bias)


def collect(raw: dict, models: dict, scale: float) -> dict:
    parts = sorted({part for _, part in raw})
    result = {}
    dense_model = raw[(0.0, "model")]["wall"]
    dense_mixers = raw[(0.0, "mixers")]["wall"]
    for ratio in models:
        entry = {part: summarize(raw[(ratio, part)], scale) for part in parts}
        model_wall = raw[(ratio, "model")]["wall"]
        entry["speedup_vs_dense"] = statistics.median(dense_model) / statistics.median(model_wall)
        entry["speedup_vs_dense_paired"] = paired_ratio(dense_model, model_wall)
        entry["speedup_vs_dense_min"] = min(dense_model) / min(model_wall)
        entry["speedup_vs_dense_cpu"] = statistics.median(raw[(0.0, "model")]["cpu"]) / statistics.median(raw[(ratio, "model")]["cpu"])
        entry["mixer_speedup_vs_dense"] = statistics.median(dense_mixers) / statistics.median(raw[(ratio, "mixers")]["wall"])
        entry["mixer_share"] = entry["mixers"]["median"] / entry["model"]["median"]
        result[label(ratio)] = entry
    return result


def amdahl(share: float, kept_fraction: float) -> float:
    """Whole-model speed-up if only the SSM part (``share`` of the time) shrinks to ``kept_fraction``."""
    return 1.0 / (1.0 - share + share * kept_fraction)


def bench_prune_time(family: str, dense, args) -> dict:
    pruner = LASTPruner(dense)
    plan = pruner.plan(TARGET_RATIO)
    raw = time_rounds({
        "prune": lambda: LASTPruner(dense).prune(TARGET_RATIO),
        "plan": lambda: LASTPruner(dense).plan(TARGET_RATIO),
        "apply": lambda: pruner.apply(plan),
    }, args.prune_repeats)
    return {name: summarize(samples, 1.0) for name, samples in raw.items()}


@torch.no_grad()
def check_pruned(models: dict, args) -> dict:
    """Sanity: finite logits, and parallel vs step mode agree on the first steps (max rel diff)."""
    x = torch.randn(2, 32, 1)
    out = {}
    for ratio, model in models.items():
        parallel = model.backbone(input_values=x).last_hidden_state
        state = model.backbone.init_recurrent_state(2)
        steps = []
        for t in range(x.shape[1]):
            y, state = model.backbone.step(state, input_values=x[:, t])
            steps.append(y)
        stepped = torch.stack(steps, 1)
        out[label(ratio)] = {
            "logits_finite": bool(torch.isfinite(model(input_values=x).logits).all()),
            "max_rel_diff_parallel_vs_step": ((parallel - stepped).abs().max() / stepped.abs().max()).item(),
        }
    return out


# ----------------------------------------------------------------------------------------------- memory


def read_status() -> dict:
    text = Path("/proc/self/status").read_text()
    return {key: 1024 * int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1)) for key in ("VmRSS", "VmHWM")}


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def measure_peak(fn, repeats: int) -> list[int]:
    peaks = []
    for _ in range(repeats):
        reset_peak()
        before = read_status()["VmRSS"]
        fn()
        peaks.append(read_status()["VmHWM"] - before)
    return peaks


def memory_worker(family: str, ratio: float, args) -> dict:
    """Runs in a fresh subprocess: peak RSS growth (bytes) of one no_grad forward of one model, and of its
    first mixer alone on a (B, L, H) input (the SSM's own buffers: B̄u, states, its output)."""
    model = build_dense(family, args)
    if ratio:
        model = LASTPruner(model).prune(ratio).eval()  # deterministic: the same model as in the parent
    x = torch.randn(args.batch, args.length, 1)
    u = torch.randn(args.batch, args.length, args.hidden)
    mixer = model.backbone.layers[0].mixer
    with torch.no_grad():
        model(input_values=x)  # warm-up: lazy initialisation outside the measurement
        mixer(u)
        forward = measure_peak(lambda: model(input_values=x), args.memory_repeats)
        mixer_peak = measure_peak(lambda: mixer(u), args.memory_repeats)
    calibration_bytes = 64 * 2**20
    calibration = measure_peak(lambda: torch.ones(calibration_bytes // 4), 1)[0]
    return {"forward_peak_bytes": forward, "mixer_peak_bytes": mixer_peak, "calibration_bytes": calibration_bytes,
            "calibration_measured": calibration}


def bench_memory(family: str, args) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = {}
    for ratio in RATIOS:
        command = [sys.executable, str(Path(__file__).resolve()), "--memory-worker", family, str(ratio),
                   "--threads", str(args.threads), "--seed", str(args.seed), "--blocks", str(args.blocks), "--block", args.block]
        if args.quick:
            command.append("--quick")
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["peak_mb"] = max(result["forward_peak_bytes"]) / 2**20
        result["mixer_peak_mb"] = max(result["mixer_peak_bytes"]) / 2**20
        out[label(ratio)] = result
    return out


# ------------------------------------------------------------------------------------------- reporting


def environment(args) -> dict:
    return {
        **run_environment(MEASURED_SOURCES),
        "quick": args.quick,
        "setting": {"batch": args.batch, "length": args.length, "hidden": args.hidden, "layers": args.layers,
                    "s5_state_size": 256, "s5_blocks": args.blocks, "s4d_state_size": 64, "steps": args.steps,
                    "block": args.block, "block_config": BLOCKS[args.block],
                    "step_batches": args.step_batches, "batch_steps": args.batch_steps, "batch_repeats": args.batch_repeats,
                    "repeats": args.repeats, "recurrent_repeats": args.recurrent_repeats, "step_repeats": args.step_repeats, "prune_repeats": args.prune_repeats,
                    "memory_repeats": args.memory_repeats, "seed": args.seed},
        "load_average": {},
    }


def speed_cells(entry: dict, digits: int) -> str:
    """Table cells "time | speed-up (paired speed-up)" of one model in one mode."""
    return (f"{entry['model']['median']:.{digits}f} | {entry['speedup_vs_dense']:.2f}x"
            f" ({entry['speedup_vs_dense_paired']:.2f}x)")


def mixer_cells(entry: dict, dense_share: float, kept: float, digits: int) -> str:
    """Table cells "mixers time | share of model | mixer speed-up | Amdahl cap" of one model in one mode."""
    return (f"{entry['mixers']['median']:.{digits}f} | {100 * entry['mixer_share']:.0f}%"
            f" | {entry['mixer_speedup_vs_dense']:.2f}x | {amdahl(dense_share, kept):.2f}x")


def row_targets(report: dict, family: str, key: str) -> str:
    if family != "S5" or key != label(TARGET_RATIO):
        return ""
    return ", ".join(f"{t['short']} {'PASS' if t['passed'] else 'FAIL'}" for t in report["targets"])


def targets(report: dict) -> list[dict]:
    s5 = report["families"]["S5"]
    key = label(TARGET_RATIO)
    prune = s5["prune_time"]["prune"]["median"]
    speed = [("parallel", "parallel", PARALLEL_TARGET, "scan mode: parallel forward over (B, L)"),
             ("recurrent", "recurrent fwd", STEP_TARGET, "step mode: recurrent forward over (B, L), one time step after another"),
             ("step", "streaming step", STREAM_STEP_TARGET, "step mode: streaming `backbone.step`, one token of B sequences per call")]
    out = [{"name": f"S5 pruned 50% {what} >= {target}x faster than dense", "short": short,
            "measured": s5[kind][key]["speedup_vs_dense"], "paired": s5[kind][key]["speedup_vs_dense_paired"],
            "passed": s5[kind][key]["speedup_vs_dense"] >= target} for kind, short, target, what in speed]
    memory = s5["memory"][key]["peak_mb"] / s5["memory"]["dense"]["peak_mb"]
    mixer_memory = s5["memory"][key]["mixer_peak_mb"] / s5["memory"]["dense"]["mixer_peak_mb"]
    out.append({"name": f"S5 pruned 50% peak memory of the no_grad forward <= {MEMORY_TARGET}x of dense", "short": "memory",
                "measured_fraction": memory, "passed": memory <= MEMORY_TARGET,
                "note": f"one mixer alone: {mixer_memory:.2f}x of dense"})
    out.append({"name": f"S5 LASTPruner(model).prune(0.5) < {PRUNE_TIME_TARGET_S} s (median)", "short": "prune time",
                "measured": prune, "passed": prune < PRUNE_TIME_TARGET_S})
    return out


def markdown(report: dict) -> str:
    env = report["environment"]
    s = env["setting"]
    loads = env["load_average"]
    lines = [
        "# bench_pruning: dense vs LAST-pruned S5 / S4D on CPU",
        "",
        f"Command: `{env['command']}` (run from the repository root)",
        "",
        f"- date (UTC): {env['date_utc']}; git commit at start {env['git']['commit']}, at end {env['git_end']['commit']}"
        " (other people commit to this checkout while benchmarks run); uncommitted changes in hf_last/{"
        + ",".join(MEASURED_SOURCES) + "} (the timed code) at start/end:"
        f" {env['git']['measured_sources_uncommitted_changes']}/{env['git_end']['measured_sources_uncommitted_changes']},"
        f" sha256 of their sources at start/end {env['git']['measured_sources_sha256']}/{env['git_end']['measured_sources_sha256']}"
        f" (elsewhere in hf_last: {env['git']['hf_last_uncommitted_changes']}/{env['git_end']['hf_last_uncommitted_changes']})",
        f"- torch {env['torch']}, Python {env['python']}, **{env['threads']} torch thread(s)**, {env['cpu_count']} CPUs"
        f" (shared with other users' jobs); {env['machine']}",
        f"- B={s['batch']}, L={s['length']}, hidden={s['hidden']}, {s['layers']} layers, no_grad, float32, untrained"
        f" (seed {s['seed']}). S5: state_size=256 (128 stored conj. modes/layer), blocks={s['s5_blocks']},"
        " unidirectional. S4D: state_size=64 per channel (32 stored modes × 128 channels/layer).",
        f"- block `{s['block']}` around every SSM: {s['block_config']}"
        + (" (the S5 reference scripts' LRA setting for 6×128×256 models)" if s["block"] == "paper" else " (hf_last's config defaults)"),
        f"- repeats: parallel {s['repeats']} rounds, recurrent forward {s['recurrent_repeats']} rounds,"
        f" step {s['step_repeats']} rounds of {s['steps']} steps,"
        f" pruning {s['prune_repeats']}, memory {s['memory_repeats']} forwards per fresh subprocess;"
        " all models of a family are timed in the same rounds (order rotated every round).",
        "- 1/5/15-min load average: " + "; ".join(f"{k} {'/'.join(f'{v:.2f}' for v in val)}" for k, val in loads.items()),
        "",
        "## Targets",
        "",
    ]
    for target in report["targets"]:
        if "paired" in target:
            measured = f"{target['measured']:.2f}x (median of per-round ratios {target['paired']:.2f}x)"
        elif "measured_fraction" in target:
            measured = f"{target['measured_fraction']:.2f}x ({target['note']})"
        else:
            measured = f"{1e3 * target['measured']:.1f} ms"
        lines.append(f"- {target['name']}: {pass_fail(target['passed'])}, measured {measured}")
    lines += ["", "## Results", "",
              "Speed-ups are ratios of medians (dense / pruned); in brackets the median of the per-round paired"
              " ratios. Peak MB = extra RSS of one no_grad forward (B, L) over the model at rest, fresh subprocess;"
              " mixer peak MB = the same for the first layer's mixer alone on a (B, L, H) input.",
              "",
              "| config | ratio (achieved) | params | states | parallel fwd ms | speed-up (paired) | CPU-time speed-up"
              " | recurrent fwd ms | speed-up (paired)"
              " | step µs | speed-up (paired) | CPU-time speed-up | peak MB | peak / dense | mixer peak MB"
              " | mixer peak / dense | targets |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for family, data in report["families"].items():
        dense_peak = data["memory"]["dense"]["peak_mb"]
        dense_mixer_peak = data["memory"]["dense"]["mixer_peak_mb"]
        for key, info in data["models"].items():
            par, rec, step, mem = data["parallel"][key], data["recurrent"][key], data["step"][key], data["memory"][key]
            lines.append(
                f"| {family} {key} | {info['achieved_ratio']:.3f} | {info['params']:,} | {info['states']:,}"
                f" | {speed_cells(par, 1)} | {par['speedup_vs_dense_cpu']:.2f}x | {speed_cells(rec, 1)}"
                f" | {speed_cells(step, 0)} | {step['speedup_vs_dense_cpu']:.2f}x"
                f" | {mem['peak_mb']:.1f} | {mem['peak_mb'] / dense_peak:.2f}x | {mem['mixer_peak_mb']:.1f}"
                f" | {mem['mixer_peak_mb'] / dense_mixer_peak:.2f}x | {row_targets(report, family, key)} |")
    lines += ["", "## Where the time goes: SSM (mixer) share and the Amdahl cap", "",
              "Mixers alone = the six `layer.mixer(u, mode=...)` calls over (B, L) (parallel, recurrent forward) or"
              " the six `mixer.recurrent_step` calls of a streaming step with the cached system (step), timed in the"
              " same rounds as the whole model. Amdahl cap = 1 / (1 − s + s·k) with s the dense mixer share and k the"
              " kept fraction of states (ideal: mixer cost ∝ states).",
              "",
              "| config | parallel: mixers ms | share of model | mixer speed-up | Amdahl cap"
              " | recurrent fwd: mixers ms | share | mixer speed-up | Amdahl cap | step: mixers µs"
              " | share of step | mixer speed-up | Amdahl cap | step: `recurrent_step`, system precomputed, µs |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for family, data in report["families"].items():
        par_share = data["parallel"]["dense"]["mixer_share"]
        rec_share = data["recurrent"]["dense"]["mixer_share"]
        step_share = data["step"]["dense"]["mixer_share"]
        for key, info in data["models"].items():
            par, rec, step = data["parallel"][key], data["recurrent"][key], data["step"][key]
            kept = 1 - info["achieved_ratio"]
            lines.append(
                f"| {family} {key} | {mixer_cells(par, par_share, kept, 1)} | {mixer_cells(rec, rec_share, kept, 1)}"
                f" | {mixer_cells(step, step_share, kept, 0)} | {step['mixers_precomputed']['median']:.0f} |")
    if "S4D" in report["families"]:
        data = report["families"]["S4D"]
        lines += ["", "S4D kernel generation alone (six `mixer.kernel(L)`; the rest of the S4D mixer is the FFT"
                  " convolution, whose cost does not depend on the number of states), and the padded channel grid"
                  " the kernel is computed on (max stored modes of any channel, per layer):", "",
                  "| config | kernels ms | speed-up | max modes per channel |", "|---|---:|---:|---|"]
        dense_kernels = data["parallel"]["dense"]["kernels"]["median"]
        for key, info in data["models"].items():
            kernels = data["parallel"][key]["kernels"]["median"]
            lines.append(f"| S4D {key} | {kernels:.1f} | {dense_kernels / kernels:.2f}x | {info['s4d_max_modes_per_channel']} |")
    lines += ["", "## Pruning cost (median, seconds)", "",
              "| model | `LASTPruner(m).prune(0.5)` | `plan(0.5)` | `apply(plan)` |", "|---|---:|---:|---:|"]
    for family, data in report["families"].items():
        t = data["prune_time"]
        lines.append(f"| {family} | {t['prune']['median']:.4f} | {t['plan']['median']:.4f} | {t['apply']['median']:.4f} |")
    lines += ["", "## Step mode: where a step goes (dense models, µs per step, all six layers)", ""]
    for family, data in report["families"].items():
        step = data["step"]["dense"]
        whole, mixers, pre = step["model"]["median"], step["mixers"]["median"], step["mixers_precomputed"]["median"]
        lines.append(f"- {family}: whole `backbone.step` {whole:.0f}; the SSM recurrence (`recurrent_step` with the"
                     f" discrete system bound, as the eval streaming plan runs it) {pre:.0f} ({100 * pre / whole:.0f}%);"
                     f" everything else (encoder, input/state checks and the plan's cache key, norms, GELU, output linear,"
                     f" residuals, call overhead) {whole - pre:.0f} ({100 * (whole - pre) / whole:.0f}%). The generic"
                     f" `SSMBlock.step` (gradients recorded, training mode) also looks the cached system up per layer:"
                     f" mixers with that lookup {mixers:.0f} µs.")
        pruned = {key: data["step"][key]["mixers_precomputed"]["median"] for key in data["models"] if key != "dense"}
        lines.append(f"  `recurrent_step` alone, pruned vs dense ({pre:.0f}): "
                     + ", ".join(f"{k} {v:.0f} ({pre / v:.2f}x)" for k, v in pruned.items()))
        rest = step["block_rest"]["median"]
        key = label(TARGET_RATIO)
        best = (rest + pre) / (rest + data["step"][key]["mixers_precomputed"]["median"])
        lines.append(f"  The rest of the six blocks alone (norm, GELU, output layer, residual: the plan's `BlockStep` minus"
                     f" the mixer) {rest:.0f} µs. A step with nothing but the blocks' own ops (no model-level overhead)"
                     f" would be at best (rest + `recurrent_step`) dense / {key}: {rest + pre:.0f} /"
                     f" {rest + data['step'][key]['mixers_precomputed']['median']:.0f} µs = {best:.2f}x"
                     " faster: the ceiling of the streaming-step speed-up with this block's ops as they run here.")
        if "matmuls_only" in step:
            mm_dense, mm_pruned = step["matmuls_only"]["median"], data["step"][key]["matmuls_only"]["median"]
            lines.append(f"  Matrix products alone (B̄u, output map, output linear of the six layers; everything else free):"
                         f" dense {mm_dense:.0f} µs, {key} {mm_pruned:.0f} µs = {mm_dense / mm_pruned:.2f}x; at B={s['batch']}"
                         " the output linear, whose cost does not depend on the states, and the small-matrix"
                         " efficiency of the pruned products bound the step speed-up even with zero overhead.")
    if "S5" in report["families"] and "step_batches" in report["families"]["S5"]:
        key = label(TARGET_RATIO)
        lines += ["", f"S5 streaming step, dense vs {key}, by batch size ({s['batch_steps']} steps from the zero state,"
                  f" {s['batch_repeats']} interleaved rounds): the larger the batch, the"
                  " more of a step is matrix products and state updates, whose cost falls with the states.", "",
                  f"| batch | dense µs/step | {key} µs/step | speed-up (paired) |", "|---:|---:|---:|---:|"]
        for batch, r in report["families"]["S5"]["step_batches"].items():
            lines.append(f"| {batch} | {r['dense_us']:.0f} | {r['pruned_us']:.0f} | {r['speedup']:.2f}x ({r['speedup_paired']:.2f}x) |")
    if "S5" in report["families"]:
        lines += ["", *s5_memory_floor(report)]
    lines += ["", "## Noise and sanity", ""]
    for family, data in report["families"].items():
        cpu = [data[kind][key][part]["cpu_over_wall_median"] for kind in ("parallel", "recurrent", "step")
               for key in data["models"] for part in ("model", "mixers")]
        lines.append(f"- {family}: median CPU-time / wall-time of timed calls between {min(cpu):.2f} and {max(cpu):.2f}"
                     " (1.00 = the thread was never descheduled; with N threads up to N).")
        lines.append(f"- {family}: memory calibration: a {data['memory']['dense']['calibration_bytes'] / 2**20:.0f} MB tensor"
                     f" measured as {data['memory']['dense']['calibration_measured'] / 2**20:.1f} MB; per-forward peaks (MB): "
                     + "; ".join(f"{k} " + "/".join(f"{b / 2**20:.1f}" for b in v["forward_peak_bytes"])
                                 for k, v in data["memory"].items()))
        checks = data["checks"]
        lines.append(f"- {family}: logits finite for all models: {all(c['logits_finite'] for c in checks.values())};"
                     " max rel diff parallel vs step (32 steps): "
                     + ", ".join(f"{k} {c['max_rel_diff_parallel_vs_step']:.1e}" for k, c in checks.items()))
        lines.append(f"- {family}: stored modes per layer: "
                     + "; ".join(f"{k} {info['stored_modes_per_layer']}" for k, info in data["models"].items()))
    lines.append("")
    return "\n".join(lines) + "\n"


def s5_memory_floor(report: dict) -> list[str]:
    """Markdown: the S5 forward's measured peak next to what a block must hold at once under no_grad, and the
    ratio of peaks that allows: the residual (the block's input), one (B, L, H) buffer (the norm's output, which
    the mixer overwrites with y) and B̄u, scanned in place into the states (B, L, P complex64; the layer with
    most modes). The channel mixing runs in row chunks over y (``SSMBlock.mix_channels_inference``) and adds
    only chunk-sized temporaries."""
    s, data = report["environment"]["setting"], report["families"]["S5"]
    sequence_mb = s["batch"] * s["length"] * s["hidden"] * 4 / 2**20
    rows, floors = [], {}
    for key, info in data["models"].items():
        states_mb = s["batch"] * s["length"] * max(info["stored_modes_per_layer"]) * 8 / 2**20
        floors[key] = 2 * sequence_mb + states_mb
        rows.append(f"| S5 {key} | {states_mb:.1f} | {floors[key]:.1f} | {data['memory'][key]['peak_mb']:.1f} |")
    key = label(TARGET_RATIO)
    return ["## S5 peak memory: what a block holds at its peak", "",
            f"Under no_grad a block holds at once its input (the residual, {sequence_mb:.1f} MB), one more (B, L, H)"
            " buffer (the norm's output, overwritten by the mixer's y) and the mixer's B̄u, scanned in place into the"
            " states (B, L, P complex); the channel mixing then runs in row chunks over y. Only B̄u falls with the"
            f" states, so the ratio of peaks cannot go below floor {key} / floor dense ="
            f" {floors[key] / floors['dense']:.2f}x without splitting the sequence into chunks for the SSM as well"
            " (which shrinks dense and pruned alike).", "",
            "| config | B̄u/states MB | floor MB (2·(B, L, H) + states) | measured peak MB |", "|---|---:|---:|---:|",
            *rows]


# ----------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, see docstring)")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds of parallel forwards")
    parser.add_argument("--recurrent-repeats", type=int, default=8,
                        help="interleaved rounds of recurrent-mode forwards over (B, L)")
    parser.add_argument("--step-repeats", type=int, default=20, help="interleaved rounds of --steps recurrent steps")
    parser.add_argument("--steps", type=int, default=64, help="recurrent steps per timed call")
    parser.add_argument("--prune-repeats", type=int, default=15)
    parser.add_argument("--step-batches", type=lambda text: [int(v) for v in text.split(",")], default=[8, 64, 256, 1024],
                        help="batch sizes of the S5 step-vs-batch table (comma-separated)")
    parser.add_argument("--batch-steps", type=int, default=32, help="steps per timed call in the step-vs-batch table")
    parser.add_argument("--batch-repeats", type=int, default=10, help="interleaved rounds in the step-vs-batch table")
    parser.add_argument("--memory-repeats", type=int, default=3, help="measured forwards per memory subprocess")
    parser.add_argument("--blocks", type=int, default=16, help="S5 HiPPO-N blocks J (16 or 8)")
    parser.add_argument("--families", default="S5,S4D")
    parser.add_argument("--block", choices=sorted(BLOCKS), default="paper",
                        help="residual block: the paper's LRA setting (default) or the library's config defaults")
    parser.add_argument("--output-dir", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="smoke run: L=128, 2-3 repeats; writes bench_pruning_quick.*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-worker", nargs=2, metavar=("FAMILY", "RATIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.batch, args.length, args.hidden, args.layers = 8, 1024, 128, 6
    args.name = "bench_pruning" + ("" if args.block == "paper" else f"_{args.block}_block")
    if args.quick:
        args.length, args.repeats, args.step_repeats, args.steps, args.prune_repeats, args.memory_repeats = 128, 3, 3, 8, 3, 1
        args.recurrent_repeats, args.step_batches, args.batch_steps, args.batch_repeats = 2, [8, 64], 4, 2
        args.name += "_quick"
    return args


def bench_family(family: str, args, loads: dict) -> dict:
    """Every measurement of one family's dense and pruned models (run under no_grad); ``loads`` gets the
    load average after each phase."""
    models = build_models(family, args)
    data = {"models": {label(r): describe(m) for r, m in models.items()}, "checks": check_pruned(models, args)}
    data["prune_time"] = bench_prune_time(family, models[0.0], args)
    print(f"{family}: prune(0.5) {data['prune_time']['prune']['median']:.4f} s", flush=True)
    for mode in ("parallel", "recurrent"):
        data[mode] = bench_forward(models, args, mode)
        loads[f"after {family} {mode}"] = load_average()
        print(f"{family}: {mode} " + ", ".join(f"{k} {v['model']['median']:.1f} ms" for k, v in data[mode].items()),
              flush=True)
    data["step"] = bench_step(models, args)
    if family == "S5":
        data["step_batches"] = bench_step_batches(models, args)
    loads[f"after {family} step"] = load_average()
    print(f"{family}: step " + ", ".join(f"{k} {v['model']['median']:.0f} µs" for k, v in data["step"].items()),
          flush=True)
    data["memory"] = bench_memory(family, args)
    print(f"{family}: peak " + ", ".join(f"{k} {v['peak_mb']:.1f} MB" for k, v in data["memory"].items()), flush=True)
    return data


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_worker:
        family, ratio = args.memory_worker
        print(json.dumps(memory_worker(family, float(ratio), args)))
        return None
    report = {"environment": environment(args), "families": {}}
    loads = report["environment"]["load_average"]
    loads["start"] = load_average()
    for family in args.families.split(","):
        with torch.no_grad():
            report["families"][family] = bench_family(family, args, loads)
    loads["end"] = load_average()
    report["environment"]["git_end"] = git_state(MEASURED_SOURCES)
    report["targets"] = targets(report) if "S5" in report["families"] else []
    write_report(report, args.output_dir, args.name, markdown(report))
    return report


if __name__ == "__main__":
    main()
