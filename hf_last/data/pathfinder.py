"""``pathfinder``: a numpy re-implementation of the LRA Pathfinder generator (Linsley et al., 2018), 32×32.

An image holds two target "snakes" of ``contour_length`` paddles, distractor snakes, and two round
markers; the label says whether the markers sit on the two ends of one snake (1) or on ends of the
two different snakes (0), label ~ Bernoulli(1/2).

Growth of a snake (all lengths in output pixels): paddles are line segments of ``paddle_length``
and ``thickness``; the next paddle's centre lies on a circle of radius ``paddle_length + margin``
around the last one, at heading θ + Δ with Δ drawn from a grid over (-π/2, π/2) with weight
(1 - occupied)·cos(min(1.8·|Δ|, π/2))², where *occupied* means the candidate comes closer than
``margin`` to anything already drawn or leaves the image. A snake that gets stuck is redrawn.
Snake 2 starts ``snake_gap`` px from snake 1's start at a random angle. ``30 / distractor_length``
distractor snakes of ``distractor_length = contour_length // 3`` paddles follow (skipped when they
do not fit). Rendering is anti-aliased (drawn at ``supersample``× and averaged), markers are discs
of ``marker_radius``, and images are scaled to [-1, 1] (background -1).

The LRA sizes in output pixels are an assumption of this port: the original draws at a larger
scale (paddles ≈ 5 px, gap to the second snake ≈ 27 px); the defaults scale those to 32×32.

Record: ``input_values`` = the 1,024 pixels in raster order, ``label`` ∈ {0, 1}.
"""

from __future__ import annotations

import math

import numpy as np
from datasets import DatasetDict

from .arrow import continuous_features, make_dataset

VERSION = "1"
LABELS = ["disconnected", "connected"]
DEFAULTS = {"seed": 0, "num_train": 2000, "num_validation": 250, "num_test": 250, "image_size": 32,
            "contour_length": 14, "paddle_length": 2.0, "margin": 1.0, "thickness": 1.0, "snake_gap": 6.0,
            "marker_radius": 1.5, "supersample": 4}
_ANGLES = np.linspace(-math.pi / 2, math.pi / 2, 25)
_WEIGHTS = np.cos(np.minimum(1.8 * np.abs(_ANGLES), math.pi / 2)) ** 2


