"""Speed of one S4D layer and one S5 layer on CPU: kernel generation, scans, parallel vs recurrent mode.

Run from the repository root:

    python benchmarks/bench_layers.py                 # full run, writes results/bench_layers.{json,md}
    python benchmarks/bench_layers.py --quick         # smoke run (short sequences), writes *_quick.*

Setting (full run): B=8, L=1024, H=128, state_size=128 with conj_sym=True (64 complex modes per S4D
channel, 64 modes for the S5 layer), float32, torch's default thread count. Every number is the median
of ``--repeats`` timed calls after one warm-up call (``--slow-repeats`` for whole layers in recurrent mode);
compared callables (blocked vs naive kernel, scan vs loop) are timed in interleaved rounds (order rotated
every round; ``benchmarks/harness.py``).
"Forward" runs under ``torch.no_grad()``; "forward+backward" builds the graph and backpropagates a sum.

Targets checked from the measured medians:
- S4D kernel: blocked-powers ``vandermonde_kernel`` >= 5x faster than ``vandermonde_kernel_naive``.
- S5 scan: ``lti_scan`` forward+backward >= 2x faster than ``sequential_scan`` at L=1024 (glibc's default
  allocator, no environment variables). ``associative_scan`` (the odd/even scan through autograd, the previous
  ``lti_scan``) is timed in the same rounds for comparison.

Threads: ``--threads`` (default 1, the setting of the targets; the machine's cores are shared).
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import torch

from hf_last import S4DConfig, S4DModel, S5Config, S5Model
from hf_last.ssm.discretization import discretize, log_discrete_poles
from hf_last.ssm.kernels import vandermonde_kernel, vandermonde_kernel_naive
from hf_last.ssm.scan import associative_scan, lti_scan, sequential_scan

from harness import format_load, load_average, pass_fail, run_environment, timings, write_report  # benchmarks/ is on sys.path

KERNEL_TARGET = 5.0  # blocked vs naive Vandermonde kernel
SCAN_TARGET = 2.0  # lti_scan vs sequential_scan, forward+backward
STEP_STATE_SIZES = (32, 64, 128, 256)  # 16..128 complex modes with conj_sym=True
MEASURED_SOURCES = ("models", "ssm")  # hf_last sub-packages whose code this benchmark times


# ----------------------------------------------------------------------------------------------- timing


def time_call(fn, repeats: int) -> dict:
    """Median / min / max wall time (seconds) of ``fn()`` over ``repeats`` calls after one warm-up call."""
    return timings({"fn": fn}, repeats)["fn"]


def forward_only(fn):
    """``fn`` run under no_grad (inference)."""

    def run():
        with torch.no_grad():
            fn()

    return run


def forward_backward(fn, module: torch.nn.Module | None = None, leaf: torch.Tensor | None = None):
    """``fn()`` followed by backward of the real part's sum; grads are cleared each call."""

    def run():
        if module is not None:
            module.zero_grad(set_to_none=True)
        if leaf is not None:
            leaf.grad = None
        out = fn()
        out = out.real if out.is_complex() else out
        out.sum().backward()

    return run


def ratio(slow: dict, fast: dict) -> float:
    return slow["median"] / fast["median"]


# ----------------------------------------------------------------------------------------------- layers


def s4d_mixer(hidden: int, state_size: int):
    model = S4DModel(S4DConfig(hidden_size=hidden, num_hidden_layers=1, state_size=state_size))
    return model.layers[0].mixer


def s5_mixer(hidden: int, state_size: int):
    model = S5Model(S5Config(hidden_size=hidden, num_hidden_layers=1, state_size=state_size))
    return model.layers[0].mixer


@torch.no_grad()
def s4d_kernel_inputs(mixer) -> tuple[torch.Tensor, torch.Tensor]:
    """(coefficients, log_z), each (H, modes) complex64, exactly as ``S4DMixer.kernel`` builds them."""
    Lambda, step = mixer.continuous_poles(), mixer.steps(1.0)
    _, gamma = discretize(Lambda, step, mixer.discretization)
    log_z = mixer.to_channel_grid(log_discrete_poles(Lambda, step, mixer.discretization))
    coefficients = mixer.output_factor * torch.view_as_complex(mixer.C) * gamma * torch.view_as_complex(mixer.B)
    return mixer.to_channel_grid(coefficients), log_z


# ------------------------------------------------------------------------------------------- benchmarks


