"""hf_last.data: task shapes and labels, determinism, the Arrow cache, and independent checks of the generators."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from hf_last.data import TASKS, bitreversal_permutation, cache_path, fingerprint, load_task
from hf_last.data import fashion, listops, speech
from hf_last.data.cache import is_cached

HAVE_FASHION = all((fashion.FASHION_ROOT / f).is_file() for f in
                   ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason=f"Fashion-MNIST absent: `{fashion.INSTALL_HINT}`")
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason=f"espeak-ng absent: `{speech.INSTALL_HINT}`")

SMALL_LISTOPS = dict(num_train=150, num_validation=30, num_test=30, min_length=10, max_length=80)
SMALL_FASHION = dict(validation_size=100, train_size=200, test_size=100)
SMALL_SPEECH = dict(words=("yes", "no", "stop"), voices=("en", "en-us"), variants=("m1", "m3", "f2"),
                    clips_per_speaker=1)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("HF_LAST_CACHE", str(path))
    return path


def arrays(split, column="input_values"):
    return np.asarray(split.with_format("numpy")[column])


def assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].features == b[name].features
        assert a[name].to_dict() == b[name].to_dict()


# --- bit-reversal permutation --------------------------------------------------------------------------------

def s4_bitreversal_permutation(n):
    """``state-spaces/s4``'s construction: halve-and-stack columns of 0..2^m-1, keep entries < n."""
    m = int(math.ceil(math.log(n) / math.log(2)))
    perm = np.arange(1 << m).reshape(1 << m, 1)
    for _ in range(m):
        half = perm.shape[0] // 2
        perm = np.hstack((perm[:half], perm[half:]))
    perm = perm.squeeze(0)
    return np.extract(perm < n, perm)


@pytest.mark.parametrize("n", [2, 5, 8, 64, 100, 784, 1024])
def test_bitreversal_is_a_permutation_matching_s4(n):
    perm = bitreversal_permutation(n)
    assert sorted(perm.tolist()) == list(range(n))
    np.testing.assert_array_equal(perm, s4_bitreversal_permutation(n))


def test_bitreversal_known_values_and_involution():
    np.testing.assert_array_equal(bitreversal_permutation(8), [0, 4, 2, 6, 1, 5, 3, 7])
    np.testing.assert_array_equal(bitreversal_permutation(784)[:6], [0, 512, 256, 768, 128, 640])
    perm = bitreversal_permutation(1024)
    np.testing.assert_array_equal(perm[perm], np.arange(1024))


# --- registry and cache --------------------------------------------------------------------------------------

def test_registry_metadata():
    assert set(TASKS) >= {"digits", "sfashion", "psfashion", "listops", "speech"}
    for name, info in TASKS.items():
        assert info.input_kind in ("values", "ids")
        assert (info.input_size is None) == (info.input_kind == "ids")
        assert (info.vocab_size is None) == (info.input_kind == "values")
        assert (info.pad_id is None) == (info.input_kind == "values")
        assert info.num_labels == len(info.label_names)
        kwargs = info.config_kwargs()
        assert kwargs["num_labels"] == info.num_labels and len(kwargs["id2label"]) == info.num_labels
    assert TASKS["listops"].vocab_size == len(listops.VOCAB) and TASKS["listops"].pad_id == 0
    assert TASKS["speech"].eval_splits == {"test_8khz": {"step_rescale": 2.0}}


def test_unknown_task_and_setting_are_clear_errors():
    with pytest.raises(KeyError, match="available"):
        load_task("mnist")
    with pytest.raises(TypeError, match="valid"):
        load_task("digits", sede=1)


def test_second_load_hits_the_cache(cache_dir, monkeypatch):
    first = load_task("digits")
    path = cache_path("digits", TASKS["digits"].version, TASKS["digits"].resolve())
    assert path.parent == cache_dir and is_cached(path)
    assert all(Path(f["filename"]).is_relative_to(path) for f in first["train"].cache_files)

    def builder_must_not_run(**settings):
        raise AssertionError("the second load rebuilt the task instead of reading the cache")

    monkeypatch.setitem(TASKS, "digits", dataclasses.replace(TASKS["digits"], builder=builder_must_not_run))
    second = load_task("digits")
    assert [p.name for p in cache_dir.iterdir()] == [path.name]  # nothing rebuilt next to it
    assert_same(first, second)


def test_fingerprint_depends_on_settings_and_version(cache_dir):
    base = TASKS["digits"].resolve()
    assert fingerprint("digits", "1", base) == fingerprint("digits", "1", dict(reversed(list(base.items()))))
    assert fingerprint("digits", "1", base) != fingerprint("digits", "1", {**base, "seed": 1})
    assert fingerprint("digits", "1", base) != fingerprint("digits", "2", base)
    load_task("digits")
    load_task("digits", seed=1)
    assert len(list(cache_dir.iterdir())) == 2


def test_use_cache_false_writes_nothing(cache_dir):
    load_task("digits", use_cache=False)
    assert not cache_dir.exists()


# --- digits --------------------------------------------------------------------------------------------------

