"""Hub integration against a local Hub-compatible server (tests/hub_server.py): push, remote code, cards, errors.

Clients run in subprocesses with HF_ENDPOINT / HF_TOKEN / HF_HUB_DISABLE_XET set before huggingface_hub is
imported (it reads HF_ENDPOINT at import time); nothing touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, ModelCardData

import hf_last  # noqa: F401  (registers the Auto classes)
from hf_last import S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification
from hf_last.hub import (Evaluation, HubAuthError, HubPushError, InvalidRepoIdError, bundle_remote_code, push_model,
                         render_card)
from hf_last.pruning import LASTPruner

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import LocalHub, validate_card_yaml  # noqa: E402

BLOCK_HF_LAST = textwrap.dedent("""
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "hf_last" or name.startswith("hf_last."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked for this test)")
    sys.meta_path.insert(0, _Block())
    try:
        import hf_last
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("hf_last is importable although it should be blocked")
""")

MODELS = textwrap.dedent("""
    import torch
    from hf_last import S4DConfig, S4DForSequenceClassification, S5Config, S5ForSequenceClassification

    def tiny(kind):
        torch.manual_seed(0)
        if kind == "s5":
            config = S5Config(hidden_size=8, num_hidden_layers=3, state_size=8, blocks=2, num_labels=3)
            return S5ForSequenceClassification(config).eval()
        config = S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=8, num_labels=3)
        return S4DForSequenceClassification(config).eval()