def bench_kernel(args) -> dict:
    """S4D kernel generation: blocked powers vs plain complex-exp Vandermonde, and the layer's own path."""
    mixer = s4d_mixer(args.hidden, args.state_size)
    coefficients, log_z = s4d_kernel_inputs(mixer)
    length = args.length
    times = timings({
        "blocked": forward_only(lambda: vandermonde_kernel(coefficients, log_z, length)),
        "naive": forward_only(lambda: vandermonde_kernel_naive(coefficients, log_z, length)),
        "mixer_kernel": forward_only(lambda: mixer.kernel(length)),
    }, args.repeats)
    with torch.no_grad():
        blocked = vandermonde_kernel(coefficients, log_z, length)
        naive = vandermonde_kernel_naive(coefficients, log_z, length)
        exact = vandermonde_kernel_naive(coefficients.to(torch.complex128), log_z.to(torch.complex128), length)
    scale = exact.abs().max().item()
    speedup = ratio(times["naive"], times["blocked"])
    return {
        "shape": {"H": args.hidden, "modes": log_z.shape[-1], "L": length},
        "times": times,
        "speedup_blocked_vs_naive": speedup,
        "speedup_blocked_vs_naive_min": times["naive"]["min"] / times["blocked"]["min"],
        "max_rel_diff_blocked_vs_naive": ((blocked - naive).abs().max() / naive.abs().max()).item(),
        "max_rel_err_blocked_vs_float64": ((blocked.double() - exact).abs().max() / scale).item(),
        "max_rel_err_naive_vs_float64": ((naive.double() - exact).abs().max() / scale).item(),
        "target": {"name": f"blocked >= {KERNEL_TARGET:g}x faster than naive", "ratio": speedup,
                   "passed": speedup >= KERNEL_TARGET},
    }


def bench_scan(args) -> dict:
    """S5 scan over (B, L, P) inputs: the chunked ``lti_scan`` and the odd/even ``associative_scan`` vs the time
    loop, fwd and fwd+bwd (gradient of b; and of b and Λ̄ for the chunked scan and the loop)."""
    mixer = s5_mixer(args.hidden, args.state_size)
    with torch.no_grad():
        Lambda_bar = mixer.discrete_system()[0]
    b = torch.randn(args.batch, args.length, mixer.num_modes, dtype=torch.complex64)
    b_grad = b.clone().requires_grad_(True)
    times = timings({
        "lti_scan_fwd": forward_only(lambda: lti_scan(Lambda_bar, b)),
        "sequential_fwd": forward_only(lambda: sequential_scan(Lambda_bar, b)),
        "associative_fwd": forward_only(lambda: associative_scan(Lambda_bar, b)),
    }, args.repeats)
    times.update(timings({
        "lti_scan_fwd_bwd": forward_backward(lambda: lti_scan(Lambda_bar, b_grad), leaf=b_grad),
        "sequential_fwd_bwd": forward_backward(lambda: sequential_scan(Lambda_bar, b_grad), leaf=b_grad),
        "associative_fwd_bwd": forward_backward(lambda: associative_scan(Lambda_bar, b_grad), leaf=b_grad),
    }, args.repeats))
    poles = Lambda_bar.clone().requires_grad_(True)

    def with_pole_grad(scan):
        def run():
            poles.grad = None
            forward_backward(lambda: scan(poles, b_grad), leaf=b_grad)()
        return run

    times.update(timings({
        "lti_scan_fwd_bwd_poles": with_pole_grad(lti_scan),
        "sequential_fwd_bwd_poles": with_pole_grad(sequential_scan),
    }, args.repeats))
    with torch.no_grad():
        scanned, looped = lti_scan(Lambda_bar, b), sequential_scan(Lambda_bar, b)
    speedup = ratio(times["sequential_fwd_bwd"], times["lti_scan_fwd_bwd"])
    return {
        "shape": {"B": args.batch, "L": args.length, "P": mixer.num_modes},
        "times": times,
        "speedup_fwd": ratio(times["sequential_fwd"], times["lti_scan_fwd"]),
        "speedup_fwd_vs_associative": ratio(times["associative_fwd"], times["lti_scan_fwd"]),
        "speedup_fwd_bwd_vs_associative": ratio(times["associative_fwd_bwd"], times["lti_scan_fwd_bwd"]),
        "speedup_fwd_bwd_poles": ratio(times["sequential_fwd_bwd_poles"], times["lti_scan_fwd_bwd_poles"]),
        "speedup_fwd_bwd": speedup,
        "speedup_fwd_bwd_min": times["sequential_fwd_bwd"]["min"] / times["lti_scan_fwd_bwd"]["min"],
        "max_rel_diff": ((scanned - looped).abs().max() / looped.abs().max()).item(),
        "target": {"name": f"scan fwd+bwd >= {SCAN_TARGET:g}x faster than loop", "ratio": speedup,
                   "passed": speedup >= SCAN_TARGET},
    }


