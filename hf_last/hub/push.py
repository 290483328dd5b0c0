"""Push hf_last models to the Hub: weights, config, card, pruning plan and remote code in ONE commit.

Layout of a pushed repo::

    config.json            # with auto_map -> the flat modeling files below
    model.safetensors      # (or shards + index, whatever save_pretrained writes)
    README.md              # model card (hf_last/hub/templates)
    pruning_plan.json      # pruned models: the PruningPlan (or config.pruning when no plan is attached)
    configuration_s5.py, modeling_s5.py, modeling_ssm.py, scan.py, ...   # remote code
    accuracy_vs_ratio.png  # optional

Variants (several ratios of one base) go to **separate repos** named ``{repo_id}-pruned-{100·ratio}`` next
to the base at ``{repo_id}``: each variant is a different architecture (its own config.json), so a repo per
variant keeps ``from_pretrained(repo_id)`` working without a revision, shows every variant in the base's
model tree (``base_model``), and gives each its own model-index. Branches would hide variants from
search and from the model tree.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..pruning import LASTPruner
from ..reporting import plot_accuracy_vs_states
from .cards import Evaluation, is_hub_repo_id, render_card
from .remote_code import add_auto_map, bundle_remote_code

PLAN_FILE = "pruning_plan.json"
PLOT_FILE = "accuracy_vs_ratio.png"


class HubPushError(RuntimeError):
    """A push failed; the message says what did and did not reach the Hub and that local files are intact."""

    def __init__(self, message: str, *, repo_id: str | None = None, landed: bool | None = None,
                 local_dir: str | None = None):
        super().__init__(message)
        self.repo_id, self.landed, self.local_dir = repo_id, landed, local_dir


class HubAuthError(HubPushError):
    """No token, or a token the Hub rejects."""


class InvalidRepoIdError(HubPushError, ValueError):
    """``repo_id`` is not ``name`` or ``namespace/name``."""


def variant_repo_id(repo_id: str, ratio: float) -> str:
    """``user/name`` and 0.33 -> ``user/name-pruned-33``."""
    return f"{repo_id}-pruned-{round(float(ratio) * 100):02d}"


def check_repo_id(repo_id) -> str:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str):  # validate_repo_id lets None through; the card would fail after the weights
        raise TypeError(f"repo_id must be a string 'name' or 'namespace/name', "
                        f"got {type(repo_id).__name__} {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise InvalidRepoIdError(f"Invalid Hub repo id {repo_id!r}: {error} Expected 'name' or "
                                 "'namespace/name' (letters, digits, '-', '_', '.').", repo_id=repo_id) from None
    return repo_id


def _plan_json(model, plan) -> str | None:
    plan = plan if plan is not None else getattr(model, "pruning_plan", None)
    if plan is not None:
        return plan.to_json() if hasattr(plan, "to_json") else json.dumps(plan, indent=2)
    pruning = getattr(model.config, "pruning", None)
    if not pruning:
        return None
    # No PruningPlan attached: record the metadata (states per layer, method, ratios) from config.pruning.
    return json.dumps({**pruning, "kept_modes": None,
                       "note": "the model was pushed without its PruningPlan; kept mode indices not recorded"},
                      indent=2)


def save_for_hub(model, folder, repo_id: str, *, plan=None, base_model: str | None = None,
                 base_revision: str | None = None, evaluation: Evaluation | None = None, siblings=(),
                 plot=None, parameters_before_count: int | None = None, license: str | None = None,
                 datasets=None, max_shard_size="50GB") -> list[Path]:
    """Write everything a repo needs into ``folder`` and return its files (the upload list).

    ``folder`` should be empty or hold an earlier export of the same model: every file in it is uploaded.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bundle = bundle_remote_code(model)  # fail before writing anything if the code cannot be bundled
    model.save_pretrained(folder, max_shard_size=max_shard_size)
    add_auto_map(folder / "config.json", bundle.auto_map)
    bundle.write(folder)
    plot_name = None
    if plot is not None:
        plot_name = PLOT_FILE
        if Path(plot).resolve() != (folder / PLOT_FILE).resolve():
            (folder / PLOT_FILE).write_bytes(Path(plot).read_bytes())
    card = render_card(model, repo_id, base_model=base_model, base_revision=base_revision, evaluation=evaluation,
                       siblings=siblings, plot=plot_name, parameters_before_count=parameters_before_count,
                       license=license, datasets=datasets)
    card.save(folder / "README.md")
    plan_text = _plan_json(model, plan)
    if plan_text is not None:
        (folder / PLAN_FILE).write_text(plan_text + "\n", encoding="utf-8")
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _token(token):
    from huggingface_hub import get_token

    if token is False:
        raise HubAuthError("token=False disables authentication, but pushing needs a write token. Run "
                           "`hf auth login` or pass token='hf_...'.")
    token = token if isinstance(token, str) else get_token()
    if not token:
        raise HubAuthError("No Hugging Face token found, so nothing was uploaded. Run `hf auth login` (or set "
                           "HF_TOKEN) or pass token='hf_...' to push_to_hub()/push_model().")
    return token


