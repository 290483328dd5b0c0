"""Clear errors for broken checkpoints: a folder without config.json, a truncated or empty safetensors file.

transformers reports these as "Unrecognized model … Should have a `model_type` key", a size-mismatch report
against a default config, or safetensors' "Error while deserializing header"; none names the file or the fix.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "config.json"


def check_checkpoint_folder(path) -> None:
    """A local checkpoint folder must hold config.json (Hub ids and files are left to transformers)."""
    folder = Path(str(path))
    if folder.is_dir() and not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"{folder / CONFIG_FILE} is missing, so {folder} is not a complete checkpoint: the config says how "
            "every layer is shaped. Save the model with model.save_pretrained(folder), which writes config.json next "
            "to the weights, or copy config.json back from where the checkpoint came from.")


def unreadable_safetensors(folder: Path) -> dict[Path, str]:
    """The safetensors files in ``folder`` that cannot be opened, with safetensors' reason."""
    from safetensors import SafetensorError, safe_open

    broken = {}
    for file in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(file), "pt"):
                pass
        except (SafetensorError, OSError) as error:
            broken[file] = str(error)
    return broken


def unreadable_weights_error(path, error: Exception) -> OSError:
    """The error to raise when safetensors cannot read the weights of the checkpoint at ``path``."""
    folder = Path(str(path))
    if not folder.is_dir():
        return OSError(f"The weights of {path} cannot be read ({error}): a downloaded file is truncated or empty. "
                       f"Download them again with from_pretrained({str(path)!r}, force_download=True).")
    broken = unreadable_safetensors(folder) or {folder: str(error)}
    files = "; ".join(f"{file} ({reason})" for file, reason in broken.items())
    return OSError(f"Cannot read the weights {files}: the file is truncated or empty (an interrupted save, copy or "
                   "download). Save the model again with save_pretrained, or copy the file again from its source.")
