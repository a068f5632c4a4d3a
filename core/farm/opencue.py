r"""``recast farm opencue``: the same graph as the OpenJD bundle, as an OpenCue outline.

Layers (``opencue-pyoutline``): **depth** (one task), **render** (the shot's range in chunks
of ``chunk_size``; Cuebot puts each chunk's frames into ``#FRAMESPEC#`` — ``1001-1004``, stable
since 2019, where ``#FRAME_START#``/``#FRAME_END#`` changed meaning across Cuebot versions) and
**assemble** (one task), each depending on the whole of the one before.

Cuebot's rules (its ``JobSpec``): the job-name suffix, shot and layer names are lowercased, ``-``
becomes ``_``, and must match ``[\w.]{3,}``; a job submitted by ``root`` or uid 0 is refused; a
job name still pending is refused, so each submission's name (and chunk set) is unique. The spec
written is pinned to ``cjsl-`` :data:`SPEC_VERSION` (whatever pyoutline's own default), which
Cuebots serve from ``spcue/dtd/``; the user is ``--user`` (default: the login user) with that
user's uid.
The job spec is serialised without a Cuebot (``serialize_simple``) and written as XML;
submitting it needs a Cuebot (``cueadmin``/PyCue ``launchSpec``), so the command prints how.
Commands hold only paths and names, each quoted for the shell RQD runs them with; every
render parameter travels in the job file. OpenCue has no step environment to keep a worker up
between tasks, so each render task loads the models itself.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import time
import uuid

from ..errors import JobError

__all__ = ["write_opencue_outline", "write_outline", "shot_layers", "cue_name", "SPEC_VERSION"]

SPEC_VERSION = "1.13"  #: the cjsl DTD written: gpus per layer (1.12) and maxcores (1.13)
_CUE_NAME = re.compile(r"^[\w.]{3,}$", re.ASCII)


def cue_name(text: str, what: str = "name", fallback: str | None = None) -> str:
    """``text`` conformed as Cuebot conforms names (lowercase, '-' → '_', only letters, digits, '_' and '.',
    at least 3 characters); ``fallback`` (or JobError) when nothing usable is left."""
    name = re.sub(r"_{2,}", "_", re.sub(r"[^\w.]+", "_", text.replace("-", "_"), flags=re.ASCII)).strip("_").lower()
    if not _CUE_NAME.match(name) and fallback is not None:
        return fallback
    if not _CUE_NAME.match(name):
        raise JobError(f"the OpenCue {what} {text!r} has too little to keep ({name!r}): Cuebot needs at least 3 "
                       "letters, digits, '_' or '.'")
    return name


def _uid(user: str) -> int | None:
    try:
        import pwd

        return pwd.getpwnam(user).pw_uid
    except (ImportError, KeyError):
        return None


def write_opencue_outline(job, out: str, chunk_size: int = 16, worker: str | None = None, gpu: bool | None = None,
                          user: str | None = None, show: str | None = None, shot: str | None = None,
                          facility: str | None = None, email: str | None = None) -> dict:
    """Write ``job.json`` and ``<name>.cuejob.xml`` into ``out``; returns what was written. ``show`` and
    ``facility`` must exist in the Cuebot (defaults: ``$SHOW`` else 'recast', ``$FACILITY`` else Cuebot's)."""
    if not job.input.frames:
        raise JobError("job field 'input.frames' is empty; a farm job needs the shot's frame range")
    gpu = job.device not in ("cpu", "mps") if gpu is None else gpu
    job_file = os.path.join(os.path.abspath(out), "job.json")

    def layers(outline, shell, worker, chunk_set):
        job.absolute().save(job_file)
        return shot_layers(outline, shell, job, job_file, worker, chunk_set, chunk_size, gpu)

    stem = os.path.basename(job.output_sequence.pattern).split(".")[0]
    return write_outline(out, stem, layers, chunk_size, worker, user, show, shot, facility, email)


def write_outline(out: str, stem: str, layers_of, chunk_size: int, worker: str | None = None, user: str | None = None,
                  show: str | None = None, shot: str | None = None, facility: str | None = None,
                  email: str | None = None) -> dict:
    """Check the submission (chunk size, user, e-mail, names), then write ``<name>.cuejob.xml`` into ``out`` with the
    layers ``layers_of(outline, Shell, worker, chunk_set)`` adds (and returns); returns what was written."""
    try:
        from outline import Outline
        from outline.backend.cue import serialize_simple
        from outline.cuerun import OutlineLauncher
        from outline.modules.shell import Shell
    except ImportError:
        raise JobError("OpenCue's pyoutline is not installed; pip install 'recast[farm]'") from None

    from .openjd import check_chunk_size, farm_worker

    check_chunk_size(chunk_size)
    user = user or os.environ.get("RECAST_FARM_USER") or getpass.getuser()
    if user == "root" or _uid(user) == 0:
        raise JobError("Cuebot refuses jobs submitted as root; give --user NAME (the artist's or the pipeline's login)")
    email = email or os.environ.get("RECAST_FARM_EMAIL") or None
    if email is not None and (not re.fullmatch(r"[^@\s<>&]+@[^@\s<>&]+", email)):
        raise JobError(f"--email {email!r} is not an e-mail address (name@host)")
    show = cue_name(show or os.environ.get("SHOW") or "recast", "show")
    shot = cue_name(shot, "shot") if shot else cue_name(os.environ.get("SHOT") or stem, "shot", fallback="recast")
    unique = f"{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"  # Cuebot refuses a name still pending
    name = cue_name(f"recast_{stem}", "job name") + "_" + unique
    worker = worker or farm_worker()
    os.makedirs(out, exist_ok=True)
    chunk_set = f"opencue-{unique}"

    outline = Outline(name, shot=shot, show=show, user=user, facility=facility)
    layers = layers_of(outline, Shell, worker, chunk_set)
    spec = _serialize(outline, OutlineLauncher, serialize_simple, user, email)
    path = os.path.join(os.path.abspath(out), f"{name}.cuejob.xml")
    from ..io.atomic import atomic_path

    with atomic_path(path, JobError) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(spec)
    return {"spec": path, "layers": [layer.get_name() for layer in layers], "chunk_set": chunk_set, "name": name,
            "show": show, "shot": shot, "user": user,
            "submit": shlex.join(["python", "-c", f"import opencue; opencue.api.launchSpec(open({path!r}).read())"])}


def shot_layers(outline, shell, job, job_file: str, worker: str, chunk_set: str, chunk_size: int, gpu: bool,
                prefix: str = "") -> list:
    """Add one shot's layers to ``outline`` (``prefix`` + customize, matte, depth, render, assemble, each depending on
    the whole of what it needs); returns them, the assemble last."""
    frames = job.frame_range

    def cmd(*args):
        return shlex.join([worker, *args])

    extra = {"gpus": max(1, sum(d.startswith("cuda") for d in job.devices or ()))} if gpu else {}  # 'devices': all
    depth = shell(prefix + "depth", command=cmd("depth", "--job", job_file), range=str(frames.first), chunk=1, **extra)
    render = shell(prefix + "render", command=cmd("render", "--job", job_file, "--chunk", "#FRAMESPEC#",
                                                  "--chunk-set", chunk_set), range=str(frames), chunk=chunk_size,
                   **extra)
    assemble = shell(prefix + "assemble", command=cmd("assemble", "--job", job_file, "--chunk-set", chunk_set),
                     range=str(frames.first), chunk=1)
    before = []  # what the render needs made first: the trained LoRA, the matte from clicks
    if job.customize is not None:
        before.append(shell(prefix + "customize", command=cmd("customize", "--job", job_file),
                            range=str(frames.first), chunk=1, **extra))
    if job.matte is not None:
        before.append(shell(prefix + "matte", command=cmd("matte", "--job", job_file), range=str(frames.first),
                            chunk=1, **extra))
    layers = [*before, depth, render, assemble]
    for layer in layers:
        outline.add_layer(layer)
    render.depend_all(depth)
    for layer in before:
        render.depend_all(layer)
    assemble.depend_all(render)
    return layers


def _serialize(outline, launcher_class, serialize_simple, user: str, email: str | None = None) -> str:
    """The spec as pinned (:data:`SPEC_VERSION`) with ``user``'s uid: pyoutline takes the version from its
    own config and the uid from the submitting process (0 on a root shell, which Cuebot refuses). The
    ``<email>`` is ``email`` or none: pyoutline's own is the user at its config's placeholder domain
    (``example.com``), where Cuebot would send the job's mail."""
    import outline as pyoutline

    config = pyoutline.config
    before = config.get("outline", "spec_version")
    config.set("outline", "spec_version", SPEC_VERSION)
    try:
        spec = serialize_simple(launcher_class(outline, user=user, nomail=True))
    finally:
        config.set("outline", "spec_version", before)
    uid = _uid(user)
    # the one <uid> element pyoutline writes: the user's own, or none when this host does not know them
    spec = re.sub(r"<uid>-?\d+</uid>", f"<uid>{uid}</uid>" if uid is not None else "", spec, count=1)
    if email is not None:  # the DTD's place for it: right after <user>
        spec = re.sub(r"(<user>[^<]*</user>)", lambda m: m.group(1) + f"<email>{email}</email>", spec, count=1)
    return spec
