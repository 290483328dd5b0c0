"""Writing a benchmark's measured report: JSON for machines, markdown for people (shared by the benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, output_dir: Path, name: str, text: str) -> None:
    """``output_dir/name.json`` (the report) and ``output_dir/name.md`` (``text``), then print ``text``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / f"{name}.md").write_text(text)
    print(text)
