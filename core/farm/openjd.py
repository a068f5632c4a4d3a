"""``recast farm openjd``: a job bundle in Open Job Description (what AWS Deadline Cloud runs).

The bundle folder holds ``template.json`` (the job template), ``parameter_values.json``
(Deadline Cloud's ``parameterValues`` list) and ``job.json`` (the Recast job, every path
absolute). Steps: **Customize** (only when the job has a ``customize`` section: ``recast customize --job``
trains the LoRA the render then fuses; its images travel as the ``TrainingImages`` PATH parameter),
**Matte** (only when the job has a ``matte`` section: ``recast matte --job`` makes the matte from its
clicks, into the output folder, where the render reads it), **Depth** (the shot's depth, cached beside the output), **Render** (chunks
of ``ChunkSize`` frames through the ``TASK_CHUNKING`` extension, contiguous, with handles
from the job) and **Assemble** (the seams). Every parameter of the render travels in the job
file: the command lines hold only paths, frame ranges and names, as separate arguments (no
shell), so a prompt with quotes, ``$`` or newlines reaches the worker unchanged.

The Render step has a step environment that starts a Recast server when a worker host enters
the step and stops it when it leaves (``recast serve``), so the models load once per host, not
once per chunk. The template is built as a plain document and checked with ``openjd-model``
(the library ``openjd check`` uses) before it is written.

Paths travel as PATH job parameters with their data flow — the plate's folder, the matte's
folder and the reference image IN, the output folder OUT (it also holds the depth cache and the
chunk folders the later steps read) — and every command passes them over the job file's own
(``--input``, ``--output``, ``--mask-pattern``, ``--reference-image``), so Deadline Cloud's job
attachments and path mapping (which apply to PATH parameters only) work on service-managed
fleets and across operating systems. ``JobFile`` is left out of the parameter values: its
default, ``job.json``, resolves inside the bundle. ``RecastWorker`` defaults to ``recast`` on the
worker hosts' PATH (or ``$RECAST_FARM_WORKER`` when the bundle is written), never the
submitting workstation's own environment. Each action is cancelled NOTIFY_THEN_TERMINATE: the
worker gets SIGTERM, finishes the frame it is writing, and stops, within the grace period.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
import uuid

from ..errors import JobError

__all__ = ["write_openjd_bundle", "check_chunk_size", "farm_worker", "GRACE_SECONDS"]

MAX_CHUNK = 2**31 - 1  #: OpenJD's INT range: a chunk larger than the shot is simply the whole shot
GRACE_SECONDS = 120  #: after a cancel, how long a worker has to finish the frame it is writing
_SERVER = "{{Session.WorkingDirectory}}/recast-server.json"


def check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK:
        raise JobError(f"chunk size {chunk_size} is not allowed; expected a whole number of frames, at least 1")


def _action(args: list[str]) -> dict:
    return {"command": "{{Param.RecastWorker}}", "args": args,
            "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": GRACE_SECONDS}}


#: PATH job parameter → (object type, data flow, job flag, job field it replaces the folder of)
_PATHS = {"PlateFolder": ("DIRECTORY", "IN", "--input", "input.pattern"),
          "MatteFolder": ("DIRECTORY", "IN", "--mask-pattern", "input.mask_pattern"),
          "ReferenceImage": ("FILE", "IN", "--reference-image", "reference_image"),
          "OutputFolder": ("DIRECTORY", "OUT", "--output", "output.pattern")}


def _training_images(job) -> tuple[str, str] | None:
    """The Customize step's TrainingImages parameter: (folder, the name the job adds to it), when it trains."""
    if job.customize is None:
        return None
    path = job.path(job.customize.images)
    return (path, "") if os.path.isdir(path) else (os.path.dirname(path), os.path.basename(path))


def _job_paths(job) -> dict[str, tuple[str, str]]:
    """PATH parameter → (its value: an absolute folder or file, the name the job adds to a folder)."""
    out = {}
    for param, (kind, _, _, field) in _PATHS.items():
        section, _, name = field.rpartition(".")
        value = getattr(getattr(job, section) if section else job, name)
        if not value:
            continue
        path = job.path(value)
        out[param] = (path, "") if kind == "FILE" else (os.path.dirname(path), os.path.basename(path))
    return out


def _braced(name: str) -> bool:
    """A name OpenJD would read as (part of) a ``{{ }}`` expression: it has no escape for braces."""
    return "{" in name or "}" in name


def _in_template(param: str, name: str) -> str:
    """The name a job adds to a PATH parameter, as the template writes it: itself, or — when it holds
    braces — a STRING parameter of its own (``PlateFolderName``), whose value OpenJD never interprets."""
    return "{{Param." + param + "Name}}" if _braced(name) else name


def _name_params(paths: dict) -> dict[str, str]:
    """The STRING parameters carrying braced names: parameter → the name."""
    return {param + "Name": name for param, (_, name) in paths.items() if name and _braced(name)}