def bench_layer(name: str, mixer, args) -> dict:
    """One mixer, parallel vs recurrent mode, forward (no_grad) and forward+backward (params and u)."""
    u = torch.randn(args.batch, args.length, args.hidden)
    u_grad = u.clone().requires_grad_(True)

    def call(x, mode):
        return lambda: mixer(x, mode=mode)[0]

    times = {
        "parallel_fwd": time_call(forward_only(call(u, "parallel")), args.repeats),
        "recurrent_fwd": time_call(forward_only(call(u, "recurrent")), args.slow_repeats),
        "parallel_fwd_bwd": time_call(forward_backward(call(u_grad, "parallel"), mixer, u_grad), args.repeats),
        "recurrent_fwd_bwd": time_call(forward_backward(call(u_grad, "recurrent"), mixer, u_grad), args.slow_repeats),
    }
    with torch.no_grad():
        y_par, y_rec = mixer(u, mode="parallel")[0], mixer(u, mode="recurrent")[0]
    return {
        "layer": name,
        "shape": {"B": args.batch, "L": args.length, "H": args.hidden, "state_size": args.state_size,
                  "stored_modes": mixer.num_modes},
        "times": times,
        "recurrent_over_parallel_fwd": ratio(times["recurrent_fwd"], times["parallel_fwd"]),
        "recurrent_over_parallel_fwd_bwd": ratio(times["recurrent_fwd_bwd"], times["parallel_fwd_bwd"]),
        "recurrent_fwd_us_per_step": 1e6 * times["recurrent_fwd"]["median"] / args.length,
        "recurrent_fwd_bwd_us_per_step": 1e6 * times["recurrent_fwd_bwd"]["median"] / args.length,
        "max_rel_diff_parallel_vs_recurrent": ((y_par - y_rec).abs().max() / y_rec.abs().max()).item(),
    }


