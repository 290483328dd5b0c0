"""Optional: hf_last's S5 and S4D layers side by side with the papers' own implementations, in one process.

The reference code is NOT part of this project; fetch it yourself and point this script at the checkouts:

    git clone https://github.com/lindermanlab/S5           # reference S5 (JAX; needs `pip install jax jaxlib`)
    git clone https://github.com/state-spaces/s4            # reference minimal S4D (models/s4/s4d.py; needs einops)
    python benchmarks/bench_reference.py --s5 path/to/S5 --s4 path/to/s4     # or HF_LAST_S5_REFERENCE / HF_LAST_S4_REFERENCE

Each family is skipped with a message when its checkout or its packages are missing; nothing is written then.

What runs (1 thread by default, B=8, L=1024, H=128, 64 complex modes, float32 / complex64):
- S5: the reference's own ``discretize_zoh`` and ``apply_ssm`` functions from ``s5/ssm.py`` (the math of its
  ``S5SSM.__call__``: discretize, parallel scan with ``jax.lax.associative_scan``, 2·Re(C̃x) + Du), ``jax.vmap``
  over the batch as its training scripts do, under ``jax.jit``; forward, and forward+backward = ``jax.grad`` of
  the output's sum w.r.t. all parameters and the input. Only those function definitions are read from the file
  (its module imports flax and names ``jax.numpy.DeviceArray``, which current JAX no longer has). The reference
  runs on the parameters of our layer, so its output is also compared with ours (max relative difference).
- S4D: the reference ``S4D`` module (its ``S4DKernel`` and ``forward``: kernel, FFT convolution, D term) with its
  activation and output linear replaced by identities (our mixer has neither), same shapes.
- ours: ``S5Mixer`` / ``S4DMixer`` forward (no_grad) and forward+backward (``.sum().backward()``, all
  parameters and the input).
All callables of a family are timed in interleaved rounds (``benchmarks/harness.py``); ratios = reference / ours
of the medians, and of the per-round pairs. Results go to ``results/bench_reference.{json,md}``.

Targets (issue 13): S5 layer forward+backward >= 1.5x faster than the reference JAX S5; forward >= 2x.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import sys
from pathlib import Path

S5_TARGET_FWD = 2.0
S5_TARGET_FWD_BWD = 1.5
MEASURED_SOURCES = ("models", "ssm")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--s5", type=Path, default=os.environ.get("HF_LAST_S5_REFERENCE"),
                        help="checkout of github.com/lindermanlab/S5 (or env HF_LAST_S5_REFERENCE)")
    parser.add_argument("--s4", type=Path, default=os.environ.get("HF_LAST_S4_REFERENCE"),
                        help="checkout of github.com/state-spaces/s4 (or env HF_LAST_S4_REFERENCE)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads and XLA CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output-dir", type=Path, default=Path("results"))
    parser.add_argument("--quick", action="store_true", help="smoke run: L=128, 3 repeats; writes *_quick.*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.batch, args.length, args.hidden, args.state_size = 8, 1024, 128, 128
    args.name = "bench_reference"
    if args.quick:
        args.length, args.repeats, args.name = 128, 3, "bench_reference_quick"
    return args


def limit_threads(threads: int) -> None:
    """One XLA CPU thread pool of ``threads`` (must run before jax is imported) and torch's thread count."""
    if threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()


def read_definitions(path: Path, names: tuple[str, ...], namespace: dict) -> dict:
    """Execute only the top-level definitions ``names`` (functions or classes, with their decorators) of the
    Python file ``path`` in ``namespace``; returns the namespace. Nothing is copied into this project."""
    tree = ast.parse(path.read_text(), filename=str(path))
    wanted = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    missing = set(names) - {node.name for node in wanted}
    if missing:
        raise LookupError(f"{path} defines no {sorted(missing)}: not the expected reference code")
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------------------------- S5


def s5_reference(args):
    """(reason to skip, None) or (None, reference functions) from ``<S5 checkout>/s5/ssm.py``."""
    if args.s5 is None:
        return "no S5 checkout given (--s5 or HF_LAST_S5_REFERENCE)", None
    source = Path(args.s5) / "s5" / "ssm.py"
    if not source.is_file():
        return f"{source} not found", None
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return "JAX is not installed (pip install jax jaxlib)", None
    return None, read_definitions(source, ("discretize_zoh", "binary_operator", "apply_ssm"),
                                  {"jax": jax, "np": jnp, "__name__": "s5_reference"})