def test_digits_shapes_labels_and_stratified_split():
    data = load_task("digits")
    assert list(data) == ["train", "validation", "test"]
    sizes = {name: len(split) for name, split in data.items()}
    assert sum(sizes.values()) == 1797 and abs(sizes["train"] / 1797 - 0.7) < 0.01
    x = arrays(data["train"])
    assert x.shape == (sizes["train"], 64) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    overall = np.bincount(np.concatenate([s["label"] for s in data.values()]), minlength=10) / 1797
    for split in data.values():  # stratified: every split keeps the class proportions
        np.testing.assert_allclose(np.bincount(split["label"], minlength=10) / len(split), overall, atol=0.01)
    assert data["train"].features["label"].num_classes == 10


def test_digits_deterministic_and_seeded():
    assert_same(load_task("digits", use_cache=False), load_task("digits", use_cache=False))
    a, b = load_task("digits"), load_task("digits", seed=1)
    assert not np.array_equal(arrays(a["test"]), arrays(b["test"]))


# --- listops -------------------------------------------------------------------------------------------------

def evaluate_listops(tokens):
    """Independent stack evaluator of prefix ListOps (parentheses already removed)."""
    stack = []
    for token in tokens:
        if token.startswith("["):
            stack.append([token])
        elif token == "]":
            op, *args = stack.pop()
            ordered = sorted(args)
            k = len(ordered)
            value = {"[MIN": ordered[0], "[MAX": ordered[-1], "[SM": sum(args) % 10,
                     "[MED": ordered[k // 2] if k % 2 else (ordered[k // 2 - 1] + ordered[k // 2]) // 2}[op]
            if not stack:
                return value
            stack[-1].append(value)
        else:
            if not stack:
                return int(token)
            stack[-1].append(int(token))
    raise ValueError("unbalanced expression")


def test_listops_labels_match_an_independent_evaluator():
    data = load_task("listops", **SMALL_LISTOPS)
    assert {k: len(v) for k, v in data.items()} == {"train": 150, "validation": 30, "test": 30}
    inverse = {i: t for t, i in listops.VOCAB.items()}
    seen = set()
    for split in data.values():
        for record in split:
            ids = record["input_ids"]
            assert 10 < len(ids) < 80 and 0 not in ids and max(ids) < TASKS["listops"].vocab_size
            tokens = [inverse[i] for i in ids]
            assert tokens[0] in listops.OPERATORS and tokens[-1] == "]"
            assert len(tokens) == sum(t.isdigit() for t in tokens) + 2 * tokens.count("]")
            assert evaluate_listops(tokens) == record["label"]
            seen.add(tuple(ids))
    assert len(seen) == 210  # deduplicated across splits
    labels = np.concatenate([split["label"] for split in data.values()])
    assert len(np.unique(labels)) >= 8


def test_listops_deterministic_and_seeded():
    a = load_task("listops", use_cache=False, **SMALL_LISTOPS)
    assert_same(a, load_task("listops", use_cache=False, **SMALL_LISTOPS))
    b = load_task("listops", use_cache=False, **{**SMALL_LISTOPS, "seed": 1})
    assert a["train"]["input_ids"] != b["train"]["input_ids"]


def test_listops_lra_generator_rule():
    """Depth cap: at max_depth every node is a digit, so max_depth=2 gives flat [OP d d ... ] trees."""
    tokens, value = listops.generate_tree(__import__("random").Random(3), max_depth=1, max_args=5)
    assert len(tokens) == 1 and int(tokens[0]) == value
    for tokens, value in listops.generate_examples(20, 0, 2, 20, max_depth=2, max_args=4):
        assert tokens[0] in listops.OPERATORS and all(t.isdigit() for t in tokens[1:-1])
        assert 2 <= len(tokens) - 2 <= 4 and evaluate_listops(tokens) == value


# --- Fashion-MNIST -------------------------------------------------------------------------------------------

def read_idx_independently(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw[4 + 4 * ndim:], np.uint8).reshape(dims)


@needs_fashion
def test_fashion_shapes_normalisation_and_permutation():
    seq = load_task("sfashion", **SMALL_FASHION)
    perm = load_task("psfashion", **SMALL_FASHION)
    assert {k: len(v) for k, v in seq.items()} == {"train": 200, "validation": 100, "test": 100}
    x, xp = arrays(seq["test"]), arrays(perm["test"])
    assert x.shape == (100, 784) and x.dtype == np.float32
    np.testing.assert_array_equal(xp, x[:, bitreversal_permutation(784)])
    assert seq["test"]["label"] == perm["test"]["label"]
    assert seq["train"].features["label"].names[9] == "Ankle boot"
    # test records are official test images (in file order), standardised by the train mean/std
    stats = json.loads(seq["test"].info.description)
    images = read_idx_independently(fashion.FASHION_ROOT / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    labels = read_idx_independently(fashion.FASHION_ROOT / "t10k-labels-idx1-ubyte.gz")
    pixels = x * stats["std"] + stats["mean"]
    match = [int(np.argmin(np.abs(images / 255.0 - row).sum(1))) for row in pixels[:5]]
    np.testing.assert_allclose(pixels[:5], images[match] / 255.0, atol=1e-5)
    assert labels[match].tolist() == seq["test"]["label"][:5]
    assert 0.2 < stats["mean"] < 0.4 and 0.3 < stats["std"] < 0.4


@needs_fashion
def test_fashion_validation_is_carved_from_train_and_seeded():
    a = load_task("sfashion", **SMALL_FASHION)
    b = load_task("sfashion", **{**SMALL_FASHION, "seed": 1})
    va, ta = arrays(a["validation"]), arrays(a["train"])
    assert not (va[:, None, :] == ta[None, :, :]).all(-1).any()  # no validation image in train
    assert not np.array_equal(va, arrays(b["validation"]))
    assert_same(a, load_task("sfashion", use_cache=False, **SMALL_FASHION))


def test_fashion_missing_package_names_the_install_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        fashion.build_fashion(False, root=tmp_path)


# --- speech --------------------------------------------------------------------------------------------------

@needs_espeak
def test_speech_splits_8khz_and_normalisation():
    data = load_task("speech", **SMALL_SPEECH)
    assert list(data) == ["train", "validation", "test", "test_8khz"]
    assert data["train"].features["label"].names == ["yes", "no", "stop"]
    assert TASKS["speech"].config_kwargs(data)["num_labels"] == 3
    speakers = {name: set(split["speaker"]) for name, split in data.items()}
    assert not (speakers["train"] & speakers["validation"] or speakers["train"] & speakers["test"]
                or speakers["validation"] & speakers["test"])
    assert sum(len(v) for k, v in speakers.items() if k != "test_8khz") == 6
    train, test, test8 = arrays(data["train"]), arrays(data["test"]), arrays(data["test_8khz"])
    assert train.shape == (len(data["train"]), 16000) and test8.shape == (len(data["test"]), 8000)
    np.testing.assert_array_equal(test8, test[:, ::2])
    assert data["test_8khz"]["label"] == data["test"]["label"]
    assert abs(train.mean()) < 1e-3 and abs(train.std() - 1) < 1e-3
    # every clip holds a word: loud samples well above the noise floor
    assert (np.abs(train).max(1) > 3).all()


@needs_espeak
def test_speech_deterministic_and_seeded():
    a = load_task("speech", use_cache=False, num_workers=2, **SMALL_SPEECH)
    b = load_task("speech", use_cache=False, num_workers=1, **SMALL_SPEECH)
    assert_same(a, b)
    c = load_task("speech", use_cache=False, **{**SMALL_SPEECH, "seed": 1})
    assert not np.array_equal(arrays(a["train"]), arrays(c["train"]))


def test_speech_missing_espeak_names_the_install_command(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install -y espeak-ng"):
        speech.build_speech(**SMALL_SPEECH)


# --- a task builds a matching model ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, settings", [("digits", {}), ("listops", SMALL_LISTOPS)])
def test_config_kwargs_build_a_model_that_reads_the_records(name, settings):
    import torch

    from hf_last import S5Config, S5ForSequenceClassification

    data = load_task(name, **settings)
    info = TASKS[name]
    config = S5Config(hidden_size=8, num_hidden_layers=1, state_size=4, **info.config_kwargs(data))
    model = S5ForSequenceClassification(config).eval()
    records = data["train"].select(range(3))
    labels = torch.tensor(records["label"])
    if info.input_kind == "values":
        batch = {"input_values": torch.tensor(arrays(records))}
    else:
        ids = records["input_ids"]
        width = max(map(len, ids))
        batch = {"input_ids": torch.tensor([x + [info.pad_id] * (width - len(x)) for x in ids]),
                 "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])}
    output = model(**batch, labels=labels)
    assert output.logits.shape == (3, info.num_labels) and torch.isfinite(output.loss)


# --- pathfinder ----------------------------------------------------------------------------------------------

SMALL_PATHFINDER = dict(num_train=24, num_validation=8, num_test=8)


def test_pathfinder_shapes_labels_and_determinism():
    from hf_last.data import pathfinder

    data = load_task("pathfinder", **SMALL_PATHFINDER)
    assert {k: len(v) for k, v in data.items()} == {"train": 24, "validation": 8, "test": 8}
    x = arrays(data["train"])
    assert x.shape == (24, 1024) and x.min() == -1.0 and x.max() == 1.0
    assert set(data["train"]["label"]) == {0, 1}
    assert 0.05 < (x > 0).mean() < 0.5  # sparse strokes on a dark background
    assert_same(data, load_task("pathfinder", use_cache=False, **SMALL_PATHFINDER))
    other = load_task("pathfinder", use_cache=False, **{**SMALL_PATHFINDER, "seed": 1})
    assert not np.array_equal(x, arrays(other["train"]))
    # markers lie on drawn ink, one at the start of snake 1; both labels use the same generator
    image, markers, ink = pathfinder.sample_example(np.random.default_rng(0), 1)
    assert image.shape == (32, 32) and markers.shape == (2, 2)
    for px, py in markers:
        assert ink[int(py * 4), int(px * 4)]
