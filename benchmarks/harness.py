"""The benchmarks' shared harness: timing callables in interleaved rounds, summaries and paired ratios of the
samples, the environment and git state a result records, and writing the report (JSON for machines,
markdown for people)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch


# ---- timing -----------------------------------------------------------------------------------------------
def time_rounds(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Time callables in ``repeats`` rounds: each round calls every callable once, the order rotated by one
    per round, so load from other processes hits all of them alike. Returns
    ``{name: {"wall": [s, ...], "cpu": [s, ...], "cpu_over_wall": [...]}}``, one entry per round
    (cpu/wall = 1.0: the process was never descheduled)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    out = {name: {"wall": [], "cpu": [], "cpu_over_wall": []} for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            fns[name]()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            out[name]["wall"].append(wall)
            out[name]["cpu"].append(cpu)
            out[name]["cpu_over_wall"].append(cpu / wall)
    return out


def summarize(samples: dict, scale: float = 1.0) -> dict:
    """Median, min and max wall time (times ``scale``, e.g. 1e3 for ms) of one callable's rounds, and its CPU time."""
    wall = [scale * w for w in samples["wall"]]
    return {"median": statistics.median(wall), "min": min(wall), "max": max(wall), "n": len(wall),
            "cpu_median": scale * statistics.median(samples["cpu"]),
            "cpu_over_wall_median": statistics.median(samples["cpu_over_wall"])}


def timings(fns: dict, repeats: int, scale: float = 1.0) -> dict:
    """``{name: summarize(...)}`` of :func:`time_rounds` (when the per-round samples are not needed)."""
    return {name: summarize(samples, scale) for name, samples in time_rounds(fns, repeats).items()}


def timings_and_samples(fns: dict, repeats: int, scale: float = 1.0) -> tuple[dict, dict]:
    """(:func:`timings`, the raw :func:`time_rounds` samples) of one run, for medians and paired ratios."""
    raw = time_rounds(fns, repeats)
    return {name: summarize(samples, scale) for name, samples in raw.items()}, raw


def paired_ratio(slow: list[float], fast: list[float]) -> float:
    """Median over rounds of slow/fast within the same round (robust to load drifting between rounds)."""
    return statistics.median(s / f for s, f in zip(slow, fast))


# ---- what a result records --------------------------------------------------------------------------------
def git(*args: str) -> str | None:
    """Output of ``git args...`` in the current directory, or None where git or the repository is missing."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def git_state(measured_sources: tuple[str, ...]) -> dict:
    """The commit, whether hf_last has uncommitted changes, and whether (and a hash of what) the timed
    sub-packages ``hf_last/<measured_sources>`` hold."""
    import hf_last

    root = Path(hf_last.__file__).parent
    measured = sorted(p for sub in measured_sources for p in (root / sub).rglob("*.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in measured)).hexdigest()[:16]
    return {"commit": git("rev-parse", "HEAD"),
            "hf_last_uncommitted_changes": bool(git("status", "--porcelain", "hf_last")),
            "measured_sources_uncommitted_changes": bool(git("status", "--porcelain",
                                                             *[f"hf_last/{s}" for s in measured_sources])),
            "measured_sources_sha256": digest}


def load_average() -> list[float] | None:
    """1/5/15-minute load average, rounded, where the platform has one."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def format_load(values) -> str:
    return "n/a" if not values else "/".join(f"{x:.2f}" for x in values)


def run_environment(measured_sources: tuple[str, ...]) -> dict:
    """Command, date, versions, threads, machine and git state of this run."""
    return {
        "command": shlex.join(["python", *sys.argv]),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "git": git_state(measured_sources),
    }


# ---- report -----------------------------------------------------------------------------------------------
def pass_fail(passed: bool) -> str:
    return "**PASS**" if passed else "**FAIL**"


def write_report(report: dict, output_dir: Path, name: str, text: str) -> None:
    """``output_dir/name.json`` (the report) and ``output_dir/name.md`` (``text``), then print ``text``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / f"{name}.md").write_text(text)
    print(text)