def bench_s5(args, ref) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from hf_last import S5Config, S5Model

    from harness import paired_ratio, timings_and_samples

    mixer = S5Model(S5Config(hidden_size=args.hidden, num_hidden_layers=1, state_size=args.state_size)).layers[0].mixer
    u = torch.randn(args.batch, args.length, args.hidden)
    u_grad = u.clone().requires_grad_(True)

    def complex_pairs(t):
        return np.asarray(t[..., 0].detach().numpy() + 1j * t[..., 1].detach().numpy(), dtype=np.complex64)

    params = {"Lambda_re": jnp.asarray(mixer.Lambda_re.detach().numpy()),
              "Lambda_im": jnp.asarray(mixer.Lambda_im.detach().numpy()),
              "B": jnp.asarray(complex_pairs(mixer.B)), "C": jnp.asarray(complex_pairs(mixer.C)),
              "D": jnp.asarray(mixer.D.detach().numpy()), "log_step": jnp.asarray(mixer.log_step.detach().numpy())}

    def layer(p, sequence):  # S5SSM.__call__ (zoh, conj_sym, unidirectional) on one (L, H) sequence
        Lambda = p["Lambda_re"] + 1j * p["Lambda_im"]
        Lambda_bar, B_bar = ref["discretize_zoh"](Lambda, p["B"], jnp.exp(p["log_step"]))
        ys = ref["apply_ssm"](Lambda_bar, B_bar, p["C"], sequence, True, False)
        return ys + p["D"] * sequence

    batched = jax.vmap(layer, in_axes=(None, 0))
    forward = jax.jit(batched)
    gradient = jax.jit(jax.grad(lambda p, x: batched(p, x).sum(), argnums=(0, 1)))
    x = jnp.asarray(u.numpy())

    def jax_fwd():
        forward(params, x).block_until_ready()

    def jax_fwd_bwd():
        jax.block_until_ready(gradient(params, x))

    def ours_fwd():
        with torch.no_grad():
            mixer(u)

    def ours_fwd_bwd():
        mixer.zero_grad(set_to_none=True)
        u_grad.grad = None
        mixer(u_grad)[0].sum().backward()

    stats, samples = timings_and_samples({"reference_fwd": jax_fwd, "ours_fwd": ours_fwd,
                                          "reference_fwd_bwd": jax_fwd_bwd, "ours_fwd_bwd": ours_fwd_bwd},
                                         args.repeats, scale=1e3)
    with torch.no_grad():
        ours = mixer(u)[0].numpy()
    theirs = np.asarray(forward(params, x))
    fwd = stats["reference_fwd"]["median"] / stats["ours_fwd"]["median"]
    fwd_bwd = stats["reference_fwd_bwd"]["median"] / stats["ours_fwd_bwd"]["median"]
    return {
        "times_ms": stats,
        "reference_over_ours_fwd": fwd,
        "reference_over_ours_fwd_paired": paired_ratio(samples["reference_fwd"]["wall"], samples["ours_fwd"]["wall"]),
        "reference_over_ours_fwd_bwd": fwd_bwd,
        "reference_over_ours_fwd_bwd_paired": paired_ratio(samples["reference_fwd_bwd"]["wall"],
                                                           samples["ours_fwd_bwd"]["wall"]),
        "max_rel_diff_outputs": float(np.abs(ours - theirs).max() / np.abs(theirs).max()),
        "jax": jax.__version__,
        "targets": [
            {"name": f"S5 layer forward >= {S5_TARGET_FWD:g}x faster than the reference", "measured": fwd,
             "passed": fwd >= S5_TARGET_FWD},
            {"name": f"S5 layer forward+backward >= {S5_TARGET_FWD_BWD:g}x faster than the reference",
             "measured": fwd_bwd, "passed": fwd_bwd >= S5_TARGET_FWD_BWD},
        ],
    }


# ----------------------------------------------------------------------------------------------- S4D


def s4d_reference(args):
    if args.s4 is None:
        return "no s4 checkout given (--s4 or HF_LAST_S4_REFERENCE)", None
    source = Path(args.s4) / "models" / "s4" / "s4d.py"
    if not source.is_file():
        return f"{source} not found", None
    try:
        from einops import rearrange, repeat
    except ImportError:
        return "einops is not installed (the reference S4D kernel uses it)", None
    import torch
    from torch import nn
    import torch.nn.functional as F

    namespace = {"math": math, "torch": torch, "nn": nn, "F": F, "rearrange": rearrange, "repeat": repeat,
                 "DropoutNd": None,  # only constructed for dropout > 0, which the benchmark does not use
                 "__name__": "s4d_reference"}
    return None, read_definitions(source, ("S4DKernel", "S4D"), namespace)