class _Canvas:
    """Fine-grid raster (``size·supersample`` square) with distance-to-segment drawing and collision tests."""

    def __init__(self, size: int, supersample: int):
        self.size, self.scale = size, supersample
        n = size * supersample
        self.ink = np.zeros((n, n), dtype=bool)
        self.reserved = np.zeros((n, n), dtype=bool)  # keep-out discs around marker sites
        centres = ((np.arange(n) + 0.5) / supersample).astype(np.float32)  # fine pixel centres, output px
        self.ys, self.xs = centres[:, None], centres[None, :]

    def window(self, centre: np.ndarray, radius: float) -> tuple[slice, slice]:
        """Fine-pixel (rows, cols) slices of the square of half-width ``radius`` around ``centre``."""
        lo = np.clip(np.floor((centre - radius) * self.scale).astype(int), 0, self.ink.shape[0])
        hi = np.clip(np.ceil((centre + radius) * self.scale).astype(int), 0, self.ink.shape[0])
        return slice(lo[1], hi[1]), slice(lo[0], hi[0])

    def segment_distance2(self, a: np.ndarray, b: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
        """Squared distance of every fine pixel of ``window`` to the segments a[k]–b[k]: (K, h, w)."""
        ys, xs = self.ys[window[0]], self.xs[:, window[1]]
        a = np.atleast_2d(a).astype(np.float32)[:, :, None, None]
        d = np.atleast_2d(b).astype(np.float32)[:, :, None, None] - a
        px, py = xs - a[:, 0], ys - a[:, 1]
        t = np.clip((px * d[:, 0] + py * d[:, 1]) / np.maximum((d ** 2).sum(1), 1e-12), 0, 1)
        return (px - t * d[:, 0]) ** 2 + (py - t * d[:, 1]) ** 2

    def disc(self, centre: np.ndarray, radius: float) -> np.ndarray:
        """Fine mask of the disc of ``radius`` around ``centre``."""
        return np.hypot(self.xs - centre[0], self.ys - centre[1]) < radius

    def inside(self, points: np.ndarray, pad: float) -> np.ndarray:
        return np.all((points >= pad) & (points <= self.size - pad), axis=-1)


def _paddle(centre: np.ndarray, angle: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    half = 0.5 * length * np.stack([np.cos(angle), np.sin(angle)], -1)
    return centre - half, centre + half


def _grow_snake(canvas: _Canvas, rng: np.random.Generator, start: np.ndarray, angle: float, paddles: int,
                length: float, margin: float, thickness: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Draw one snake whose first paddle's tail is ``start``; return (tail, head) end points or None if stuck."""
    step = length + margin
    centre = start + 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
    own = np.zeros_like(canvas.ink)  # this snake's paddles, except the last one, join the collision test
    strokes = np.zeros_like(canvas.ink)
    last = None
    reach = step + length / 2 + thickness / 2 + margin + 1
    for k in range(paddles):
        if k == 0:
            centres, angles, weights = centre[None], np.array([angle]), np.ones(1)
        else:
            angles = angle + _ANGLES
            centres = centre + step * np.stack([np.cos(angles), np.sin(angles)], -1)
            weights = _WEIGHTS.copy()
        tails, heads = _paddle(centres, angles, length)
        keep = (weights > 0) & canvas.inside(tails, thickness) & canvas.inside(heads, thickness)
        centres, angles, weights, tails, heads = centres[keep], angles[keep], weights[keep], tails[keep], heads[keep]
        window = canvas.window(centre, reach)
        dist2 = canvas.segment_distance2(tails, heads, window)
        blocked = ((dist2 < (thickness / 2 + margin) ** 2) & (canvas.ink[window] | canvas.reserved[window] | own[window])).any((1, 2))
        weights = weights * ~blocked
        if weights.sum() <= 0:
            return None
        choice = rng.choice(len(weights), p=weights / weights.sum())
        if last is not None:
            own |= last
        last = np.zeros_like(canvas.ink)
        last[window] = dist2[choice] < (thickness / 2) ** 2
        strokes |= last
        centre, angle = centres[choice], float(angles[choice])
        if k == 0:
            first_tail = tails[choice]
    canvas.ink |= strokes
    return first_tail, heads[choice]


def _place_snake(canvas, rng, paddles, settings, start=None, tries=50):
    for _ in range(tries):
        s = start if start is not None else rng.uniform(2, canvas.size - 2, 2)
        saved = canvas.ink.copy()
        ends = _grow_snake(canvas, rng, s, rng.uniform(-math.pi, math.pi), paddles, settings["paddle_length"],
                           settings["margin"], settings["thickness"])
        if ends is not None:
            return ends
        canvas.ink = saved
    return None


def sample_example(rng: np.random.Generator, label: int, image_size: int = 32, contour_length: int = 14,
                   paddle_length: float = 2.0, margin: float = 1.0, thickness: float = 1.0, snake_gap: float = 6.0,
                   marker_radius: float = 1.5, supersample: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example: (image (S, S) in [-1, 1], marker centres (2, 2) as (x, y) px, fine ink mask).

    Marker sites (both ends of snake 1, the head of snake 2) are kept clear of every other stroke by
    ``margin``, so each marker touches only its own snake. Snakes are dashed (gaps of ``margin``
    between paddles), as in the original: they are contours to group, not connected pixel sets.
    """
    settings = {"paddle_length": paddle_length, "margin": margin, "thickness": thickness}
    keep_out = marker_radius + margin + thickness / 2
    while True:
        canvas = _Canvas(image_size, supersample)
        first = _place_snake(canvas, rng, contour_length, settings)
        if first is None:
            continue
        canvas.reserved |= canvas.disc(first[0], keep_out) | canvas.disc(first[1], keep_out)
        second = None
        for _ in range(20):
            theta = rng.uniform(-math.pi, math.pi)
            start = first[0] + snake_gap * np.array([math.cos(theta), math.sin(theta)])
            if not canvas.inside(start, 2):
                continue
            before = canvas.ink.copy()
            second = _place_snake(canvas, rng, contour_length, settings, start=start, tries=5)
            if second is not None and not (canvas.disc(second[1], keep_out) & before).any():
                break
            canvas.ink, second = before, None
        if second is not None:
            break
    canvas.reserved |= canvas.disc(second[1], keep_out)
    distractor_length = max(1, contour_length // 3)
    for _ in range(round(30 / distractor_length)):
        _place_snake(canvas, rng, distractor_length, settings, tries=5)
    markers = np.stack([first[0], first[1] if label == 1 else second[1]])
    for point in markers:
        canvas.ink |= canvas.disc(point, marker_radius)
    coarse = canvas.ink.reshape(image_size, supersample, image_size, supersample).mean((1, 3))
    return (2.0 * coarse - 1.0).astype(np.float32), markers, canvas.ink


def render_image(rng: np.random.Generator, label: int, **settings) -> np.ndarray:
    """One Pathfinder image (image_size, image_size) in [-1, 1] with the given label."""
    return sample_example(rng, label, **settings)[0]


def build_pathfinder(seed: int = 0, num_train: int = 2000, num_validation: int = 250, num_test: int = 250,
                     **render_settings) -> DatasetDict:
    """Build the Pathfinder task; splits are consecutive draws of one seeded generator."""
    rng = np.random.default_rng(seed)
    size = render_settings.get("image_size", 32)
    features = continuous_features(size * size, LABELS)
    out = {}
    for split, count in (("train", num_train), ("validation", num_validation), ("test", num_test)):
        labels = rng.integers(0, 2, count)
        images = np.stack([render_image(rng, int(y), **render_settings).ravel() for y in labels]) if count else \
            np.zeros((0, size * size), np.float32)
        out[split] = make_dataset({"input_values": images, "label": labels.astype(np.int64)}, features,
                                  "numpy port of the LRA Pathfinder generator, raster order, [-1, 1]")
    return DatasetDict(out)