def _describe(error) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _head(api, repo_id, revision):
    try:
        return api.repo_info(repo_id, revision=revision).sha
    except Exception:
        return None


def _wrap_create_repo(error, repo_id):
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(error, OfflineModeIsEnabled):
        return HubPushError(f"Cannot push to {repo_id}: offline mode is enabled (HF_HUB_OFFLINE=1). Unset it to "
                            "push. Nothing was uploaded.", repo_id=repo_id, landed=False)
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, HfHubHTTPError) and status in (401, 403):
        return HubAuthError(f"The Hub rejected the token for {repo_id} ({status}). Run `hf auth login` with a "
                            "token that has write access to this namespace, or pass token='hf_...'. Nothing was "
                            "uploaded.", repo_id=repo_id, landed=False)
    return HubPushError(f"Could not create or reach the repo {repo_id}: {_describe(error)}. Nothing was uploaded "
                        "(check the network / HF_ENDPOINT).", repo_id=repo_id, landed=False)


def upload_folder_as_commit(folder, repo_id: str, files=None, *, token=None, private=None, revision=None,
                            commit_message: str = "Upload model with hf_last", commit_description=None,
                            create_pr: bool = False):
    """``create_repo(exist_ok=True)`` then ONE ``create_commit`` holding every file of ``folder``."""
    from huggingface_hub import CommitOperationAdd, HfApi

    folder = Path(folder)
    files = [Path(f) for f in (files or sorted(p for p in folder.rglob("*") if p.is_file()))]
    names = [f.relative_to(folder).as_posix() for f in files]
    api = HfApi(token=_token(token))
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        raise _wrap_create_repo(error, repo_id) from error
    head = _head(api, repo_id, revision)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in zip(names, files)]
    try:
        return api.create_commit(repo_id, operations, commit_message=commit_message,
                                 commit_description=commit_description, revision=revision, create_pr=create_pr)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        after = _head(api, repo_id, revision)
        if head is not None and after is not None and after == head:
            state = (f"Nothing landed: the {len(names)} files ({', '.join(names)}) are sent as ONE commit and "
                     f"the Hub did not record it, so {repo_id} is unchanged (file blobs transferred before the "
                     "failure are not part of any commit; a retry reuses them).")
            landed = False
        elif head is not None and after is not None:
            state = (f"The branch head of {repo_id} moved ({head[:8]} -> {after[:8]}): the commit may have "
                     "landed before the connection failed; check the repo before retrying.")
            landed = None
        else:
            state = (f"Could not check {repo_id} after the failure; the files ({', '.join(names)}) go in ONE commit, "
                     "so either all of them landed or none did.")
            landed = None
        raise HubPushError(f"Upload to {repo_id} failed ({_describe(error)}). {state} Local files in {folder} are "
                           "untouched; run the push again to retry.", repo_id=repo_id, landed=landed,
                           local_dir=str(folder)) from error


