"""Start-up cost: ``import hf_last`` and ``hf-last --help`` load no data, plotting or metric libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["datasets", "matplotlib", "sklearn", "evaluate"]


def modules_after(code: str) -> set[str]:
    """Top-level modules (and hf_last's own) imported by ``code`` in a fresh interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_import_hf_last_leaves_data_plot_and_metric_libraries_unimported():
    loaded = modules_after("import hf_last")
    assert "hf_last" in loaded and "hf_last.models" in loaded
    assert not [name for name in HEAVY if name in loaded]


def test_cli_help_loads_no_subcommand_module():
    loaded = modules_after("from hf_last.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert not [name for name in HEAVY if name in loaded]
    assert not [name for name in loaded if name.startswith(("hf_last.experiments", "hf_last.data", "hf_last.cli."))]


def test_train_help_loads_no_data_library():
    loaded = modules_after("from hf_last.cli import main\ntry:\n    main(['train', '--help'])\nexcept SystemExit:\n"
                           "    pass")
    assert "hf_last.cli.train" in loaded
    assert not [name for name in HEAVY if name in loaded]


def test_the_short_help_lines_are_the_subcommands_own():
    """``hf-last --help`` lists subcommands from COMMANDS without importing them: the same lines they register."""
    from hf_last.cli import COMMANDS, build_parser

    def help_lines(parser):
        action = next(a for a in parser._actions if a.dest == "command")
        return {choice.dest: choice.help for choice in action._choices_actions}

    assert help_lines(build_parser([])) == help_lines(build_parser()) == {n: c[2] for n, c in COMMANDS.items()}


def test_a_subcommand_is_parsed_and_dispatched_through_the_lazy_parser(tmp_path):
    import pytest

    from hf_last.cli import main

    with pytest.raises(SystemExit, match="nothing to do"):  # variants_main ran with its own flags parsed
        main(["prune", str(tmp_path / "missing"), "--ratios", "0.5"])
