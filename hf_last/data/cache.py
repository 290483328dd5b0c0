"""Arrow cache of built tasks: ``<cache root>/<task>-<fingerprint>``.

The cache root is ``$HF_LAST_CACHE`` if set, else ``$XDG_CACHE_HOME/hf_last/datasets`` (default
``~/.cache/hf_last/datasets``). The fingerprint hashes the task name, the builder version and every
generator setting, so changing a setting (or bumping a builder's version) builds a new entry and
never reuses a stale one. Entries are written to a temporary folder and renamed into place, so a
crashed build or several processes building at once (``accelerate launch``) never leave a partial
entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from datasets import DatasetDict, load_from_disk

CACHE_ENV = "HF_LAST_CACHE"
_COMPLETE = "hf_last_complete.json"


def cache_root() -> Path:
    """The folder that holds every cached task (not created here)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "hf_last" / "datasets"


def fingerprint(task: str, version: str, settings: dict[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of (task, builder version, settings)."""
    payload = json.dumps({"task": task, "version": version, "settings": settings},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def cache_path(task: str, version: str, settings: dict[str, Any]) -> Path:
    """Where the task built with ``settings`` lives (or will live) in the cache."""
    return cache_root() / f"{task}-{fingerprint(task, version, settings)}"


def is_cached(path: Path) -> bool:
    """True when ``path`` holds a completely written entry."""
    return (Path(path) / _COMPLETE).is_file()


def load_or_build(task: str, version: str, settings: dict[str, Any],
                  build: Callable[[], DatasetDict], use_cache: bool = True) -> DatasetDict:
    """Load the cached ``DatasetDict`` for (task, version, settings), building and saving it on a miss.

    With ``use_cache=False`` the data is built in memory and nothing is read or written.
    The returned splits are memory-mapped from the cache entry.
    """
    if not use_cache:
        return build()
    path = cache_path(task, version, settings)
    if not is_cached(path):
        _write(path, build(), {"task": task, "version": version, "settings": settings})
    return load_from_disk(str(path))


def _write(path: Path, data: DatasetDict, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        data.save_to_disk(str(staging))
        (staging / _COMPLETE).write_text(json.dumps(meta, sort_keys=True, indent=1, default=str))
        try:
            staging.rename(path)
        except OSError:  # another process finished the same entry first: keep theirs
            if not is_cached(path):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
