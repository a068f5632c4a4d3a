"""A Hugging Face hub on 127.0.0.1, for fetching model parts without a network.

It speaks the few endpoints ``huggingface_hub.snapshot_download`` uses (repository info, its file tree,
and ``resolve`` for each file, HEAD and GET), serving local folders as repositories. The client under
test is the real one, pointed here by ``HF_ENDPOINT`` exactly as a studio points it at its own mirror.
Only what the tests need: one revision per repository, no authentication, no LFS pointers.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import threading

__all__ = ["FakeHub", "hub_preset"]

COMMIT = "0" * 39 + "1"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _files(self, root):
        return sorted(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                      for d, _, names in os.walk(root) for f in names)

    def _send(self, code, data: bytes, headers: dict, body: bool):
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _json(self, obj, body):
        self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"}, body)

    def _route(self, body: bool):
        hub, path = self.server.hub, self.path.split("?")[0]
        hub.requests.append(path)
        m = re.match(r"^/api/models/(.+?)/(revision|tree)/([^/]+)$", path)
        if m and m.group(1) in hub.repos:
            root = hub.repos[m.group(1)]
            if m.group(2) == "revision":
                return self._json({"id": m.group(1), "sha": COMMIT,
                                   "siblings": [{"rfilename": f} for f in self._files(root)]}, body)
            return self._json([{"type": "file", "path": f, "size": os.path.getsize(os.path.join(root, f)),
                                "oid": hashlib.sha1(f.encode()).hexdigest()} for f in self._files(root)], body)
        m = re.match(r"^/(.+?)/resolve/([^/]+)/(.+)$", path)
        if m and m.group(1) in hub.repos and os.path.isfile(os.path.join(hub.repos[m.group(1)], m.group(3))):
            with open(os.path.join(hub.repos[m.group(1)], m.group(3)), "rb") as fh:
                data = fh.read()
            if hub.delay:
                hub.delay()
            return self._send(200, data, {"X-Repo-Commit": COMMIT,
                                          "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}, body)
        self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}, body)

    def do_GET(self):
        self._route(True)

    def do_HEAD(self):
        self._route(False)


class FakeHub:
    """``FakeHub({"org/name": folder, ...})``; ``endpoint`` is its URL while started (a context manager)."""

    def __init__(self, repos: dict, delay=None):
        self.repos = dict(repos)
        self.delay = delay  #: called before each file is served (a slow network)
        self.requests: list[str] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def hub_preset(folder: str, tiny_preset_path: str) -> tuple[str, dict]:
    """A preset file in ``folder`` naming hub repositories ``recast-test/<part>`` for each tiny part, and the
    repositories (id → the tiny part's folder) for :class:`FakeHub`."""
    tiny = os.path.dirname(tiny_preset_path)
    parts = ["base", "controlnet", "motion_adapter", "ip_adapter", "image_encoder", "depth", "clip"]
    repos = {f"recast-test/{p}": os.path.join(tiny, p) for p in parts}
    lines = ['name = "hubtiny"', 'description = "the tiny preset served by a hub"']
    for p in parts:
        lines += [f"[parts.{p}]", f'source = "recast-test/{p}"']
        if p == "ip_adapter":
            lines.append('weight_name = "ip-adapter_tiny.safetensors"')
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "hubtiny.toml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path, repos
