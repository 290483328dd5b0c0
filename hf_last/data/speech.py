"""``speech``: a Speech-Commands-style raw-audio task of single words synthesised with espeak-ng.

Data: the Debian package ``espeak-ng`` (``apt-get install -y espeak-ng``), run as subprocesses.

Speakers are voice+variant pairs (e.g. ``en-gb-scotland+f3``). Every speaker says every word
``clips_per_speaker`` times, each clip with its own seeded speed (words/min), pitch, start offset
and white-noise level. Speakers, not clips, are split (seeded) into train/validation/test, so the
evaluation speakers are unseen in training.

Signal path (Speech Commands conventions): espeak-ng's 22,050 Hz int16 wav / 2^15 -> 16 kHz
(``scipy.signal.resample_poly``, 320/441) -> placed at a random offset in ``[0, max_shift]`` of a
16,000-sample zero buffer (cropped if longer) -> + N(0, sigma^2) noise, sigma ~ U(noise_range) ->
standardised by the scalar mean/std of the train split (stored in each split's ``info.description``).

Record: ``input_values`` = 16,000 floats (L=16000, one channel), ``label`` = word index,
``speaker`` = the voice+variant string. Split ``test_8khz`` is the test split decimated without a
filter, ``x[::2]`` (L=8000): evaluate it zero-shot with ``step_rescale=2``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
from datasets import DatasetDict, Value

from .arrow import continuous_features, make_dataset

VERSION = "1"
INSTALL_HINT = "apt-get install -y espeak-ng"
SAMPLE_RATE = 16_000
NUM_SAMPLES = 16_000
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")  # Speech Commands' 10 keywords
VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
DEFAULTS = {"seed": 0, "words": WORDS, "voices": VOICES, "variants": VARIANTS, "clips_per_speaker": 2,
            "speed_range": (120, 220), "pitch_range": (20, 80), "noise_range": (0.0, 0.02),
            "max_shift": 2000, "split_fractions": (0.7, 0.15, 0.15)}


def espeak_executable() -> str:
    """Path of ``espeak-ng``; a clear error naming the install command when it is missing."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise FileNotFoundError(f"espeak-ng is not installed; the speech task needs it: `{INSTALL_HINT}`.")
    return path


def synthesize(word: str, speaker: str, speed: int, pitch: int, workdir: str) -> tuple[int, np.ndarray]:
    """Run ``espeak-ng -v SPEAKER -s SPEED -p PITCH -w out.wav WORD``; return (rate, int16 samples)."""
    from scipy.io import wavfile

    handle, path = tempfile.mkstemp(suffix=".wav", dir=workdir)
    os.close(handle)
    try:
        cmd = [espeak_executable(), "-v", speaker, "-s", str(speed), "-p", str(pitch), "-w", path, word]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or os.path.getsize(path) == 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip() or result.stdout.strip()}")
        rate, samples = wavfile.read(path)
    finally:
        os.remove(path)
    return rate, samples


