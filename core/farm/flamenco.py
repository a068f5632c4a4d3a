"""``recast farm flamenco``: a shot as a Flamenco 3 job of the ``recast`` job type.

The job type is the JavaScript file shipped as ``recast/plugin/flamenco/recast.js``: its ``JOB_TYPE`` (the
settings: job file, frames, chunk size, preset, handles, and the chunk set and steps the submitter fills) and
``compileJob(job)``, which the Manager runs to author the tasks — Customize/Matte/Depth, a render task per
chunk (``frameChunker``), Assemble — each an ``exec`` command of ``{recast}``, a Manager variable, so each
platform's workers run their own executable. The steps are :func:`recast.core.farm.steps.plan`'s.

``job.json`` is the submission body Flamenco's API takes (``SubmittedJob`` in its OpenAPI spec: ``name``,
``type``, ``priority``, ``submitter_platform``, ``settings``, ``metadata``); with a Manager URL it is
POSTed to ``<manager>/api/v3/jobs``. The standard library's urllib is enough for that one request
(Flamenco publishes no Python client on PyPI).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
import uuid

from ..errors import JobError
from .steps import plan

__all__ = ["write_flamenco_job", "job_type_source", "install_job_type", "submit_flamenco_job", "JOB_TYPE_NAME"]

JOB_TYPE_NAME = "recast"  #: the job type's name: its file's stem in the Manager's scripts folder
PRIORITY = 50  #: Flamenco's default job priority


def job_type_source() -> str:
    """The shipped job type file (recast.js), found without importing the host package."""
    import importlib.util

    spec = importlib.util.find_spec("recast.plugin")
    path = os.path.join(list(spec.submodule_search_locations)[0], "flamenco", JOB_TYPE_NAME + ".js")
    if not os.path.isfile(path):
        raise JobError(f"the Flamenco job type {path!r} is missing from this installation; reinstall recast")
    return path


def _platform() -> str:
    """This machine as Flamenco names platforms (Go's GOOS), for its two-way variables."""
    return {"win32": "windows", "cygwin": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def check_manager(url: str | None) -> str | None:
    if url is None:
        return None
    from urllib.parse import urlparse

    parts = urlparse(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise JobError(f"--manager {url!r} is not a Flamenco Manager's address; give its URL, e.g. "
                       "http://flamenco-manager:8080")
    return url.strip().rstrip("/")


def check_scripts_folder(folder: str | None) -> str | None:
    """The Manager's scripts folder to install the job type into: an existing, writable folder (JobError)."""
    if folder is None:
        return None
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise JobError(f"--install-job-type {folder!r} is not a folder; give the Flamenco Manager's scripts folder "
                       "(create 'scripts' beside the Manager's executable)")
    probe = os.path.join(folder, f".recast-probe-{uuid.uuid4().hex[:8]}")
    try:  # os.access says yes to root on a read-only mount: write and remove a file instead
        with open(probe, "w", encoding="utf-8"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise JobError(f"--install-job-type {folder!r} is not writable ({exc.strerror}); install as the "
                       "Manager's user or copy recast.js there by hand") from None
    return folder


def install_job_type(folder: str) -> str:
    """Copy recast.js into the Manager's scripts folder (atomically); returns its path there."""
    import shutil

    from ..io.atomic import atomic_path

    folder = check_scripts_folder(folder)
    dest = os.path.join(folder, JOB_TYPE_NAME + ".js")
    with atomic_path(dest, JobError) as tmp:
        shutil.copyfile(job_type_source(), tmp)
    return dest


def submission(job, job_file: str, chunk_size: int, priority: int = PRIORITY) -> dict:
    """The body of ``POST /api/v3/jobs`` for ``job`` (its file at ``job_file``)."""
    steps = {s.name for s in plan(job)}
    stem = os.path.basename(job.output_sequence.pattern).split(".")[0]
    chunk_set = "flamenco-" + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "recast"
    return {"name": f"Recast {stem}", "type": JOB_TYPE_NAME, "priority": priority,
            "submitter_platform": _platform(),
            "settings": {"job_file": job_file, "frames": str(job.frame_range), "chunk_size": chunk_size,
                         "preset": "", "handles": -1, "chunk_set": chunk_set,
                         "customize": "Customize" in steps, "matte": "Matte" in steps},
            "metadata": {"user.name": user, "recast.job": job_file, "recast.output": job.output_sequence.pattern}}


def write_flamenco_job(job, out: str, chunk_size: int = 16, manager: str | None = None,
                       scripts_folder: str | None = None, priority: int = PRIORITY) -> dict:
    """Write ``recast.js`` and ``job.json`` (and the Recast job) into ``out``; install the job type and submit
    when asked. Everything is checked before anything is written."""
    import shutil

    from ..io.atomic import atomic_path
    from .openjd import check_chunk_size

    if not job.input.frames:
        raise JobError("job field 'input.frames' is empty; a farm job needs the shot's frame range")
    check_chunk_size(chunk_size)
    if isinstance(priority, bool) or not 0 <= priority <= 100:
        raise JobError(f"--priority {priority} is not a Flamenco priority; expected 0 to 100")
    manager = check_manager(manager)
    check_scripts_folder(scripts_folder)
    source = job_type_source()
    out = os.path.abspath(out)
    job_file = os.path.join(out, "recast_job.json")  # job.json is the submission body
    body = submission(job.absolute(), job_file, chunk_size, priority)
    os.makedirs(out, exist_ok=True)
    job.absolute().save(job_file)
    with atomic_path(os.path.join(out, JOB_TYPE_NAME + ".js"), JobError) as tmp:
        shutil.copyfile(source, tmp)
    with atomic_path(os.path.join(out, "job.json"), JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    result = {"folder": out, "job_file": job_file, "job_type": os.path.join(out, JOB_TYPE_NAME + ".js"),
              "submission": os.path.join(out, "job.json"), "chunk_set": body["settings"]["chunk_set"]}
    if scripts_folder is not None:
        result["installed"] = install_job_type(scripts_folder)
    if manager is not None:
        result["job"] = submit_flamenco_job(manager, body)
    return result


def submit_flamenco_job(manager: str, body: dict, timeout: float = 30.0) -> dict:
    """POST ``body`` to the Manager; the job it answers (its ``id`` and ``status``), or JobError with the
    Manager's own message."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(manager + "/api/v3/jobs", data=json.dumps(body).encode("utf-8"),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read(1 << 20).decode("utf-8") or "{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read(1 << 16).decode("utf-8", "replace")).get("message")
        except (ValueError, AttributeError):
            message = None
        message = " ".join(str(message or exc.reason).split())
        raise JobError(f"the Flamenco Manager at {manager} refused the job (HTTP {exc.code}): {message}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise JobError(f"cannot reach the Flamenco Manager at {manager}: {why}") from None
    if not isinstance(answer, dict) or not answer.get("id"):
        raise JobError(f"the Flamenco Manager at {manager} answered without a job id: {str(answer)[:120]}")
    return {"id": answer["id"], "status": answer.get("status")}
