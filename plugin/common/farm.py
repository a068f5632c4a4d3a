"""'Submit to farm' for the hosts: the farm bundle is written by the Recast worker's own
``recast farm openjd`` (the host's Python has neither torch nor openjd-model), so there is one
bundle writer for the CLI, Nuke and Blender. No host module is imported here.
"""

from __future__ import annotations

import json
import subprocess

from .worker import WorkerError, worker_command

__all__ = ["FarmBundle", "write_farm_bundle", "write_onprem_job", "onprem_report", "flamenco_manager_url"]


class FarmBundle:
    def __init__(self, folder: str, submit: str, run_here: str):
        self.folder = folder  #: the OpenJD job bundle
        self.submit = submit  #: the command that submits it to Deadline Cloud
        self.run_here = run_here  #: the command that runs it on this workstation (openjd run)


def write_farm_bundle(job_path: str, out: str, command=None, chunk_size: int = 16) -> FarmBundle:
    """Write the OpenJD bundle of ``job_path`` into ``out``; :class:`WorkerError` with one line on failure."""
    argv = worker_command(command) + ["farm", "openjd", "--job", job_path, "--out", out, "--chunk-size",
                                      str(chunk_size), "--json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkerError(f"the farm bundle could not be written: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise WorkerError(lines[-1].removeprefix("recast: error: ") if lines else
                          f"'recast farm openjd' stopped with exit code {done.returncode}")
    try:
        written = json.loads(done.stdout)
        return FarmBundle(written["bundle"], written["deadline_submit"], written["openjd_run"])
    except (ValueError, KeyError, TypeError):
        raise WorkerError(f"'recast farm openjd --json' gave no bundle description: {done.stdout[:200]!r}") from None


def write_onprem_job(job_path: str, farm: str, out: str, command=None, chunk_size: int = 16,
                     options: list[str] | None = None) -> dict:
    """``recast farm deadline|flamenco`` of ``job_path`` into ``out`` by the worker, with ``options`` (its flags,
    e.g. ``--submit``, ``--pool P``, ``--manager URL``); what it wrote (its ``--json``). :class:`WorkerError`
    with the worker's one line on failure."""
    argv = worker_command(command) + ["farm", farm, "--job", job_path, "--out", out, "--chunk-size",
                                      str(chunk_size), *(options or []), "--json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkerError(f"the {farm} job could not be written: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise WorkerError(lines[-1].removeprefix("recast: error: ") if lines else
                          f"'recast farm {farm}' stopped with exit code {done.returncode}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise WorkerError(f"'recast farm {farm} --json' gave no description: {done.stdout[:200]!r}") from None


def onprem_report(farm: str, written: dict) -> str:
    """What a host tells the artist after a Deadline or Flamenco submission."""
    if farm == "deadline":
        ids = written.get("job_ids") or []
        return (f"submitted to Deadline: {len(ids)} jobs ({', '.join(written['jobs'])}), ids {', '.join(ids)}; "
                f"job files in {written['folder']}")
    job = written.get("job") or {}
    if job:
        return f"submitted to Flamenco: job {job['id']}; submission in {written['submission']}"
    return f"Flamenco job written to {written['submission']} (no Manager found to submit it to)"


def flamenco_manager_url(addons) -> str:
    """The Flamenco Manager that Flamenco's own Blender add-on is set to (its preferences' ``manager_url``), from
    Blender's ``context.preferences.addons``; '' when that add-on is not enabled or has no URL. The add-on is
    ``flamenco`` (a legacy add-on), or ``bl_ext.<repository>.flamenco`` where an extension repository holds it."""
    names = ["flamenco", *sorted(k for k in addons.keys() if k.endswith(".flamenco"))]
    for name in names:
        addon = addons.get(name)
        url = str(getattr(getattr(addon, "preferences", None), "manager_url", "") or "").strip()
        if url:
            return url
    return ""