def to_clip(samples: np.ndarray, rate: int, offset: int, noise_std: float, rng: np.random.Generator,
            num_samples: int = NUM_SAMPLES, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """int16 audio at ``rate`` -> float32 (num_samples,) at ``target_rate``: /2^15, resample, place, add noise."""
    from scipy.signal import resample_poly

    audio = samples.astype(np.float64) / 2**15
    ratio = Fraction(target_rate, rate)
    if ratio != 1:
        audio = resample_poly(audio, ratio.numerator, ratio.denominator)
    clip = np.zeros(num_samples)
    audio = audio[: num_samples - offset]
    clip[offset: offset + len(audio)] = audio
    clip += noise_std * rng.standard_normal(num_samples)
    return clip.astype(np.float32)


def split_speakers(speakers: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, list[str]]:
    """Seeded partition of ``speakers`` into train/validation/test by ``fractions`` (each non-empty)."""
    if len(speakers) < 3:
        raise ValueError(f"need at least 3 voice+variant speakers to split, got {len(speakers)}")
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    n_val = max(1, round(fractions[1] * len(order)))
    n_test = max(1, round(fractions[2] * len(order)))
    n_train = len(order) - n_val - n_test
    if n_train < 1:
        raise ValueError(f"split_fractions {fractions} leave no training speaker out of {len(order)}")
    return {"train": order[:n_train], "validation": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}


def clip_plan(speakers: list[str], words: list[str], clips_per_speaker: int, seed: int, speed_range, pitch_range,
              noise_range, max_shift: int) -> list[dict]:
    """The random parameters of every clip, drawn up front so parallel synthesis stays deterministic."""
    rng = np.random.default_rng([seed, 1])
    plan = []
    for speaker in speakers:
        for label, word in enumerate(words):
            for _ in range(clips_per_speaker):
                plan.append({"speaker": speaker, "word": word, "label": label,
                             "speed": int(rng.integers(speed_range[0], speed_range[1] + 1)),
                             "pitch": int(rng.integers(pitch_range[0], pitch_range[1] + 1)),
                             "noise_std": float(rng.uniform(*noise_range)),
                             "offset": int(rng.integers(0, max_shift + 1)),
                             "noise_seed": len(plan)})
    return plan


def render(plan: list[dict], seed: int, num_workers: int | None = None) -> np.ndarray:
    """Synthesise every clip of ``plan`` with a thread pool of espeak-ng subprocesses -> (N, 16000)."""
    espeak_executable()
    workers = num_workers or min(4, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="hf_last_speech_") as workdir:
        def one(spec: dict) -> np.ndarray:
            rate, samples = synthesize(spec["word"], spec["speaker"], spec["speed"], spec["pitch"], workdir)
            noise_rng = np.random.default_rng([seed, 2, spec["noise_seed"]])
            return to_clip(samples, rate, spec["offset"], spec["noise_std"], noise_rng)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            clips = list(pool.map(one, plan))
    return np.stack(clips) if clips else np.zeros((0, NUM_SAMPLES), np.float32)


def build_speech(seed: int = 0, words=WORDS, voices=VOICES, variants=VARIANTS, clips_per_speaker: int = 2,
                 speed_range=(120, 220), pitch_range=(20, 80), noise_range=(0.0, 0.02), max_shift: int = 2000,
                 split_fractions=(0.7, 0.15, 0.15), num_workers: int | None = None) -> DatasetDict:
    """Build the speech task (see the module docstring). ``num_workers`` only sets the pool size."""
    if not 0 <= max_shift < NUM_SAMPLES:
        raise ValueError(f"max_shift must be in 0..{NUM_SAMPLES - 1}, got {max_shift}")
    speakers = [f"{voice}+{variant}" for voice in voices for variant in variants]
    groups = split_speakers(speakers, tuple(split_fractions), seed)
    plan = clip_plan([s for split in ("train", "validation", "test") for s in groups[split]], list(words),
                     clips_per_speaker, seed, speed_range, pitch_range, noise_range, max_shift)
    clips = render(plan, seed, num_workers)
    rows = {split: np.array([i for i, p in enumerate(plan) if p["speaker"] in set(members)], dtype=np.int64)
            for split, members in groups.items()}
    audio = {split: clips[idx] for split, idx in rows.items()}
    plans = {split: [plan[i] for i in idx] for split, idx in rows.items()}
    mean, std = float(audio["train"].mean()), float(audio["train"].std())
    description = json.dumps({"task": "speech", "sample_rate": SAMPLE_RATE, "scale": 2**-15, "mean": mean,
                              "std": std, "speakers": groups})
    out = {}
    for split in ("train", "validation", "test", "test_8khz"):
        source = "test" if split == "test_8khz" else split
        x = (audio[source] - mean) / std
        if split == "test_8khz":
            x = x[:, ::2]  # 8 kHz zero-shot: decimate without a filter, evaluate with step_rescale=2
        features = continuous_features(x.shape[1], list(words), speaker=Value("string"))
        columns = {"input_values": x, "label": np.array([p["label"] for p in plans[source]], np.int64),
                   "speaker": [p["speaker"] for p in plans[source]]}
        out[split] = make_dataset(columns, features, description)
    return DatasetDict(out)