def _overrides(paths: dict) -> list[str]:
    args = []
    for param, (_, name) in paths.items():
        args += [_PATHS[param][2], "{{Param." + param + "}}" + (f"/{_in_template(param, name)}" if name else "")]
    return args


def _render_after(customize: bool, matte: bool) -> tuple[str, ...]:
    """The steps Render waits for: the host-neutral plan every farm writer shares (:mod:`.steps`)."""
    from .steps import plan_for

    return next(s.after for s in plan_for(customize, matte) if s.name == "Render")


def _gpu(gpu: bool | int) -> dict:
    """A host with ``gpu`` GPUs (True: one; a job with several ``devices`` asks for as many)."""
    return {"hostRequirements": {"amounts": [{"name": "amount.worker.gpu", "min": int(gpu)}]}} if gpu else {}


def template(name: str, gpu: bool, paths: dict | None = None, training: tuple[str, str] | None = None,
             with_matte: bool = False) -> dict:
    job = "{{Param.JobFile}}"
    paths = paths or {}
    over = _overrides(paths)
    customize = []  # the Customize step and its images' parameter, when the job trains a LoRA first
    if training is not None:
        images = "{{Param.TrainingImages}}" + (f"/{_in_template('TrainingImages', training[1])}" if training[1] else "")
        output = [a for flag, a in zip(over, over[1:]) if flag == "--output"]
        customize = [{"name": "Customize",
                      "script": {"actions": {"onRun": _action(["customize", "--job", job, "--images", images,
                                                               *(["--output", output[0]] if output else [])])}},
                      **_gpu(gpu)}]
    matte = []  # the Matte step, when the job makes its matte from clicks
    if with_matte:
        plate = [a for flag, a in zip(over, over[1:]) if flag == "--input"]
        output = [a for flag, a in zip(over, over[1:]) if flag == "--output"]
        matte = [{"name": "Matte",
                  "script": {"actions": {"onRun": _action(["matte", "--job", job,
                                                           *(["--input", plate[0]] if plate else []),
                                                           *(["--job-output", output[0]] if output else [])])}},
                  **_gpu(gpu)}]
    host = _gpu(gpu)
    path_params = [{"name": p, "type": "PATH", "objectType": _PATHS[p][0], "dataFlow": _PATHS[p][1],
                    "description": f"{_PATHS[p][3]}: {'read' if _PATHS[p][1] == 'IN' else 'written'} by the render"}
                   for p in paths]
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "extensions": ["TASK_CHUNKING"],
        "name": name,
        "description": "Recast: the shot's structure kept, its content edited (depth, chunked render, seams)",
        "parameterDefinitions": [
            {"name": "JobFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN", "default": "job.json",
             "description": "the Recast job file (every render parameter is in it)"},
            {"name": "Frames", "type": "STRING", "description": "the shot's frame range, e.g. 1001-1048"},
            {"name": "ChunkSize", "type": "INT", "default": 16, "minValue": 1,
             "description": "frames per render task (handles come on top)"},
            {"name": "ChunkSet", "type": "STRING", "minLength": 1, "maxLength": 64,
             "description": "names this submission's chunks, so they never mix with another's"},
            {"name": "RecastWorker", "type": "STRING", "default": "recast",
             "description": "the recast executable on the worker hosts (default: recast on their PATH)"},
            *path_params,
            *([{"name": "TrainingImages", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN",
                "description": "customize.images: read by the Customize step"}] if training else []),
            *[{"name": param, "type": "STRING", "default": value,
               "description": "a file name with braces, kept out of the template's {{ }} expressions"}
              for param, value in _name_params({**paths, **({"TrainingImages": training} if training else {})}).items()],
        ],
        "steps": [
            *customize,
            *matte,
            {"name": "Depth",
             "script": {"actions": {"onRun": _action(["depth", "--job", job, *over])}},
             **host},
            {"name": "Render",
             "dependencies": [{"dependsOn": name} for name in _render_after(training is not None, with_matte)],
             "stepEnvironments": [{
                 "name": "RecastServer",
                 "description": "keeps the models loaded on this host for every chunk it renders",
                 "script": {"actions": {
                     "onEnter": _action(["serve", "--connection-file", _SERVER]),
                     "onExit": _action(["serve", "--stop", "--connection-file", _SERVER])}}}],
             "parameterSpace": {"taskParameterDefinitions": [{
                 "name": "Frame", "type": "CHUNK[INT]", "range": "{{Param.Frames}}",
                 "chunks": {"defaultTaskCount": "{{Param.ChunkSize}}", "rangeConstraint": "CONTIGUOUS"}}]},
             "script": {"actions": {"onRun": _action(
                 ["render", "--job", job, "--chunk", "{{Task.Param.Frame}}", "--chunk-set", "{{Param.ChunkSet}}",
                  "--server", _SERVER, *over])}},
             **host},
            {"name": "Assemble",
             "dependencies": [{"dependsOn": "Render"}],
             "script": {"actions": {"onRun": _action(["assemble", "--job", job, "--chunk-set", "{{Param.ChunkSet}}",
                                                      *over])}}},
        ],
    }


