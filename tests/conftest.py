import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the suite may reach a hub (the hub tests use a local server)


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    """The suite's models are tiny: intra-op threads only add spin-waiting (5x slower on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reset_accelerate():
    """Forget any Accelerator made in this process: a forked debug_launcher child would inherit it and hang.
    Tests import it with ``from conftest import reset_accelerate``."""
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    PartialState._reset_state()


@pytest.fixture
def saved_figures(monkeypatch):
    """{file name: matplotlib Figure} of every figure saved while the test runs, to check what was drawn (the
    data of its lines, bars and points) rather than only that a PNG exists."""
    from pathlib import Path

    figure = pytest.importorskip("matplotlib.figure")
    saved = {}
    savefig = figure.Figure.savefig

    def recording_savefig(self, fname, *args, **kwargs):
        saved[Path(str(fname)).name] = self
        return savefig(self, fname, *args, **kwargs)

    monkeypatch.setattr(figure.Figure, "savefig", recording_savefig)
    return saved


def pytest_terminal_summary(terminalreporter):
    """Say why tests were skipped even under ``-q`` (which hides the reasons): most skips mean that optional system
    data or extras are missing, and the fix is one install line."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.write_line(f"{len(skipped)} test(s) skipped:", yellow=True)
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"  {count} x {reason}", yellow=True)
    terminalreporter.write_line("  system data: apt-get install -y dataset-fashion-mnist espeak-ng; "
                                "Python extras: pip install -e '.[test]'", yellow=True)
