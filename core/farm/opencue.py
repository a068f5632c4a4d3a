"""``recast farm opencue``: the same graph as the OpenJD bundle, as an OpenCue outline.

Layers (``opencue-pyoutline``): **depth** (one task), **render** (the shot's range in chunks
of ``chunk_size``; Cuebot puts each chunk's first and last frame into ``#FRAME_START#`` and
``#FRAME_END#``) and **assemble** (one task), each depending on the whole of the one before.
The job spec is serialised without a Cuebot (``serialize_simple``) and written as XML;
submitting it needs a Cuebot (``cueadmin``/PyCue ``launchSpec``), so the command prints how.
Commands hold only paths and names, each quoted for the shell RQD runs them with; every
render parameter travels in the job file. OpenCue has no step environment to keep a worker up
between tasks, so each render task loads the models itself.
"""

from __future__ import annotations

import os
import shlex

from ..errors import JobError

__all__ = ["write_opencue_outline"]


def write_opencue_outline(job, out: str, chunk_size: int = 16, worker: str | None = None,
                          gpu: bool | None = None) -> dict:
    """Write ``job.json`` and ``<name>.cuejob.xml`` into ``out``; returns what was written."""
    try:
        from outline import Outline
        from outline.backend.cue import serialize_simple
        from outline.cuerun import OutlineLauncher
        from outline.modules.shell import Shell
    except ImportError:
        raise JobError("OpenCue's pyoutline is not installed; pip install 'recast[farm]'") from None

    from .openjd import MAX_CHUNK, default_worker
    from ..io.frames import FrameRange

    if not job.input.frames:
        raise JobError("job field 'input.frames' is empty; a farm job needs the shot's frame range")
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise JobError(f"chunk size {chunk_size} is not allowed; expected 1..{MAX_CHUNK} frames")
    shot = FrameRange.parse(job.input.frames)
    worker = worker or default_worker()
    gpu = job.device not in ("cpu", "mps") if gpu is None else gpu
    os.makedirs(out, exist_ok=True)
    job_file = os.path.join(os.path.abspath(out), "job.json")
    job.absolute().save(job_file)
    name = "recast_" + os.path.basename(job.output_sequence.pattern).split(".")[0]
    chunk_set = f"opencue-{job.fingerprint()[:8]}-c{chunk_size}"

    def cmd(*args):
        return shlex.join([worker, *args])

    extra = {"gpus": 1} if gpu else {}
    outline = Outline(name, shot=os.environ.get("SHOT", "recast"), show=os.environ.get("SHOW", "recast"))
    depth = Shell("depth", command=cmd("depth", "--job", job_file), range=str(shot.first), chunk=1, **extra)
    render = Shell("render", command=cmd("render", "--job", job_file, "--chunk", "#FRAME_START#-#FRAME_END#",
                                         "--chunk-set", chunk_set), range=str(shot), chunk=chunk_size, **extra)
    assemble = Shell("assemble", command=cmd("assemble", "--job", job_file, "--chunk-set", chunk_set),
                     range=str(shot.first), chunk=1)
    for layer in (depth, render, assemble):
        outline.add_layer(layer)
    render.depend_all(depth)
    assemble.depend_all(render)
    spec = serialize_simple(OutlineLauncher(outline))
    path = os.path.join(os.path.abspath(out), f"{name}.cuejob.xml")
    from ..io.atomic import atomic_path

    with atomic_path(path, JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(spec)
    return {"spec": path, "layers": ["depth", "render", "assemble"], "chunk_set": chunk_set,
            "submit": shlex.join(["python", "-c", f"import opencue; opencue.api.launchSpec(open({path!r}).read())"])}