""")


def run_client(hub: LocalHub, workdir: Path, script: str, *, block_hf_last: bool = False, env: dict | None = None,
               args=()) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh Python process configured for the local hub (own HF_HOME cache)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "client.py"
    path.write_text((BLOCK_HF_LAST if block_hf_last else "") + textwrap.dedent(script))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    full_env.update(hub.client_env(HF_HOME=str(workdir / "hf_home"), OMP_NUM_THREADS="1"))
    full_env.update(env or {})
    result = subprocess.run([sys.executable, str(path), *args], cwd=workdir, env=full_env, capture_output=True,
                            text=True)
    assert result.returncode == 0, f"client failed:\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr[-6000:]}"
    return result


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def hub():
    with LocalHub() as server:
        yield server


@pytest.fixture(scope="module")
def pushed(hub, tmp_path_factory):
    """Push LASTPruner(model).prune(0.33) of a tiny S5 and S4D exactly as users write it, then reload by repo id."""
    work = tmp_path_factory.mktemp("push")
    script = MODELS + textwrap.dedent("""
    import json, torch
    import hf_last
    from hf_last.pruning import LASTPruner
    from transformers import AutoModelForSequenceClassification

    out = {}
    for kind in ("s5", "s4d"):
        model = tiny(kind)
        repo = f"user/{kind}-tiny-pruned-33"
        pruned = LASTPruner(model).prune(0.33)
        commit = pruned.push_to_hub(repo)
        x = torch.randn(3, 20, 1, generator=torch.Generator().manual_seed(1))
        expected = pruned(input_values=x).logits.detach()
        torch.save({"x": x, "logits": expected}, f"{kind}_expected.pt")
        loaded = AutoModelForSequenceClassification.from_pretrained(repo)  # no trust_remote_code
        out[kind] = {
            "repo": repo, "commit": str(commit), "pruning": pruned.config.pruning,
            "parameters_before": model.num_parameters(), "parameters_after": pruned.num_parameters(),
            "class": f"{type(pruned).__module__}.{type(pruned).__qualname__}",
            "loaded_class": f"{type(loaded).__module__}.{type(loaded).__qualname__}",
            "logits_equal": torch.equal(loaded(input_values=x).logits, expected),
        }
    json.dump(out, open("pushed.json", "w"))
    """)
    run_client(hub, work, script)
    return work, json.loads((work / "pushed.json").read_text())


def test_remote_code_bundle_is_flat_and_self_contained():
    for config in (S5Config(), S4DConfig()):
        bundle = bundle_remote_code(config)
        family = config.model_type.removeprefix("last_")
        assert bundle.auto_map == {
            "AutoConfig": f"configuration_{family}.{type(config).__name__}",
            "AutoModel": f"modeling_{family}.{family.upper()}Model",
            "AutoModelForSequenceClassification": f"modeling_{family}.{family.upper()}ForSequenceClassification",
        }
        assert {f"{v.split('.')[0]}.py" for v in bundle.auto_map.values()} <= set(bundle.files)
        assert len(set(bundle.files)) == len(bundle.modules)  # non-colliding flat names
        # only what loading a model needs: the math and the models (no pruning, hub or training code)
        assert all(m.startswith(("hf_last.ssm.", "hf_last.models.")) for m in bundle.modules), sorted(bundle.modules)
        for name, source in bundle.files.items():
            assert not re.search(r"^\s*from\s+\.\.", source, flags=re.M), name  # no package-relative imports
            for target in re.findall(r"^\s*from\s+\.(\w+)\s+import", source, flags=re.M):
                assert f"{target}.py" in bundle.files, (name, target)
            compile(source, name, "exec")
        # the only hf_last import left is the optional push hook inside a try block
        hooks = [n for n, s in bundle.files.items() if re.search(r"^\s*(from|import) hf_last\b", s, flags=re.M)]
        assert hooks == ["modeling_ssm.py"]


def test_push_uploads_one_commit_with_card_plan_and_remote_code(hub, pushed):
    _, out = pushed
    for kind, info in out.items():
        repo = hub.state.repos[info["repo"]]
        head = repo["branches"]["main"]
        commit = repo["commits"][head]
        assert info["commit"].endswith(head)
        assert repo["commits"][commit["parent"]]["parent"] is None  # initial commit -> our ONE commit
        files = hub.state.files(info["repo"])
        expected = {".gitattributes", "config.json", "model.safetensors", "README.md", "pruning_plan.json",
                    f"configuration_{kind}.py", f"modeling_{kind}.py", "modeling_ssm.py", "configuration_ssm.py"}
        assert expected <= set(files)
        config = json.loads(files["config.json"])
        assert config["auto_map"]["AutoModelForSequenceClassification"] == \
            f"modeling_{kind}.{kind.upper()}ForSequenceClassification"
        assert config["pruning"] == info["pruning"]
        plan = json.loads(files["pruning_plan.json"])
        assert plan["states_per_layer_after"] == info["pruning"]["states_per_layer_after"]
        assert commit["files"]["model.safetensors"]["lfs"] and not commit["files"]["config.json"]["lfs"]
    # weights went through the classic LFS protocol (batch + PUT + verify), not Xet
    methods = [(m, p.split("/")[1] if p.startswith("/__lfs") else p) for m, p, s in hub.requests]
    assert ("PUT", "__lfs") in methods and any(p.endswith("info/lfs/objects/batch") for _, p in methods)
    assert not hub.unknown


def test_load_by_repo_id_with_hf_last_needs_no_trust_remote_code(pushed):
    _, out = pushed
    for info in out.values():
        assert info["loaded_class"] == info["class"]
        assert info["loaded_class"].startswith("hf_last.")
        assert info["logits_equal"]


def test_trust_remote_code_without_hf_last_gives_identical_logits(hub, pushed, tmp_path):
    work, out = pushed
    script = """
    import json, sys, torch
    from transformers import AutoModel, AutoModelForSequenceClassification
    result = {}
    for kind, repo in json.loads(sys.argv[1]).items():
        model = AutoModelForSequenceClassification.from_pretrained(repo, trust_remote_code=True).eval()
        saved = torch.load(sys.argv[2] + f"/{kind}_expected.pt")
        logits = model(input_values=saved["x"]).logits
        base = AutoModel.from_pretrained(repo, trust_remote_code=True)
        result[kind] = {"module": type(model).__module__, "base": type(base).__name__,
                        "max_abs_diff": (logits - saved["logits"]).abs().max().item(),
                        "equal": torch.equal(logits, saved["logits"]),
                        "hf_last_loaded": [m for m in sys.modules if m.startswith("hf_last")]}
    json.dump(result, open("remote.json", "w"))
    """
    repos = json.dumps({kind: info["repo"] for kind, info in out.items()})
    run_client(hub, tmp_path, script, block_hf_last=True, args=[repos, str(work)])
    result = json.loads((tmp_path / "remote.json").read_text())
    for kind, info in result.items():
        assert info["module"].startswith("transformers_modules."), info
        assert info["base"] == f"{kind.upper()}Model"
        assert info["hf_last_loaded"] == []
        assert info["equal"], info["max_abs_diff"]


def _card_numbers(card: ModelCard) -> dict:
    text = card.text
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| [\d.]+% \|$", text, flags=re.M)
    params = re.search(r"^\| Parameters \| ([\d,]+) -> ([\d,]+) \|$", text, flags=re.M)
    return {
        "before": [int(r[1]) for r in rows], "after": [int(r[2]) for r in rows],
        "method": re.search(r"^\| Method \| `(\w+)` \|$", text, flags=re.M).group(1),
        "requested": float(re.search(r"^\| Requested ratio \| ([\d.]+) \|$", text, flags=re.M).group(1)),
        "achieved": float(re.search(r"^\| Achieved ratio \| ([\d.]+) \|$", text, flags=re.M).group(1)),
        "params": tuple(int(v.replace(",", "")) for v in params.groups()),
    }


def test_pushed_card_loads_validates_and_matches_the_pruning_metadata(hub, pushed, tmp_path, monkeypatch):
    _, out = pushed
    for kind, info in out.items():
        readme = tmp_path / f"{kind}_README.md"
        readme.write_bytes(hub.state.files(info["repo"])["README.md"])
        card = ModelCard.load(readme)
        data = card.data.to_dict()
        assert ModelCardData(**data).to_dict() == data  # metadata round trip
        assert validate_card_yaml(str(card)) == []
        assert data["library_name"] == "transformers"
        assert {"pruned", "structured-pruning", "state-space-model", kind, "last"} <= set(data["tags"])
        meta = info["pruning"]
        numbers = _card_numbers(card)
        assert numbers["before"] == meta["states_per_layer_before"]
        assert numbers["after"] == meta["states_per_layer_after"]
        assert numbers["method"] == meta["method"] and numbers["requested"] == meta["requested_ratio"]
        assert numbers["achieved"] == round(meta["achieved_ratio"], 4)
        assert numbers["params"] == (info["parameters_before"], info["parameters_after"])
        assert "trust_remote_code=True" in card.text and "2411.02824" in card.text
        assert f'from_pretrained("{info["repo"]}")' in card.text
    # ModelCard.validate() posts to {ENDPOINT}/api/validate-yaml: point it at the local hub
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    card.validate()


def test_card_with_evaluation_has_model_index_and_base_revision():
    torch.manual_seed(0)
    model = S4DForSequenceClassification(S4DConfig(hidden_size=4, num_hidden_layers=2, state_size=8, num_labels=3))
    pruned = LASTPruner(model).prune(0.5)
    evaluation = Evaluation("Sequential digits", "digits", "test split, 360 sequences, parallel mode",
                            accuracy_before=0.91, accuracy_after=0.875)
    card = render_card(pruned, "user/d-pruned-50", base_model="user/d", base_revision="a" * 40,
                       evaluation=evaluation, siblings=[{"ratio": 0.2, "repo_id": "user/d-pruned-20"}],
                       plot="accuracy_vs_ratio.png")
    reloaded = ModelCard(str(card))
    assert reloaded.data.base_model == "user/d"
    result = reloaded.data.eval_results[0]
    assert (result.metric_type, result.metric_value, result.dataset_type) == ("accuracy", 0.875, "digits")
    assert validate_card_yaml(str(card)) == []
    for needle in ("91.00%", "87.50%", "revision `" + "a" * 40 + "`", "user/d-pruned-20", "accuracy_vs_ratio.png",
                   "test split, 360 sequences"):
        assert needle in card.text, needle
    with pytest.raises(ValueError, match="does not describe this model"):
        pruned.config.pruning = {**pruned.config.pruning, "states_per_layer_after": [2, 2]}
        render_card(pruned, "user/x")


def test_failed_commit_is_reported_nothing_lands_and_a_retry_completes(hub, tmp_path):
    hub.fail_next("PUT", r"^/__lfs/", status=500)  # retried transparently by huggingface_hub
    hub.fail_next("POST", r"/api/models/user/flaky/commit/", status=500)  # not retried: the push fails
    script = MODELS + textwrap.dedent("""
    import hashlib, json, pathlib
    from huggingface_hub import HfApi
    from hf_last.pruning import LASTPruner
    from hf_last.hub import HubPushError, push_model

    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(pathlib.Path(folder).iterdir())}

    model = tiny("s5")
    with torch.no_grad():
        model.classifier.bias.add_(1.0)  # new weights: the LFS blob is not on the hub yet, so it is PUT
    pruned = LASTPruner(model).prune(0.33)
    pruned.save_pretrained("pruned_local")
    before = digest("pruned_local")
    result = {}
    try:
        push_model(pruned, "user/flaky", local_dir="upload")
    except HubPushError as error:
        result["error"] = str(error)
        result["landed"] = error.landed
    result["files_after_failure"] = HfApi().list_repo_files("user/flaky")
    result["local_intact"] = digest("pruned_local") == before
    result["upload_dir"] = digest("upload")
    push_model(pruned, "user/flaky", local_dir="upload")  # retry
    json.dump(result, open("flaky.json", "w"))
    """)
    run_client(hub, tmp_path, script)
    result = json.loads((tmp_path / "flaky.json").read_text())
    assert "Upload to user/flaky failed" in result["error"] and "Nothing landed" in result["error"]
    assert "Local files" in result["error"] and "untouched" in result["error"]
    assert result["landed"] is False
    assert result["files_after_failure"] == [".gitattributes"]
    assert result["local_intact"]
    stored = hub.state.files("user/flaky")
    uploaded = {name: digest for name, digest in result["upload_dir"].items()}
    assert {name: hashlib.sha256(stored[name]).hexdigest() for name in uploaded} == uploaded
    assert set(stored) == set(uploaded) | {".gitattributes"}
    assert not hub.failures  # both injected failures happened


def test_cli_pushes_base_and_variants_to_sibling_repos(hub, tmp_path):
    torch.manual_seed(0)
    base = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=3, state_size=8, blocks=2,
                                                num_labels=3))
    base.save_pretrained(tmp_path / "base")
    run_client(hub, tmp_path / "cli", """
    import sys
    from hf_last.cli import main
    sys.exit(main(sys.argv[1:]))
    """, args=["prune", str(tmp_path / "base"), "--ratios", "0.2,0.33,0.5", "--push-to-hub", "user/fam",
               "--output-dir", str(tmp_path / "out")])
    variants = {0.2: "user/fam-pruned-20", 0.33: "user/fam-pruned-33", 0.5: "user/fam-pruned-50"}
    base_card = ModelCard(hub.state.files("user/fam")["README.md"].decode())
    assert "pruned" not in base_card.data.tags
    for repo_id in variants.values():
        assert repo_id in base_card.text
    base_sha = hub.state.repos["user/fam"]["branches"]["main"]
    for ratio, repo_id in variants.items():
        files = hub.state.files(repo_id)
        card = ModelCard(files["README.md"].decode())
        assert card.data.base_model == "user/fam"
        others = [r for r in variants.values() if r != repo_id]
        assert all(other in card.text for other in others)
        plan = json.loads(files["pruning_plan.json"])
        assert plan["requested_ratio"] == ratio and plan["kept_modes"]  # the full PruningPlan
        config = json.loads(files["config.json"])
        assert config["pruning"]["requested_ratio"] == ratio
        assert (tmp_path / "out" / repo_id.split("/")[1] / "model.safetensors").exists()
    assert base_sha  # the base repo exists and was pushed first


def test_errors_are_clear_before_anything_is_sent(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = S5ForSequenceClassification(S5Config(hidden_size=8, num_hidden_layers=1, state_size=4, num_labels=2))
    import huggingface_hub.constants as constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(HubAuthError, match="hf auth login"):
        model.push_to_hub("user/model")
    with pytest.raises(InvalidRepoIdError, match="Invalid Hub repo id"):
        push_model(model, "user/bad/name", token="hf_test")
    with pytest.raises(ValueError):
        push_model(model, "spaces not allowed", token="hf_test")
    # an unreachable Hub: nothing uploaded, and the message says so
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(HubPushError, match="Nothing was uploaded") as info:
        push_model(model, "user/model", token="hf_test", local_dir=tmp_path / "kept")
    assert info.value.landed is False
    assert (tmp_path / "kept" / "model.safetensors").exists()


def test_pushed_card_front_matter_names_base_license_datasets_task_and_results(hub, tmp_path, monkeypatch):
    """What the Hub lists a pruned model by: base_model (+ the pruned tag), license, datasets, pipeline_tag and a
    model-index with the evaluated accuracy; the digits task is image classification (of pixel sequences)."""
    script = MODELS + textwrap.dedent("""
    import hf_last
    from hf_last.hub import Evaluation, push_model
    from hf_last.pruning import LASTPruner

    pruned = LASTPruner(tiny("s5")).prune(0.5)
    evaluation = Evaluation(dataset_name="digits", dataset_type="digits", dataset_split="test",
                            protocol="fixed ratio 0.5; accuracy on the digits test split",
                            accuracy_before=0.95, accuracy_after=0.9)
    push_model(pruned, "user/card-digits-pruned-50", base_model="user/card-digits", evaluation=evaluation)
    """)
    run_client(hub, tmp_path, script)
    readme = tmp_path / "README.md"
    readme.write_bytes(hub.state.files("user/card-digits-pruned-50")["README.md"])
    card = ModelCard.load(readme)
    data = card.data.to_dict()
    assert validate_card_yaml(str(card)) == []
    assert data["base_model"] == "user/card-digits" and "pruned" in data["tags"]
    assert "base_model_relation" not in data  # adapter/merge/quantized/finetune: none is a pruned model
    assert data["license"] == "apache-2.0"
    assert data["datasets"] == ["hf_last/digits"]
    assert data["pipeline_tag"] == "image-classification"
    result = card.data.eval_results[0]
    assert (result.task_type, result.metric_type, result.metric_value) == ("image-classification", "accuracy", 0.9)
    assert "text-classification" not in str(card)
    text = " ".join(card.text.split())
    assert "not a Hub dataset" in text and "image processor" in text
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    card.validate()


@pytest.mark.parametrize("task, pipeline_tag, datasets", [
    ("sfashion", "image-classification", ["zalando-datasets/fashion_mnist"]),
    ("speech", "audio-classification", ["hf_last/speech"]),
    ("listops", "text-classification", ["hf_last/listops"]),
])
def test_card_task_metadata_follows_the_task(task, pipeline_tag, datasets):
    torch.manual_seed(0)
    model = S5ForSequenceClassification(S5Config(hidden_size=4, num_hidden_layers=1, state_size=4, num_labels=3))
    data = ModelCard(str(render_card(model, "user/m", task=task))).data.to_dict()
    assert (data["pipeline_tag"], data["datasets"], data["license"]) == (pipeline_tag, datasets, "apache-2.0")
    assert "model-index" not in data  # nothing evaluated, nothing claimed


def test_pruned_card_names_a_local_base_without_linking_it(tmp_path):
    torch.manual_seed(0)
    model = S5ForSequenceClassification(S5Config(hidden_size=4, num_hidden_layers=1, state_size=8, num_labels=3))
    model.save_pretrained(tmp_path / "my-base")
    base = S5ForSequenceClassification.from_pretrained(tmp_path / "my-base")
    card = render_card(LASTPruner(base).prune(0.5), "user/m-pruned-50", license="mit")
    assert "base_model" not in card.data.to_dict() and card.data.license == "mit"
    assert "| Base model | `my-base` (a local checkpoint, not on the Hub) |" in card.text