def time_recurrent_steps(mixer, batch: int, steps: int, repeats: int) -> dict:
    """Median time of one ``recurrent_step`` (no_grad, discrete system precomputed), from runs of ``steps`` steps."""
    with torch.no_grad():
        system = mixer.recurrent_system()
        state = mixer.init_state(batch, torch.float32, "cpu")
        inputs = torch.randn(steps, batch, mixer.hidden_size).unbind(0)

    def run():
        current = state
        for u_t in inputs:
            _, current = mixer.recurrent_step(system, u_t, current)

    timing = time_call(forward_only(run), repeats)
    return {"us_per_step": 1e6 * timing["median"] / steps, "min_us_per_step": 1e6 * timing["min"] / steps}


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of log y against log x: 1 = linear in the number of modes, 0 = flat."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def bench_step_scaling(args) -> dict:
    """Recurrent step cost against the number of complex modes per layer (S5) / per channel (S4D)."""
    result = {"batch": args.batch, "steps_per_run": args.steps, "state_sizes": list(STEP_STATE_SIZES)}
    for name, build in (("s4d", s4d_mixer), ("s5", s5_mixer)):
        rows = []
        for state_size in STEP_STATE_SIZES:
            mixer = build(args.hidden, state_size)
            row = {"state_size": state_size, "modes": state_size // 2, "stored_modes": mixer.num_modes}
            row.update(time_recurrent_steps(mixer, args.batch, args.steps, args.repeats))
            rows.append(row)
        modes = [row["modes"] for row in rows]
        cost = [row["us_per_step"] for row in rows]
        result[name] = {"rows": rows, "loglog_slope": loglog_slope(modes, cost),
                        "cost_ratio_max_vs_min_modes": cost[-1] / cost[0], "modes_ratio": modes[-1] / modes[0]}
    return result


# ------------------------------------------------------------------------------------------- reporting


def environment(args) -> dict:
    return {**run_environment(MEASURED_SOURCES), "load_average_at_start": load_average(), "quick": args.quick}


def contention_warning(env: dict) -> list[str]:
    """A note when other processes kept the CPUs busy: multi-threaded ops then wait on descheduled threads."""
    busiest = max(env["load_average_at_start"][0], env["load_average_at_end"][0]) if env["load_average_at_start"] else 0.0
    if busiest < 0.5 * (env["cpu_count"] or 1):
        return []
    return [f"> **Warning:** 1-min load average reached {busiest:.2f} on {env['cpu_count']} CPUs: other processes were"
            " running, so medians (especially of multi-threaded ops) are inflated; compare min times too.", ""]


def ms(timing: dict) -> str:
    return f"{1e3 * timing['median']:.2f}"


def verdict(target: dict) -> str:
    return f"{pass_fail(target['passed'])} ({target['ratio']:.1f}x; {target['name']})"


def markdown(report: dict) -> str:
    env, kernel, scan = report["environment"], report["kernel"], report["scan"]
    lines = [
        "# bench_layers: one S4D and one S5 layer on CPU",
        "",
        f"Command: `{env['command']}` (run from the repository root)",
        "",
        f"- date (UTC): {env['date_utc']}; git commit {env['git']['commit']}"
        f" (uncommitted hf_last changes: {env['git']['hf_last_uncommitted_changes']}; sha256 of the timed sources"
        f" hf_last/{{{','.join(MEASURED_SOURCES)}}}: {env['git']['measured_sources_sha256']})",
        f"- torch {env['torch']}, Python {env['python']}, {env['threads']} torch threads, {env['cpu_count']} CPUs",
        f"- machine: {env['machine']} ({env['processor']}); 1/5/15-min load average at start "
        f"{format_load(env['load_average_at_start'])}, at end {format_load(env['load_average_at_end'])}",
        "- times are medians over repeats after one warm-up call, in ms; forward = under no_grad;"
        " compared callables in sections 1 and 2 are timed in interleaved rounds (order rotated every round)",
        "",
        *contention_warning(env),
        "## Targets",
        "",
        f"- S4D kernel generation: {verdict(kernel['target'])}; on min times {kernel['speedup_blocked_vs_naive_min']:.1f}x",
        f"- S5 scan at L={scan['shape']['L']}: {verdict(scan['target'])}; on min times {scan['speedup_fwd_bwd_min']:.1f}x",
        "",
        f"## 1. S4D kernel generation (H={kernel['shape']['H']}, modes={kernel['shape']['modes']},"
        f" L={kernel['shape']['L']}, complex64)",
        "",
        "| path | median ms | min ms |",
        "|---|---:|---:|",
    ]
    for key, label in (("naive", "`vandermonde_kernel_naive` (one exp per mode and step)"),
                       ("blocked", "`vandermonde_kernel` (blocked powers)"),
                       ("mixer_kernel", "`S4DMixer.kernel(L)` (real layer, incl. discretization)")):
        lines.append(f"| {label} | {ms(kernel['times'][key])} | {1e3 * kernel['times'][key]['min']:.2f} |")
    lines += [
        "",
        f"Speed-up blocked vs naive: **{kernel['speedup_blocked_vs_naive']:.1f}x** median"
        f" ({kernel['speedup_blocked_vs_naive_min']:.1f}x on min times).",
        f"Max relative difference blocked vs naive (max |ΔK| / max |K|): {kernel['max_rel_diff_blocked_vs_naive']:.2e};"
        f" against a float64 reference: blocked {kernel['max_rel_err_blocked_vs_float64']:.2e},"
        f" naive {kernel['max_rel_err_naive_vs_float64']:.2e}.",
        "",
        f"## 2. S5 scan (B={scan['shape']['B']}, L={scan['shape']['L']}, P={scan['shape']['P']}, complex64)",
        "",
        "| | `lti_scan` (chunked) ms | `sequential_scan` (loop) ms | loop / chunked | `associative_scan` (odd/even) ms"
        " | odd/even / chunked |",
        "|---|---:|---:|---:|---:|---:|",
        f"| forward | {ms(scan['times']['lti_scan_fwd'])} | {ms(scan['times']['sequential_fwd'])} | {scan['speedup_fwd']:.1f}x"
        f" | {ms(scan['times']['associative_fwd'])} | {scan['speedup_fwd_vs_associative']:.1f}x |",
        f"| forward+backward (∂b) | {ms(scan['times']['lti_scan_fwd_bwd'])} | {ms(scan['times']['sequential_fwd_bwd'])}"
        f" | {scan['speedup_fwd_bwd']:.1f}x | {ms(scan['times']['associative_fwd_bwd'])}"
        f" | {scan['speedup_fwd_bwd_vs_associative']:.1f}x |",
        f"| forward+backward (∂b, ∂Λ̄) | {ms(scan['times']['lti_scan_fwd_bwd_poles'])}"
        f" | {ms(scan['times']['sequential_fwd_bwd_poles'])} | {scan['speedup_fwd_bwd_poles']:.1f}x | | |",
        "",
        f"Max relative difference scan vs loop: {scan['max_rel_diff']:.2e}.",
        "",
        "## 3. Whole layers: parallel vs recurrent mode",
        "",
        "| layer | parallel fwd ms | recurrent fwd ms | rec/par | parallel fwd+bwd ms | recurrent fwd+bwd ms"
        " | rec/par | recurrent fwd µs/step | recurrent fwd+bwd µs/step | max rel diff par vs rec |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for layer in report["layers"]:
        t = layer["times"]
        lines.append(
            f"| {layer['layer']} ({layer['shape']['stored_modes']} stored modes) | {ms(t['parallel_fwd'])} | {ms(t['recurrent_fwd'])}"
            f" | {layer['recurrent_over_parallel_fwd']:.1f}x | {ms(t['parallel_fwd_bwd'])} | {ms(t['recurrent_fwd_bwd'])}"
            f" | {layer['recurrent_over_parallel_fwd_bwd']:.1f}x | {layer['recurrent_fwd_us_per_step']:.1f}"
            f" | {layer['recurrent_fwd_bwd_us_per_step']:.1f} | {layer['max_rel_diff_parallel_vs_recurrent']:.1e} |")
    shape = report["layers"][0]["shape"]
    repeats = report["layers"][0]["times"]
    lines += [
        "",
        f"B={shape['B']}, L={shape['L']}, H={shape['H']}, state_size={shape['state_size']}."
        f" Repeats: parallel {repeats['parallel_fwd']['n']}, recurrent {repeats['recurrent_fwd']['n']}."
        " µs/step = recurrent time / L (includes the per-call discretization and the final stack).",
        "",
    ]
    lines += step_scaling_markdown(report["step_scaling"])
    return "\n".join(lines) + "\n"


def step_scaling_markdown(scaling: dict) -> list[str]:
    lines = [
        f"## 4. Recurrent step cost vs number of modes (B={scaling['batch']}, no_grad,"
        f" median over runs of {scaling['steps_per_run']} steps)",
        "",
        "| state_size | modes | S4D stored modes (H × modes) | S4D µs/step | S5 µs/step |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s4d, s5 in zip(scaling["s4d"]["rows"], scaling["s5"]["rows"]):
        lines.append(f"| {s4d['state_size']} | {s4d['modes']} | {s4d['stored_modes']} | {s4d['us_per_step']:.1f}"
                     f" | {s5['us_per_step']:.1f} |")
    lines.append("")
    for name, label in (("s4d", "S4D"), ("s5", "S5")):
        entry = scaling[name]
        lines.append(f"- {label}: {entry['modes_ratio']:.0f}x the modes costs {entry['cost_ratio_max_vs_min_modes']:.2f}x"
                     f" per step; log-log slope {entry['loglog_slope']:.2f} (1 = linear in modes, 0 = flat).")
    lines.append("")
    return lines


# ----------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement (median reported)")
    parser.add_argument("--slow-repeats", type=int, default=5, help="timed calls for recurrent-mode layer runs")
    parser.add_argument("--steps", type=int, default=256, help="recurrent steps per run in the step-scaling test")
    parser.add_argument("--output-dir", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="smoke run: L=128, 2 repeats; writes bench_layers_quick.*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.batch, args.length, args.hidden, args.state_size = 8, 1024, 128, 128
    args.name = "bench_layers"
    if args.quick:
        args.length, args.repeats, args.slow_repeats, args.steps = 128, 2, 1, 16
        args.name = "bench_layers_quick"
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    report = {"environment": environment(args)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; L={args.length}", flush=True)
    report["kernel"] = bench_kernel(args)
    print(f"kernel: blocked vs naive {report['kernel']['speedup_blocked_vs_naive']:.1f}x", flush=True)
    report["scan"] = bench_scan(args)
    print(f"scan: fwd+bwd {report['scan']['speedup_fwd_bwd']:.1f}x", flush=True)
    report["layers"] = [bench_layer("S4D", s4d_mixer(args.hidden, args.state_size), args),
                        bench_layer("S5", s5_mixer(args.hidden, args.state_size), args)]
    print("layers done", flush=True)
    report["step_scaling"] = bench_step_scaling(args)
    report["environment"]["load_average_at_end"] = load_average()
    write_report(report, args.output_dir, args.name, markdown(report))
    return report


if __name__ == "__main__":
    main()