def push_model(model, repo_id: str, *, token=None, private: bool | None = None, revision: str | None = None,
               commit_message: str | None = None, commit_description: str | None = None, create_pr: bool = False,
               plan=None, base_model: str | None = None, base_revision: str | None = None,
               evaluation: Evaluation | None = None, siblings=(), plot=None,
               parameters_before_count: int | None = None, license: str | None = None, datasets=None,
               local_dir=None, max_shard_size="50GB", tags=None):
    """Push ``model`` (base or pruned) to ``repo_id`` with card, pruning plan and remote code, in one commit.

    ``local_dir`` keeps the exact files that were uploaded (default: a temporary folder). Returns the
    ``CommitInfo`` (a ``str`` holding the commit URL, like transformers' ``push_to_hub``).
    Errors: :class:`InvalidRepoIdError`, :class:`HubAuthError` (before anything is written or sent),
    :class:`HubPushError` (saying whether the commit landed).
    """
    check_repo_id(repo_id)
    token = _token(token)
    if tags:
        raise TypeError("tags= is not supported: hf_last writes the card's tags itself")
    kwargs = dict(plan=plan, base_model=base_model, base_revision=base_revision, evaluation=evaluation,
                  siblings=siblings, plot=plot, parameters_before_count=parameters_before_count, license=license,
                  datasets=datasets, max_shard_size=max_shard_size)
    message = commit_message or ("Upload pruned model with hf_last" if getattr(model.config, "pruning", None)
                                 else "Upload model with hf_last")
    with tempfile.TemporaryDirectory(prefix="hf_last_push_") as tmp:
        folder = Path(local_dir) if local_dir is not None else Path(tmp)
        files = save_for_hub(model, folder, repo_id, **kwargs)
        return upload_folder_as_commit(folder, repo_id, files, token=token, private=private, revision=revision,
                                       commit_message=message, commit_description=commit_description,
                                       create_pr=create_pr)


def _prune(model, ratio, method):
    pruner = LASTPruner(model, method=method)
    plan = pruner.plan(ratio)
    return pruner.apply(plan), plan


def _accuracy_vs_ratio_plot(scores: dict[float, float], path, method: str) -> Path | None:
    """The base's and the variants' accuracy versus pruning ratio as a PNG; None when matplotlib is missing."""
    records = [{"method": method, "requested_ratio": ratio, "accuracy": accuracy, "base_accuracy": scores[0.0]}
               for ratio, accuracy in sorted(scores.items())]
    try:
        return plot_accuracy_vs_states(records, path, x="requested_ratio")
    except ImportError:
        return None


