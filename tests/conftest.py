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
