"""Hub integration: model cards, one-commit pushes of (pruned) models and variants, remote code.

``model.push_to_hub(repo_id)`` on any hf_last model delegates to :func:`push_model`.
"""

from .cards import CITATION, Evaluation, render_card
from .push import (
    HubAuthError,
    HubPushError,
    InvalidRepoIdError,
    prepare_variants,
    push_model,
    push_variants,
    save_for_hub,
    upload_folder_as_commit,
    variant_repo_id,
)
from .remote_code import RemoteCodeBundle, RemoteCodeError, bundle_remote_code

__all__ = [
    "CITATION",
    "Evaluation",
    "HubAuthError",
    "HubPushError",
    "InvalidRepoIdError",
    "RemoteCodeBundle",
    "RemoteCodeError",
    "bundle_remote_code",
    "prepare_variants",
    "push_model",
    "push_variants",
    "render_card",
    "save_for_hub",
    "upload_folder_as_commit",
    "variant_repo_id",
]