def prepare_variants(model, ratios, repo_id: str, output_dir, *, method: str = "last", evaluate=None,
                     evaluation: Evaluation | None = None, base_model: str | None = None,
                     base_revision: str | None = None, include_base: bool = True, license=None, datasets=None,
                     prune=None) -> dict[str, tuple[Path, list[Path]]]:
    """Prune ``model`` at every ratio and write one folder per repo under ``output_dir``.

    Returns ``{repo_id: (folder, files)}``: the base first (when ``include_base``), then the variants
    ``{repo_id}-pruned-{100·ratio}``. ``evaluate(model) -> float`` (optional) scores the base and every
    variant; with ``evaluation`` (dataset and protocol) the cards get an accuracy table, a model-index and
    an accuracy-vs-ratio plot. ``prune(model, ratio) -> (pruned, plan)`` replaces the LAST pruner.
    """
    check_repo_id(repo_id)
    ratios = [float(r) for r in ratios]
    names = {r: variant_repo_id(repo_id, r) for r in ratios}
    if len(set(names.values())) != len(ratios):
        raise ValueError(f"ratios {ratios} give clashing repo names {sorted(names.values())}; use distinct percentages")
    prune = prune or (lambda m, r: _prune(m, r, method))
    output_dir = Path(output_dir)
    variants = {r: prune(model, r) for r in ratios}
    scores = {}
    if evaluate is not None:
        scores[0.0] = float(evaluate(model))
        scores.update({r: float(evaluate(variants[r][0])) for r in ratios})
    if include_base:
        base_model = repo_id
        base_revision = None
    elif base_model is None:
        candidate = str(getattr(model.config, "_name_or_path", "") or "")
        base_model = candidate if is_hub_repo_id(candidate) else None
        base_revision = base_revision or getattr(model.config, "_commit_hash", None)
    plot = None
    if scores and evaluation is not None and len(scores) > 1:
        output_dir.mkdir(parents=True, exist_ok=True)
        plot = _accuracy_vs_ratio_plot(scores, output_dir / PLOT_FILE, method)
    base_params = model.num_parameters()
    siblings = [{"ratio": r, "repo_id": names[r]} for r in ratios]
    prepared = {}

    def with_scores(after):
        if evaluation is None:
            return None
        return Evaluation(**{**evaluation.__dict__, "accuracy_before": scores.get(0.0, evaluation.accuracy_before),
                             "accuracy_after": after})

    if include_base:
        folder = output_dir / repo_id.split("/")[-1]
        files = save_for_hub(model, folder, repo_id, evaluation=with_scores(scores.get(0.0)), siblings=siblings,
                             plot=plot, license=license, datasets=datasets)
        prepared[repo_id] = (folder, files)
    for r in ratios:
        pruned, plan = variants[r]
        folder = output_dir / names[r].split("/")[-1]
        files = save_for_hub(pruned, folder, names[r], plan=plan, base_model=base_model,
                             base_revision=base_revision, evaluation=with_scores(scores.get(r)),
                             siblings=[s for s in siblings if s["repo_id"] != names[r]], plot=plot,
                             parameters_before_count=base_params, license=license, datasets=datasets)
        prepared[names[r]] = (folder, files)
    return prepared


def push_variants(model, ratios, repo_id: str, *, method: str = "last", token=None, private: bool | None = None,
                  output_dir=None, push_base: bool = True, evaluate=None, evaluation: Evaluation | None = None,
                  license=None, datasets=None, prune=None) -> dict:
    """Prune ``model`` at each ratio and push base + variants: ``{repo_id: CommitInfo}``.

    The base goes to ``repo_id`` (unless ``push_base=False``; the variants then name
    ``model.config._name_or_path`` as their base when it is a Hub id), each variant to
    ``{repo_id}-pruned-{100·ratio}``, one commit per repo; every card links the base and its siblings.
    ``output_dir`` keeps the uploaded folders (default: temporary). Nothing is pushed until every folder is
    written, so a pruning or card error uploads nothing.
    """
    check_repo_id(repo_id)
    token = _token(token)
    with tempfile.TemporaryDirectory(prefix="hf_last_variants_") as tmp:
        folder = Path(output_dir) if output_dir is not None else Path(tmp)
        prepared = prepare_variants(model, ratios, repo_id, folder, method=method, evaluate=evaluate,
                                    evaluation=evaluation, include_base=push_base, license=license,
                                    datasets=datasets, prune=prune)
        commits = {}
        for target, (path, files) in prepared.items():
            message = "Upload base model with hf_last" if target == repo_id else f"Upload {method} pruned variant"
            try:
                commits[target] = upload_folder_as_commit(path, target, files, token=token, private=private,
                                                          commit_message=message)
            except HubPushError as error:
                done = ", ".join(commits) or "none"
                left = ", ".join(t for t in prepared if t not in commits)
                raise type(error)(f"{error} Already pushed: {done}. Not pushed: {left}.", repo_id=target,
                                  landed=error.landed, local_dir=str(path)) from error
        return commits
