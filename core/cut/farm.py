"""One farm job for a whole cut (``recast farm openjd|opencue --cut DIR``): every shot's steps, then the conform.

It lives with the cut (not in ``farm/``, whose writers it calls) so the cut depends on the farm and never the
other way round.

The cut's folder is read through its ``cut.json`` (:func:`recast.core.cut.read_manifest`). Each shot gets the
steps ``recast farm … --job`` writes for one shot (Depth, Render in chunks, Assemble, and Customize/Matte where
its job has them), named for the shot, so the farm renders the shots side by side and a shot's Assemble waits
only for its own renders; a last **Conform** step waits for every shot and runs ``recast cut --conform-only``,
which writes the conformed timeline on the shots' renders (each shot's current version).

OpenJD: one job template. Its parameters are per job (at most 50), so a shot's steps are the single-shot
template's (:func:`recast.core.farm.openjd.template`, still the one place the steps are written) with its
``{{Param.…}}`` rewritten: its frames written in, its job file and output folder under the shared ``JobsFolder``
and ``CutFolder``, its plate folder a parameter shared by the shots that read it. OpenJD has no sub-job to
instantiate, so this rewriting is done here. OpenCue: one outline, a layer set per shot (``<shot>_depth`` …) and a ``conform`` layer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import time
import uuid

from ..errors import JobError

__all__ = ["write_openjd_cut", "write_opencue_cut"]

#: the parameters every shot shares (the rest are the shot's own, prefixed)
_SHARED = ("ChunkSize", "ChunkSet", "RecastWorker")
_PARAM = re.compile(r"\{\{Param\.(\w+)\}\}")
_MAX_STEP = 64  #: OpenJD's longest step name
_MAX_PARAMS = 50  #: OpenJD's most job parameters (without extensions)


def _shots(folder: str):
    """(the manifest's shots, each shot's job with its frames) of the cut planned in ``folder``."""
    from .manifest import read_manifest
    from ..job import load_job

    shots = read_manifest(folder)
    return [(shot, load_job(shot.job).replace(input={"frames": f"{shot.frames[0]}-{shot.frames[1]}"}))
            for shot in shots]


def _label(shot) -> str:
    """The shot's name as its steps are prefixed (short enough for a step name, else its number)."""
    return shot.name if len(shot.name) <= _MAX_STEP - 12 else f"shot{shot.index:03d}"