def bench_s4d(args, ref) -> dict:
    import torch
    from torch import nn

    from hf_last import S4DConfig, S4DModel

    from harness import paired_ratio, timings_and_samples

    mixer = S4DModel(S4DConfig(hidden_size=args.hidden, num_hidden_layers=1, state_size=args.state_size)).layers[0].mixer
    reference = ref["S4D"](args.hidden, d_state=args.state_size, dropout=0.0, transposed=False)
    reference.activation, reference.output_linear = nn.Identity(), nn.Identity()  # kernel + FFT conv + D only
    u = torch.randn(args.batch, args.length, args.hidden)
    u_grad = u.clone().requires_grad_(True)

    def fwd(module):
        def run():
            with torch.no_grad():
                module(u)
        return run

    def fwd_bwd(module):
        def run():
            module.zero_grad(set_to_none=True)
            u_grad.grad = None
            module(u_grad)[0].sum().backward()
        return run

    stats, samples = timings_and_samples({"reference_fwd": fwd(reference), "ours_fwd": fwd(mixer),
                                          "reference_fwd_bwd": fwd_bwd(reference), "ours_fwd_bwd": fwd_bwd(mixer)},
                                         args.repeats, scale=1e3)
    return {
        "times_ms": stats,
        "reference_over_ours_fwd": stats["reference_fwd"]["median"] / stats["ours_fwd"]["median"],
        "reference_over_ours_fwd_paired": paired_ratio(samples["reference_fwd"]["wall"], samples["ours_fwd"]["wall"]),
        "reference_over_ours_fwd_bwd": stats["reference_fwd_bwd"]["median"] / stats["ours_fwd_bwd"]["median"],
        "reference_over_ours_fwd_bwd_paired": paired_ratio(samples["reference_fwd_bwd"]["wall"],
                                                           samples["ours_fwd_bwd"]["wall"]),
    }


# ----------------------------------------------------------------------------------------------- report


def markdown(report: dict) -> str:
    from harness import format_load, pass_fail

    env = report["environment"]
    lines = [
        "# bench_reference: hf_last layers vs the papers' reference implementations (CPU)",
        "",
        f"Command: `{env['command']}` (run from the repository root; reference checkouts fetched by the user)",
        "",
        f"- date (UTC): {env['date_utc']}; git commit {env['git']['commit']} (uncommitted changes in the timed"
        f" sources hf_last/{{{','.join(MEASURED_SOURCES)}}}: {env['git']['measured_sources_uncommitted_changes']};"
        f" sha256 {env['git']['measured_sources_sha256']})",
        f"- torch {env['torch']}, Python {env['python']}, **{env['threads']} thread(s)** (torch and XLA), {env['cpu_count']}"
        f" CPUs; 1/5/15-min load average at start {format_load(env['load_start'])}, at end {format_load(env['load_end'])}",
        f"- B={report['shape']['B']}, L={report['shape']['L']}, H={report['shape']['H']}, {report['shape']['modes']}"
        " complex modes; float32/complex64; medians over interleaved rounds (order rotated every round) after warm-up",
        "- ratio = reference time / our time (> 1: ours is faster); in brackets the median of per-round ratios",
        "",
    ]
    for family in ("S5", "S4D"):
        entry = report["families"].get(family)
        if entry is None:
            lines += [f"## {family}: skipped ({report['skipped'][family]})", ""]
            continue
        t = entry["times_ms"]
        lines += [
            f"## {family}" + (f" (reference: JAX {entry['jax']}, `jax.jit`)" if family == "S5" else " (reference: PyTorch)"),
            "",
            "| | reference ms | ours ms | reference / ours |",
            "|---|---:|---:|---:|",
            f"| forward | {t['reference_fwd']['median']:.1f} | {t['ours_fwd']['median']:.1f} |"
            f" **{entry['reference_over_ours_fwd']:.2f}x** ({entry['reference_over_ours_fwd_paired']:.2f}x) |",
            f"| forward+backward | {t['reference_fwd_bwd']['median']:.1f} | {t['ours_fwd_bwd']['median']:.1f} |"
            f" **{entry['reference_over_ours_fwd_bwd']:.2f}x** ({entry['reference_over_ours_fwd_bwd_paired']:.2f}x) |",
            "",
        ]
        if family == "S5":
            lines.append(f"Max relative difference of the outputs (same parameters): {entry['max_rel_diff_outputs']:.1e}.")
            lines.append("")
            lines += [f"- {target['name']}: {pass_fail(target['passed'])}, measured {target['measured']:.2f}x"
                      for target in entry["targets"]]
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    import torch

    from harness import load_average, run_environment, write_report

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    report = {"environment": {**run_environment(MEASURED_SOURCES), "load_start": load_average()},
              "shape": {"B": args.batch, "L": args.length, "H": args.hidden, "modes": args.state_size // 2},
              "families": {}, "skipped": {}}
    for family, load, bench in (("S5", s5_reference, bench_s5), ("S4D", s4d_reference, bench_s4d)):
        reason, ref = load(args)
        if reason:
            print(f"{family}: skipped: {reason}", flush=True)
            report["skipped"][family] = reason
            continue
        report["families"][family] = bench(args, ref)
        entry = report["families"][family]
        print(f"{family}: reference/ours forward {entry['reference_over_ours_fwd']:.2f}x,"
              f" forward+backward {entry['reference_over_ours_fwd_bwd']:.2f}x", flush=True)
    report["environment"]["load_end"] = load_average()
    if not report["families"]:
        print("nothing to compare: fetch the reference code (see the docstring); no report written")
        return report
    write_report(report, args.output_dir, args.name, markdown(report))
    return report


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
