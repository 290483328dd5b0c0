"""Shared by the benchmarks: the git state and load average they record, and writing the measured report
(JSON for machines, markdown for people)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def git(*args: str) -> str | None:
    """Output of ``git args...`` in the current directory, or None where git or the repository is missing."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def load_average() -> list[float] | None:
    """1/5/15-minute load average, rounded, where the platform has one."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def write_report(report: dict, output_dir: Path, name: str, text: str) -> None:
    """``output_dir/name.json`` (the report) and ``output_dir/name.md`` (``text``), then print ``text``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / f"{name}.md").write_text(text)
    print(text)
