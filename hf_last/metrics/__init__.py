"""Metric modules shipped with hf_last, loadable offline with ``evaluate.load(path)``."""

from pathlib import Path

ACCURACY_PATH = str(Path(__file__).parent / "accuracy")


def load_accuracy():
    """The shipped accuracy metric as an ``evaluate`` module (no Hub access)."""
    import evaluate

    return evaluate.load(ACCURACY_PATH)