def _shot_steps(document: dict, label: str, expression) -> list:
    """The single-shot template's steps as one shot's part of the cut's template: named ``<label> <step>``, each
    ``{{Param.X}}`` replaced by ``expression(X)``."""
    def walk(value):
        if isinstance(value, str):
            return _PARAM.sub(lambda m: expression(m.group(1)), value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    steps = []
    for step in walk(document["steps"]):
        step["name"] = f"{label} {step['name']}"
        if "dependencies" in step:
            step["dependencies"] = [{"dependsOn": f"{label} {d['dependsOn']}"} for d in step["dependencies"]]
        steps.append(step)
    return steps


def write_openjd_cut(folder: str, out: str, chunk_size: int = 16, worker: str | None = None,
                     gpu: bool | None = None) -> dict:
    """Write one OpenJD bundle for the cut planned in ``folder`` into ``out``; returns what was written and the
    commands (as :func:`recast.core.farm.openjd.write_openjd_bundle` does for one shot).

    OpenJD allows 50 job parameters, so a shot costs as few as it can: its frames are written into its Render
    step, its job file is ``{{Param.JobsFolder}}/<shot>.json``, its output folder a folder of ``CutFolder``; only
    its plate (and matte, reference, training images) folder is a parameter of its own, shared by the shots that
    read the same folder, so path mapping still reaches every file the farm reads."""
    from ..farm import openjd

    shots = _shots(folder)  # every check before anything is written
    openjd.check_chunk_size(chunk_size)
    worker = worker or openjd.farm_worker()
    if gpu is None:
        gpu = any(job.device not in ("cpu", "mps") for _, job in shots)
    folder = os.path.abspath(folder)
    shared, params, steps, assembles = None, [], [], []
    values: dict = {}
    by_value: dict = {}  # (parameter, value) → the cut's parameter of that name and value
    for shot, job in shots:
        label = _label(shot)
        paths, training = openjd._job_paths(job), openjd._training_images(job)
        names = openjd._name_params({**paths, **({"TrainingImages": training} if training else {})})
        document = openjd.template("shot", gpu, paths, training, job.matte is not None)
        defs = {p["name"]: p for p in document["parameterDefinitions"]}
        if shared is None:
            shared = [defs[n] for n in _SHARED]
        own = {**{k: v for k, (v, _) in paths.items()}, **({"TrainingImages": training[0]} if training else {}),
               **names}
        output = paths["OutputFolder"][0]
        inside = os.path.relpath(output, folder)
        if not inside.startswith(os.pardir):
            own.pop("OutputFolder")
        fixed = {"JobFile": "{{Param.JobsFolder}}/" + f"{shot.name}.json", "Frames": job.input.frames,
                 **({"OutputFolder": "{{Param.CutFolder}}/" + inside.replace(os.sep, "/")}
                    if "OutputFolder" not in own else {})}
        mine = {}
        for name, value in own.items():
            key = (name, value)
            if key not in by_value:
                by_value[key] = f"{name}{sum(1 for n, _ in by_value if n == name) + 1}"
                params.append({**defs[name], "name": by_value[key]})
                values[by_value[key]] = value
            mine[name] = "{{Param." + by_value[key] + "}}"

        def expression(name, mine=mine, fixed=fixed):
            return fixed.get(name) or mine.get(name) or "{{Param." + name + "}}"

        their_steps = _shot_steps(document, label, expression)
        steps += their_steps
        assembles.append(their_steps[-1]["name"])
    params += [{"name": "JobsFolder", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN", "default": "jobs",
                "description": "the shots' Recast job files, <shot>.json (every render parameter is in them)"},
               {"name": "CutFolder", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "INOUT",
                "description": "the cut's folder (cut.json, the shots' versions): the renders and the conformed "
                               "timeline are written into it"}]
    steps.append({"name": "Conform", "dependencies": [{"dependsOn": name} for name in assembles],
                  "script": {"actions": {"onRun": openjd._action(
                      ["cut", "--conform-only", "--out", "{{Param.CutFolder}}", "--json"])}}})
    stem = os.path.basename(folder.rstrip(os.sep)) or "cut"
    document = {"specificationVersion": "jobtemplate-2023-09", "extensions": ["TASK_CHUNKING"],
                "name": "Recast cut " + stem.replace("{", "(").replace("}", ")")[:100],
                "description": f"Recast: {len(shots)} shots of a cut rendered side by side, then conformed",
                "parameterDefinitions": [*shared, *params], "steps": steps}
    if len(document["parameterDefinitions"]) > _MAX_PARAMS:
        raise JobError(f"the cut reads plates from {len(by_value)} folders; one OpenJD job holds at most "
                       f"{_MAX_PARAMS} parameters: split the cut (--track, or a shorter timeline) or gather its "
                       "plates in fewer folders")
    openjd.check_template(document)
    chunk_set = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    values = {"ChunkSize": chunk_size, "ChunkSet": chunk_set, "RecastWorker": worker, **values, "CutFolder": folder}
    out = os.path.abspath(out)
    os.makedirs(os.path.join(out, "jobs"), exist_ok=True)
    for shot, job in shots:
        job.absolute().save(os.path.join(out, "jobs", f"{shot.name}.json"))
    openjd._write_json(os.path.join(out, "template.json"), document)
    openjd._write_json(os.path.join(out, "parameter_values.json"),
                       {"parameterValues": [{"name": k, "value": v} for k, v in values.items()]})
    here = openjd.default_worker() if worker == "recast" and not shutil.which("recast") else worker
    run = shlex.join([*openjd.openjd_command(), "run", os.path.join(out, "template.json"), "--step", "Conform",
                      "--run-dependencies", "--job-param",
                      json.dumps({**values, "JobsFolder": os.path.join(out, "jobs"), "RecastWorker": here})])
    return {"bundle": out, "chunk_set": chunk_set, "values": values, "steps": [s["name"] for s in steps],
            "openjd_run": run, "deadline_submit": shlex.join(["deadline", "bundle", "submit", out])}


def write_opencue_cut(folder: str, out: str, chunk_size: int = 16, worker: str | None = None,
                      gpu: bool | None = None, **submission) -> dict:
    """Write one OpenCue outline for the cut planned in ``folder`` into ``out`` (``submission``: user, show, shot,
    facility, email as :func:`recast.core.farm.opencue.write_outline` takes them); returns what was written."""
    from ..farm.opencue import cue_name, shot_layers, write_outline

    shots = _shots(folder)
    if gpu is None:
        gpu = any(job.device not in ("cpu", "mps") for _, job in shots)
    folder = os.path.abspath(folder)
    out = os.path.abspath(out)

    def layers(outline, shell, worker, chunk_set):
        made, assembles, taken = [], [], set()
        for shot, job in shots:
            job_file = os.path.join(out, "jobs", f"{shot.name}.json")
            os.makedirs(os.path.dirname(job_file), exist_ok=True)
            job.absolute().save(job_file)
            prefix = cue_name(shot.name, "shot", fallback=f"shot{shot.index:03d}")
            prefix = (prefix if prefix not in taken else f"shot{shot.index:03d}") + "_"  # Cuebot lowercases
            taken.add(prefix[:-1])
            mine = shot_layers(outline, shell, job, job_file, worker, chunk_set, chunk_size, gpu, prefix)
            made += mine
            assembles.append(mine[-1])
        conform = shell("conform", command=shlex.join([worker, "cut", "--conform-only", "--out", folder, "--json"]),
                        range="1", chunk=1)
        outline.add_layer(conform)
        for layer in assembles:
            conform.depend_all(layer)
        return [*made, conform]

    stem = os.path.basename(folder.rstrip(os.sep)) or "cut"
    return write_outline(out, stem, layers, chunk_size, worker, **submission)
