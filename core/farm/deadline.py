"""``recast farm deadline``: a shot as Thinkbox Deadline 10 jobs for the ``Recast`` plugin.

One Deadline job per step of :func:`recast.core.farm.steps.plan` (Customize, Matte, Depth, Render,
Assemble as the job needs), each a pair of key=value files Deadline reads — ``NN_<step>_job_info.job``
(``Plugin=Recast``, ``Name``, ``BatchName``, ``Frames``, ``ChunkSize``, pool, group, priority,
``OutputDirectory0``/``OutputFilename0`` so Monitor's "View Output" opens the frames) and
``NN_<step>_plugin_info.job`` (``JobFile``, ``Step``, ``ChunkSet``: what ``plugin/deadline/Recast/Recast.py``
reads) — numbered in submission order. ``deadlinecommand -SubmitMultipleJobs -dependent -job J P -job …``
submits them so that each job waits for the one before (Deadline's ``-dependent``), which keeps the steps'
order. Render is the shot's range in tasks of ``ChunkSize`` frames (Deadline hands the plugin each task's
first and last frame: the chunk); every other step is one task. The job file holds every render parameter;
the plugin maps its path (and the plates' paths through ``--input``/``--output``) with Deadline's path
mapping on each worker.

The job files are plain ``key=value`` lines; Deadline has no Python library to write them (its own
submitters write them by hand too).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid

from ..errors import JobError
from .steps import plan

__all__ = ["write_deadline_jobs", "submit_deadline_jobs", "deadlinecommand", "require_deadlinecommand", "PLUGIN"]

PLUGIN = "Recast"  #: the plugin folder's name in <repository>/custom/plugins/
MAX_PRIORITY = 100  #: Deadline's default maximum job priority (Repository Options may lower it)


def _check_name(what: str, value: str | None) -> None:
    if value is not None and (not value.strip() or re.search(r"[\r\n=]", value)):
        raise JobError(f"--{what} {value!r} is not a Deadline {what} name: give one word, without '=' or line breaks")


def check_farm_settings(pool: str | None, group: str | None, priority: int | None) -> None:
    _check_name("pool", pool)
    _check_name("group", group)
    if priority is not None and (isinstance(priority, bool) or not 0 <= priority <= MAX_PRIORITY):
        raise JobError(f"--priority {priority} is not a Deadline priority; expected 0 to {MAX_PRIORITY}")


def deadlinecommand() -> str | None:
    """Deadline's command-line client: on PATH, else in ``$DEADLINE_PATH`` (what Deadline's installer sets)."""
    found = shutil.which("deadlinecommand")
    if found:
        return found
    folder = os.environ.get("DEADLINE_PATH")
    for name in ("deadlinecommand", "deadlinecommand.exe"):
        if folder and os.access(os.path.join(folder, name), os.X_OK):
            return os.path.join(folder, name)
    return None


def require_deadlinecommand() -> str:
    command = deadlinecommand()
    if command is None:
        raise JobError("deadlinecommand is not on PATH (nor in $DEADLINE_PATH): install Deadline's client on this "
                       "machine, or leave out --submit and submit the written files from one that has it")
    return command


def _deadline_pattern(pattern: str) -> str:
    """A Recast output pattern as Deadline writes frame padding: ``#`` per digit (``%04d`` → ``####``)."""
    return re.sub(r"%0?(\d*)d", lambda m: "#" * int(m.group(1) or 1), pattern)


def _lines(info: dict) -> str:
    return "".join(f"{k}={v}\n" for k, v in info.items() if v is not None and v != "")


def deadline_jobs(job, job_file: str, chunk_size: int, pool=None, group=None, priority=None,
                  batch: str | None = None, chunk_set: str | None = None) -> list[tuple[str, dict, dict]]:
    """``[(file stem, job info, plugin info), …]`` for ``job`` (its file at ``job_file``), in submission order."""
    frames = job.frame_range
    stem = os.path.basename(job.output_sequence.pattern).split(".")[0]
    batch = batch or f"Recast {stem}"
    out_dir, out_name = os.path.split(os.path.abspath(job.output_sequence.pattern))
    jobs = []
    for i, step in enumerate(plan(job), 1):
        info = {"Plugin": PLUGIN, "Name": f"{batch} - {step.name}", "BatchName": batch,
                "Frames": str(frames) if step.chunked else str(frames.first),
                "ChunkSize": chunk_size if step.chunked else 1,
                "Pool": pool, "Group": group, "Priority": priority,
                "Comment": f"Recast {step.command} of {job_file}"}
        if step.name in ("Render", "Assemble"):  # Monitor's "View Output" on the frames they write
            info.update(OutputDirectory0=out_dir, OutputFilename0=_deadline_pattern(out_name))
        plugin_info = {"JobFile": job_file, "Step": step.name,
                       "ChunkSet": chunk_set if step.name in ("Render", "Assemble") else None,
                       "KeepServer": "True" if step.name == "Render" else None}
        jobs.append((f"{i:02d}_{step.name.lower()}", info, plugin_info))
    return jobs


def write_deadline_jobs(job, out: str, chunk_size: int = 16, pool=None, group=None, priority=None,
                        submit: bool = False) -> dict:
    """Write the job and plugin info files for ``job`` into ``out`` (and submit them when ``submit``);
    returns what was written. Everything is checked before anything is written."""
    from ..io.atomic import atomic_path
    from .openjd import check_chunk_size

    if not job.input.frames:
        raise JobError("job field 'input.frames' is empty; a farm job needs the shot's frame range")
    check_chunk_size(chunk_size)
    check_farm_settings(pool, group, priority)
    command = require_deadlinecommand() if submit else None
    out = os.path.abspath(out)
    job_file = os.path.join(out, "job.json")
    chunk_set = "deadline-" + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    jobs = deadline_jobs(job, job_file, chunk_size, pool, group, priority, chunk_set=chunk_set)
    os.makedirs(out, exist_ok=True)
    job.absolute().save(job_file)
    files = []
    for stem, info, plugin_info in jobs:
        pair = []
        for kind, data in (("job_info", info), ("plugin_info", plugin_info)):
            path = os.path.join(out, f"{stem}_{kind}.job")
            with atomic_path(path, JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
                fh.write(_lines(data))
            pair.append(path)
        files.append(pair)
    argv = ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    for job_info, plugin_info in files:
        argv += ["-job", job_info, plugin_info]
    result = {"folder": out, "job_file": job_file, "chunk_set": chunk_set, "jobs": [stem for stem, _, _ in jobs],
              "files": files, "submit": shlex.join(argv)}
    if submit:
        result["job_ids"] = submit_deadline_jobs(command, argv[1:], len(files))
    return result


def submit_deadline_jobs(command: str, args: list[str], count: int) -> list[str]:
    """Run ``deadlinecommand`` with ``args``; the job ids it prints (one ``JobID=…`` line per job submitted,
    after its ``Result=Success``), or JobError with Deadline's own line."""
    try:
        done = subprocess.run([command, *args], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JobError(f"deadlinecommand could not submit the jobs: {exc}") from None
    ids = [m.group(1) for m in re.finditer(r"^JobID=(\S+)\s*$", done.stdout, re.MULTILINE)]
    if done.returncode != 0 or len(ids) != count:
        lines = [ln.strip() for ln in (done.stdout + "\n" + done.stderr).splitlines()
                 if ln.strip() and not ln.startswith("Result=")]
        why = lines[-1] if lines else f"exit code {done.returncode}"
        raise JobError(f"Deadline refused the jobs ({len(ids)} of {count} submitted): {why}")
    return ids
