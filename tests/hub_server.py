"""A local, in-memory Hub for tests: the subset of the Hugging Face Hub HTTP API that huggingface_hub 2.4 and
transformers use to create a repo, commit files (regular and LFS) and download them.

Start it on loopback, point clients at it with ``HF_ENDPOINT=server.url`` (read by huggingface_hub at import
time, so set it before the client process imports huggingface_hub), ``HF_TOKEN=hf_test`` and
``HF_HUB_DISABLE_XET=1`` (with hf_xet installed, huggingface_hub uploads through Xet unless disabled; this
server speaks only the classic LFS protocol and advertises no Xet endpoint).

Routes (as called by huggingface_hub 2.4):
    POST /api/repos/create                          create_repo (409 when it exists)
    GET  /api/whoami-v2                             whoami
    POST /api/validate-yaml                         create_commit / ModelCard.validate on README.md
    POST /api/models/{repo}/preupload/{rev}         _fetch_upload_modes: "regular" or "lfs" per file
    POST /{repo}.git/info/lfs/objects/batch         post_lfs_batch_info: basic transfer, upload + verify
    PUT  /__lfs/{oid}                               lfs._upload_single_part (sha256 checked)
    POST /__lfs/verify                              lfs verify action
    POST /api/models/{repo}/commit/{rev}            _send_commit (ndjson: header, file, lfsFile, deletedFile)
    GET  /api/models/{repo}[/revision/{rev}]        model_info / repo_info (sha, siblings)
    GET  /api/models/{repo}/tree/{rev}              list_repo_tree
    HEAD/GET /{repo}/resolve/{rev}/{path}           hf_hub_download (X-Repo-Commit, ETag, X-Linked-*)

Failure injection: ``server.fail_next("POST", r"/commit/", status=500)`` answers the next matching request
with that status (once by default). ``server.requests`` logs (method, path, status) of every request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

VALID_TOKENS = {"hf_test": "user"}
LFS_SUFFIXES = (".safetensors", ".bin", ".png", ".pt", ".npy", ".h5", ".msgpack")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubState:
    """Repos, commits and content-addressed blobs (files on disk under ``root``)."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[str, dict] = {}
        self.lock = threading.Lock()

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha
        if not path.exists():
            path.write_bytes(data)
        return sha

    def has_blob(self, sha: str) -> bool:
        return (self.blobs / sha).exists()

    def blob(self, sha: str) -> bytes:
        return (self.blobs / sha).read_bytes()

    def create_repo(self, repo_id: str, private: bool) -> bool:
        with self.lock:
            if repo_id in self.repos:
                return False
            self.repos[repo_id] = {"private": private, "branches": {}, "commits": {}}
            self.commit(repo_id, "main", {".gitattributes": self._entry(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", False)},
                        [], "initial commit")
            return True

    def _entry(self, data: bytes, lfs: bool) -> dict:
        sha = self.put_blob(data)
        return {"sha256": sha, "size": len(data), "lfs": lfs, "git_sha": git_blob_sha1(data)}

    def commit(self, repo_id: str, branch: str, added: dict, deleted: list, message: str) -> str:
        repo = self.repos[repo_id]
        parent = repo["branches"].get(branch)
        files = dict(repo["commits"][parent]["files"]) if parent else {}
        for path in deleted:
            files = {p: e for p, e in files.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
        files.update(added)
        oid = hashlib.sha1(json.dumps([parent, message, sorted((p, e["sha256"]) for p, e in files.items()),
                                       time.time_ns()]).encode()).hexdigest()
        repo["commits"][oid] = {"files": files, "parent": parent, "message": message}
        repo["branches"][branch] = oid
        return oid

    def resolve(self, repo_id: str, revision: str) -> str | None:
        repo = self.repos[repo_id]
        if revision in repo["branches"]:
            return repo["branches"][revision]
        return revision if revision in repo["commits"] else None

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """Test helper: path -> content at ``revision``."""
        oid = self.resolve(repo_id, revision)
        return {p: self.blob(e["sha256"]) for p, e in self.repos[repo_id]["commits"][oid]["files"].items()}


def validate_card_yaml(content: str) -> list[str]:
    """Errors the Hub would report for a README's YAML front matter (the structural checks)."""
    from huggingface_hub.repocard_data import model_index_to_eval_results

    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, flags=re.S)
    if not match:
        return []
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        return [f"invalid YAML: {error}"]
    if not isinstance(data, dict):
        return ["metadata must be a YAML mapping"]
    errors = []
    for key in ("tags", "datasets", "base_model"):
        value = data.get(key)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if key == "tags" and not isinstance(value, list):
            errors.append("tags must be a list")
        if not all(isinstance(v, str) for v in items):
            errors.append(f"{key} must be strings")
        if key == "base_model" and not all(isinstance(v, str) and _REPO_ID.match(v) for v in items):
            errors.append(f"base_model must be Hub model ids, got {value!r}")
    if "library_name" in data and not isinstance(data["library_name"], str):
        errors.append("library_name must be a string")
    if "model-index" in data:
        try:
            name, results = model_index_to_eval_results(data["model-index"])
            if not name or not results:
                errors.append("model-index needs a name and results")
        except Exception as error:  # noqa: BLE001
            errors.append(f"invalid model-index: {error}")
    return errors


def _handler(server: "LocalHub"):
    state = server.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        # ---- plumbing ----------------------------------------------------------------------------
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(status)
            headers = dict(headers or {})
            headers.setdefault("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if body and not head:
                self.wfile.write(body)
            server.requests.append((self.command, self.path, status))

        def _json(self, status: int, data, headers: dict | None = None):
            self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _error(self, status: int, code: str | None, message: str, head: bool = False):
            headers = {"X-Error-Message": message, "Content-Type": "application/json"}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

        def _user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return VALID_TOKENS.get(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None

        def _injected(self) -> bool:
            for rule in list(server.failures):
                if rule["method"] == self.command and re.search(rule["pattern"], self.path):
                    rule["times"] -= 1
                    if rule["times"] <= 0:
                        server.failures.remove(rule)
                    if self.command in ("POST", "PUT"):
                        self._body()
                    self._error(rule["status"], None, "injected failure")
                    return True
            return False

        def _dispatch(self):
            if self._injected():
                return
            path = unquote(urlsplit(self.path).path)
            for method, pattern, func in ROUTES:
                if method == self.command:
                    match = re.fullmatch(pattern, path)
                    if match:
                        return func(self, *match.groups())
            if self.command in ("POST", "PUT"):
                self._body()
            server.unknown.append((self.command, self.path))
            self._error(404, None, f"local hub: no route for {self.command} {path}", head=self.command == "HEAD")

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _dispatch

        def _repo(self, repo_id: str, head: bool = False) -> dict | None:
            repo = state.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head=head)
            return repo

        # ---- API ---------------------------------------------------------------------------------
        def create(self):
            payload = json.loads(self._body() or b"{}")
            user = self._user()
            if user is None:
                return self._error(401, None, "Invalid credentials in Authorization header")
            repo_id = f"{payload.get('organization') or user}/{payload['name']}"
            if not _REPO_ID.match(repo_id):
                return self._error(400, None, f"invalid repo name {repo_id}")
            if not state.create_repo(repo_id, payload.get("visibility") == "private"):
                # like the Hub, a 409 still carries the repo url (create_repo(exist_ok=True) reads it)
                message = "You already created this model repo"
                return self._send(409, json.dumps({"error": message, "url": f"{server.url}/{repo_id}"}).encode(),
                                  {"Content-Type": "application/json", "X-Error-Message": message})
            self._json(200, {"url": f"{server.url}/{repo_id}", "name": repo_id})

        def whoami(self):
            user = self._user()
            if user is None:
                return self._error(401, None, "Invalid credentials in Authorization header")
            self._json(200, {"type": "user", "name": user, "auth": {"type": "access_token",
                                                                     "accessToken": {"role": "write"}}})

        def validate_yaml(self):
            payload = json.loads(self._body() or b"{}")
            errors = validate_card_yaml(payload.get("content", ""))
            if errors:
                return self._json(400, {"errors": [{"message": e} for e in errors], "warnings": []})
            self._json(200, {"errors": [], "warnings": []})

        def preupload(self, repo_id, revision):
            payload = json.loads(self._body() or b"{}")
            if self._user() is None:
                return self._error(401, None, "Invalid credentials")
            if self._repo(repo_id) is None:
                return
            files = []
            oid = state.resolve(repo_id, revision)
            current = state.repos[repo_id]["commits"][oid]["files"] if oid else {}
            for item in payload.get("files", []):
                sample = base64.b64decode(item.get("sample", ""))
                binary = b"\0" in sample
                try:
                    sample.decode("utf-8")
                except UnicodeDecodeError:
                    binary = True
                lfs = item["path"].endswith(LFS_SUFFIXES) or binary or item.get("size", 0) > 10_000_000
                existing = current.get(item["path"])
                remote_oid = None if existing is None else (existing["sha256"] if existing["lfs"] else existing["git_sha"])
                files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                              "shouldIgnore": False, "oid": remote_oid})
            self._json(200, {"files": files, "commitOid": oid})

        def lfs_batch(self, repo_id):
            payload = json.loads(self._body() or b"{}")
            if self._user() is None:
                return self._error(401, None, "Invalid credentials")
            if self._repo(repo_id) is None:
                return
            objects = []
            for obj in payload.get("objects", []):
                entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
                if not state.has_blob(obj["oid"]):
                    entry["actions"] = {"upload": {"href": f"{server.url}/__lfs/{obj['oid']}"},
                                        "verify": {"href": f"{server.url}/__lfs/verify"}}
                objects.append(entry)
            self._json(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                       {"Content-Type": "application/vnd.git-lfs+json"})

        def lfs_put(self, oid):
            data = self._body()
            if hashlib.sha256(data).hexdigest() != oid:
                return self._error(400, None, "sha256 mismatch")
            state.put_blob(data)
            self._send(200)

        def lfs_verify(self):
            payload = json.loads(self._body() or b"{}")
            if not state.has_blob(payload.get("oid", "")):
                return self._error(404, None, "object not uploaded")
            self._json(200, {"ok": True})

        def commit(self, repo_id, revision):
            body = self._body()
            if self._user() is None:
                return self._error(401, None, "Invalid credentials")
            if self._repo(repo_id) is None:
                return
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next((l["value"] for l in lines if l["key"] == "header"), {})
            added, deleted = {}, []
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    data = base64.b64decode(value["content"])
                    added[value["path"]] = {**_entry_for(data, False)}
                elif key == "lfsFile":
                    if not state.has_blob(value["oid"]):
                        return self._error(422, None, f"LFS object {value['oid']} for {value['path']} was not uploaded")
                    data = state.blob(value["oid"])
                    added[value["path"]] = {"sha256": value["oid"], "size": len(data), "lfs": True,
                                            "git_sha": git_blob_sha1(data)}
                elif key in ("deletedFile", "deletedFolder"):
                    deleted.append(value["path"])
            readme = added.get("README.md")
            if readme is not None:
                errors = validate_card_yaml(state.blob(readme["sha256"]).decode())
                if errors:
                    return self._json(400, {"error": "; ".join(errors)})
            with state.lock:
                oid = state.commit(repo_id, revision, added, deleted, header.get("summary", ""))
            self._json(200, {"commitUrl": f"{server.url}/{repo_id}/commit/{oid}", "commitOid": oid,
                             "pullRequestUrl": None})

        def info(self, repo_id, revision=None):
            repo = self._repo(repo_id)
            if repo is None:
                return
            oid = state.resolve(repo_id, revision or "main")
            if oid is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            files = repo["commits"][oid]["files"]
            self._json(200, {"id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": oid,
                             "private": repo["private"], "disabled": False, "gated": False, "downloads": 0,
                             "likes": 0, "tags": [], "lastModified": "2026-01-01T00:00:00.000Z",
                             "createdAt": "2026-01-01T00:00:00.000Z",
                             "siblings": [{"rfilename": p} for p in sorted(files)]})

        def tree(self, repo_id, revision, prefix=""):
            repo = self._repo(repo_id)
            if repo is None:
                return
            oid = state.resolve(repo_id, revision)
            if oid is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            items = []
            for path, entry in sorted(repo["commits"][oid]["files"].items()):
                if prefix and not path.startswith(prefix.rstrip("/") + "/"):
                    continue
                item = {"type": "file", "path": path, "size": entry["size"], "oid": entry["git_sha"]}
                if entry["lfs"]:
                    item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": 134}
                items.append(item)
            self._json(200, items)

        def resolve_file(self, repo_id, revision, path):
            head = self.command == "HEAD"
            repo = self._repo(repo_id, head=head)
            if repo is None:
                return
            oid = state.resolve(repo_id, revision)
            if oid is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head=head)
            entry = repo["commits"][oid]["files"].get(path)
            if entry is None:
                return self._error(404, "EntryNotFound", f"{path} does not exist on {revision}", head=head)
            etag = entry["sha256"] if entry["lfs"] else entry["git_sha"]
            headers = {"X-Repo-Commit": oid, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}
            if entry["lfs"]:
                headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(entry["size"])})
            data = state.blob(entry["sha256"])
            self._send(200, data, headers, head=head)

    def _entry_for(data: bytes, lfs: bool) -> dict:
        return {"sha256": state.put_blob(data), "size": len(data), "lfs": lfs, "git_sha": git_blob_sha1(data)}

    repo = r"([^/]+/[^/]+)"
    ROUTES = [
        ("POST", r"/api/repos/create", Handler.create),
        ("GET", r"/api/whoami-v2", Handler.whoami),
        ("POST", r"/api/validate-yaml", Handler.validate_yaml),
        ("POST", rf"/api/models/{repo}/preupload/([^/]+)", Handler.preupload),
        ("POST", rf"/{repo}\.git/info/lfs/objects/batch", Handler.lfs_batch),
        ("POST", r"/__lfs/verify", Handler.lfs_verify),
        ("PUT", r"/__lfs/([0-9a-f]{64})", Handler.lfs_put),
        ("POST", rf"/api/models/{repo}/commit/([^/]+)", Handler.commit),
        ("GET", rf"/api/models/{repo}", Handler.info),
        ("GET", rf"/api/models/{repo}/revision/([^/]+)", Handler.info),
        ("GET", rf"/api/models/{repo}/tree/([^/]+)", Handler.tree),
        ("GET", rf"/api/models/{repo}/tree/([^/]+)/(.+)", Handler.tree),
        ("HEAD", rf"/{repo}/resolve/([^/]+)/(.+)", Handler.resolve_file),
        ("GET", rf"/{repo}/resolve/([^/]+)/(.+)", Handler.resolve_file),
    ]
    return Handler


class LocalHub:
    """``with LocalHub() as hub: ... hub.url ...``: a Hub-compatible server on 127.0.0.1 in a daemon thread."""

    def __init__(self, root: str | Path | None = None):
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="local_hub_")
        self.state = HubState(Path(root if root is not None else self._tmp.name))
        self.requests: list[tuple[str, str, int]] = []
        self.unknown: list[tuple[str, str]] = []
        self.failures: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> LocalHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail_next(self, method: str, pattern: str, status: int = 500, times: int = 1) -> None:
        self.failures.append({"method": method, "pattern": pattern, "status": status, "times": times})

    def client_env(self, **extra) -> dict[str, str]:
        """Environment for a client subprocess using this hub."""
        return {"HF_ENDPOINT": self.url, "HF_TOKEN": "hf_test", "HF_HUB_DISABLE_XET": "1",
                "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                **extra}


if __name__ == "__main__":  # manual use: python tests/hub_server.py
    with LocalHub() as hub:
        print(f"HF_ENDPOINT={hub.url} HF_TOKEN=hf_test HF_HUB_DISABLE_XET=1", flush=True)
        threading.Event().wait()