def check_template(document: dict) -> None:
    """Validate with openjd-model, as ``openjd check`` does; JobError with its first complaint."""
    try:
        from openjd.model import DecodeValidationError, decode_job_template
    except ImportError:
        raise JobError("openjd-model is not installed; pip install 'recast[farm]'") from None

    try:
        decode_job_template(template=document, supported_extensions=["TASK_CHUNKING"])
    except DecodeValidationError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()]  # pydantic: a count, then field/why
        why = "; ".join(f"{a} {b}" for a, b in zip(lines[::2], lines[1::2])) or str(exc).splitlines()[0]
        raise JobError(f"the OpenJD template is not valid: {why} (the job name comes from the output file "
                       "name; shorten it or remove line breaks)") from None


def farm_worker() -> str:
    """The recast executable on the farm hosts: ``$RECAST_FARM_WORKER`` (a studio's setting), else ``recast``
    on their PATH — never this workstation's own environment, which farm hosts do not have."""
    return os.environ.get("RECAST_FARM_WORKER") or "recast"


def default_worker() -> str:
    """This installation's ``recast`` executable (beside this Python), else ``recast`` on PATH (for running
    a bundle on this workstation)."""
    here = os.path.join(os.path.dirname(sys.executable), "recast")
    return here if os.access(here, os.X_OK) else (shutil.which("recast") or "recast")


def openjd_command() -> list[str]:
    """How to start the OpenJD CLI: this Python's ``-m openjd`` where openjd-cli is installed beside Recast
    (a venv's tools are not on PATH unless it is activated), else ``openjd`` (see :func:`openjd_missing`)."""
    import importlib.util

    try:
        here = importlib.util.find_spec("openjd.cli") is not None
    except (ImportError, ValueError):
        here = False
    return [sys.executable, "-m", "openjd"] if here else ["openjd"]


def openjd_missing() -> str | None:
    """What to install for the printed ``openjd run`` line to work, when openjd-cli is not in this Python."""
    if openjd_command() != ["openjd"] or shutil.which("openjd"):
        return None
    return "openjd-cli is not installed: pip install 'recast[farm]' (or openjd-cli) to run the bundle here"


def write_openjd_bundle(job, out: str, chunk_size: int = 16, worker: str | None = None,
                        gpu: bool | None = None) -> dict:
    """Write the bundle for ``job`` into folder ``out``; returns what was written and the commands."""
    if not job.input.frames:
        raise JobError("job field 'input.frames' is empty; a farm job needs the shot's frame range")
    check_chunk_size(chunk_size)
    worker = worker or farm_worker()
    gpu = job.device not in ("cpu", "mps") if gpu is None else gpu
    if gpu and job.devices:  # one shot on several GPUs: a host that has them all
        gpu = max(1, sum(d.startswith("cuda") for d in job.devices))
    stem = os.path.basename(job.output_sequence.pattern).split(".")[0]
    name = "Recast " + stem.replace("{", "(").replace("}", ")")  # the job name is a format string too
    paths = _job_paths(job)
    training = _training_images(job)
    document = template(name, gpu, paths, training, job.matte is not None)
    check_template(document)
    chunk_set = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    # JobFile is left to its default (job.json, resolved inside the bundle by the submitter)
    values = {"Frames": job.input.frames, "ChunkSize": chunk_size, "ChunkSet": chunk_set, "RecastWorker": worker,
              **{param: value for param, (value, _) in paths.items()},
              **({"TrainingImages": training[0]} if training else {}),
              **_name_params({**paths, **({"TrainingImages": training} if training else {})})}
    os.makedirs(out, exist_ok=True)
    job.absolute().save(os.path.join(out, "job.json"))
    _write_json(os.path.join(out, "template.json"), document)
    _write_json(os.path.join(out, "parameter_values.json"),
                {"parameterValues": [{"name": k, "value": v} for k, v in values.items()]})
    job_file = os.path.join(os.path.abspath(out), "job.json")
    params = json.dumps({**values, "JobFile": job_file, "RecastWorker": default_worker() if worker == "recast"
                         and not shutil.which("recast") else worker})
    run = shlex.join([*openjd_command(), "run", os.path.join(os.path.abspath(out), "template.json"), "--step", "Assemble",
                      "--run-dependencies", "--job-param", params])
    return {"bundle": os.path.abspath(out), "chunk_set": chunk_set, "values": values, "openjd_run": run,
            "deadline_submit": shlex.join(["deadline", "bundle", "submit", os.path.abspath(out)])}


def _write_json(path: str, data) -> None:
    from ..io.atomic import atomic_path

    with atomic_path(path, JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
