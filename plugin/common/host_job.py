"""Host-side job preparation shared by the Nuke node and the Blender panel: check the artist's values,
build and validate the job, write it, submit it to the farm, and word the progress.

Each host only translates its own objects (knobs, scene properties, inputs, strips) into the
plain values and paths these functions take. Every problem is a :class:`HostError` — a
:class:`recast.core.errors.RecastError`, so hosts and core share one error root — with a
one-line message for the artist. No host module and no torch is imported here.
"""

from __future__ import annotations

import os

from recast.core.errors import RecastError
from recast.core.progress.display import clock

from .params import MODEL_FILE

__all__ = ["HostError", "check_request", "validate", "save_job", "submit_to_farm", "submit_to_onprem", "farm_report",
           "clock", "progress_text"]


class HostError(RecastError):
    """Something a host tells the artist in one line; nothing has been started or written."""


def check_request(prompt: str, has_reference: bool, model: str, model_file: str, reference_hint: str) -> None:
    """What the artist must give before anything is written: content, and a preset file when asked for."""
    if not prompt.strip() and not has_reference:
        raise HostError(f"no prompt: type one, or {reference_hint}")
    if model == MODEL_FILE and not model_file.strip():
        raise HostError(f"model is '{MODEL_FILE}' but no preset file is set")


def validate(data: dict, folder: str):
    """The job for ``data`` (relative paths from ``folder``), or HostError with the job's one-line message.

    Before a host writes its inputs their files do not exist yet, so a reference image still to be
    written is stood in for by the prompt check alone (the job checks the file once it is written)."""
    from recast.core.errors import JobError
    from recast.core.job import Job

    check = data
    if data.get("reference_image") and not os.path.isfile(data["reference_image"]):
        check = {**data, "reference_image": None, "prompt": data.get("prompt") or "(reference image)"}
    try:
        return Job.from_dict(check, folder) if check is not data else Job.from_dict(data, folder)
    except JobError as exc:
        raise HostError(str(exc)) from None


def save_job(job, path: str) -> str:
    """Write ``job`` (paths absolute) to ``path``; HostError with the reason when it cannot be written."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        job.absolute().save(path)
    except (OSError, RecastError) as exc:
        raise HostError(f"cannot write the job file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return path


def submit_to_farm(job_path: str, command=None, chunk_size: int = 16):
    """The OpenJD bundle of ``job_path`` (beside it, in ``farm_openjd/``, ``chunk_size`` frames a render task),
    written by the worker's own ``recast farm openjd``; returns the :class:`~recast.plugin.common.farm.FarmBundle`."""
    from .farm import write_farm_bundle
    from .worker import WorkerError

    try:
        return write_farm_bundle(job_path, os.path.join(os.path.dirname(job_path), "farm_openjd"), command,
                                 chunk_size)
    except WorkerError as exc:
        raise HostError(str(exc)) from None


def submit_to_onprem(job_path: str, farm: str, command=None, chunk_size: int = 16, pool: str = "", group: str = "",
                     priority: int | None = None, manager: str = "") -> str:
    """Submit ``job_path`` to Deadline 10 (``farm='deadline'``: jobs in ``farm_deadline/`` beside it, submitted
    with deadlinecommand) or Flamenco 3 (``'flamenco'``: to ``manager`` when one is known); what to tell the
    artist. HostError with the worker's one line."""
    from .farm import onprem_report, write_onprem_job
    from .worker import WorkerError

    options = ["--submit"] if farm == "deadline" else []
    named = (("--pool", pool), ("--group", group)) if farm == "deadline" else (("--manager", manager),)
    for flag, value in named:
        if str(value or "").strip():
            options += [flag, str(value).strip()]
    if priority is not None:
        options += ["--priority", str(priority)]
    try:
        written = write_onprem_job(job_path, farm, os.path.join(os.path.dirname(job_path), f"farm_{farm}"), command,
                                   chunk_size, options)
    except WorkerError as exc:
        raise HostError(str(exc)) from None
    return onprem_report(farm, written)


def farm_report(bundle) -> str:
    """What a host tells the artist after a submission: where the bundle is, how to submit it, how to run it
    on this workstation."""
    return (f"farm bundle written to {bundle.folder}; submit it with: {bundle.submit}; or run it here with: "
            f"{bundle.run_here}")


def progress_text(process, event: dict | None = None) -> str:
    """What a host shows of a running render: the stage of the last event, frames, time left."""
    unit = getattr(process, "unit", "frames")
    frames = f"{process.frames_done}/{process.total or '?'} {unit}"
    kind = (event or {}).get("event")
    if kind == "frame":
        return f"frame {event.get('frame')} written · {frames}"
    if kind == "progress":
        from recast.core.progress.events import STAGE_WORDS

        stage = event.get("stage")
        words = STAGE_WORDS.get(stage, stage)
        what = (f"denoising step {event.get('step')}/{event.get('steps')}" if stage == "denoise"
                else words if stage == "load" else f"{words}: {event['part']}" if event.get("part")
                else f"{words} {event.get('done')}/{event.get('total')}")
        eta = f", {clock(process.eta)} left" if process.eta is not None else ""
        return f"{what} · {frames}{eta}"
    return f"{int(process.progress * 100)}% · {frames}"
