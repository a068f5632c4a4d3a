"""Finding, checking and fetching the model parts a preset names (loading is :mod:`.loader`).

Where weights come from: a local folder, or the Hugging Face cache (``$HF_HOME`` honoured),
always with ``local_files_only`` — nothing is downloaded during a render; ``recast models
pull`` fetches where a network exists. Only safetensors are loaded unless the preset (or
``RECAST_ALLOW_PICKLE=1``) opts in to pickle weights, with a warning. ``trust_remote_code``
is never used. A missing part is one :class:`ModelError` naming the part and how to get it.
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass

from ..errors import ModelError
from .presets import BACKEND_PARTS, OPTIONAL_PARTS, PARTS, ModelPart, Preset

__all__ = ["PartStatus", "locate", "use_safetensors", "check_preset", "pull_preset", "parameter_count"]

_PICKLE = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class PartStatus:
    """What ``recast models check`` reports for one part."""

    role: str
    where: str  #: the part's source as the preset names it
    present: bool
    path: str | None = None  #: folder (or file) found
    size: int = 0  #: bytes of weights
    problem: str | None = None  #: why it cannot be used
    fetchable: bool = False  #: missing, and ``recast models pull`` can fetch it (a hub part not in the cache)


def _allow_pickle(preset: Preset) -> bool:
    return preset.allow_pickle or os.environ.get("RECAST_ALLOW_PICKLE") == "1"


def _hub_folder(part: ModelPart) -> str:
    """The cached snapshot folder of a hub part (never downloads)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(part.source, revision=part.revision, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
        raise ModelError(f"model part '{part.role}' ({part.source}) is not in the Hugging Face cache ({home}); "
                         f"run 'recast models pull' where a network exists, or point the preset's "
                         f"[parts.{part.role}] source at a local folder") from None


def _weights(folder: str) -> tuple[list[str], list[str]]:
    files = [f for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True) if os.path.isfile(f)]
    safe = [f for f in files if f.endswith(".safetensors")]
    pickled = [f for f in files if f.endswith(_PICKLE)]
    return safe, pickled


def locate(preset: Preset, role: str) -> str:
    """The local folder of a part (or its weights file when it has ``weight_name``), checked."""
    part = preset.part(role)
    root = part.source if part.local else _hub_folder(part)
    if part.local and not os.path.isdir(root):
        raise ModelError(f"model part '{role}': folder {root!r} does not exist; fix the preset's [parts.{role}] source")
    folder = os.path.join(root, part.subfolder) if part.subfolder else root
    if not os.path.isdir(folder):
        raise ModelError(f"model part '{role}': {part.describe()} has no folder {part.subfolder!r}")
    if part.weight_name:
        path = os.path.join(folder, part.weight_name)
        if not os.path.isfile(path):
            raise ModelError(f"model part '{role}': weights file {path!r} is missing")
        if path.endswith(_PICKLE):
            _pickle_gate(preset, role, path)
        elif not path.endswith(".safetensors"):
            raise ModelError(f"model part '{role}': {path!r} is neither safetensors nor an allowed pickle")
        return path
    safe, pickled = _weights(folder)
    if not safe:
        if pickled:
            _pickle_gate(preset, role, folder)
        else:
            raise ModelError(f"model part '{role}': no weights (.safetensors) in {folder!r}")
    return folder


def _pickle_gate(preset: Preset, role: str, where: str) -> None:
    if not _allow_pickle(preset):
        raise ModelError(f"model part '{role}': {where!r} has only pickle weights (.bin/.pt), which can run code when "
                         "loaded; convert them to safetensors, or opt in with allow_pickle = true in the preset "
                         "(or RECAST_ALLOW_PICKLE=1) if you trust their source")
    warnings.warn(f"model part '{role}' loads pickle weights from {where}: only do this for files you trust",
                  stacklevel=3)


def use_safetensors(preset: Preset, folder: str) -> bool:
    """True unless the folder has only pickle weights and the preset allowed them."""
    safe, _ = _weights(folder if os.path.isdir(folder) else os.path.dirname(folder))
    return bool(safe) or not _allow_pickle(preset)


def check_preset(preset: Preset) -> list[PartStatus]:
    """Every part (an optional one only when the preset names it): present or not, where, how big, and what is
    wrong."""
    out = []
    needed = BACKEND_PARTS.get(preset.backend, tuple(PARTS))
    for role in PARTS:
        if role not in needed and role not in preset.parts:
            continue  # optional, or not this backend's
        if role in OPTIONAL_PARTS and role not in preset.parts:
            continue
        if role not in preset.parts:
            out.append(PartStatus(role, "-", False, problem="not named in the preset"))
            continue
        part = preset.parts[role]
        try:
            path = locate(preset, role)
        except ModelError as exc:  # a local folder or pickle-only weights need a fix; a hub part can be pulled
            out.append(PartStatus(role, part.describe(), False, problem=str(exc),
                                  fetchable=not part.local and "pickle" not in str(exc)))
            continue
        files = [path] if os.path.isfile(path) else [f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                                                      if os.path.isfile(f)]
        out.append(PartStatus(role, part.describe(), True, path, sum(os.path.getsize(f) for f in files)))
    return out


def _patterns(part: ModelPart) -> list[str]:
    """What to fetch of a hub part: its weights file, or its folder's safetensors and configs (never the pickle
    twins of the same weights)."""
    if part.subfolder and part.weight_name:
        return [f"{part.subfolder}/{part.weight_name}"]
    if part.weight_name:
        return [part.weight_name]
    base = f"{part.subfolder}/" if part.subfolder else ""
    return [f"{base}**/*.safetensors", f"{base}*.safetensors", f"{base}**/*.json", f"{base}*.json",
            f"{base}**/*.txt", f"{base}*.txt"]


def pull_preset(preset: Preset, report=print, progress=None, cancel=None) -> list[str]:
    """Download every hub part of the preset that is not usable yet into the Hugging Face cache (needs a
    network; ``HF_ENDPOINT`` names a studio mirror). Returns the roles fetched.

    ``progress(done, total, role)`` is called before each part and once at the end; ``cancel`` (a
    :class:`~recast.core.progress.cancel.CancelFlag`) is polled during a download, which is abandoned there:
    the hub client keeps the partial file and the next pull resumes it."""
    import threading

    from huggingface_hub import snapshot_download

    status = {s.role: s for s in check_preset(preset)}
    todo = []
    for role, part in preset.parts.items():
        if part.local:
            report(f"{role}: local folder {part.source}, nothing to pull")
        elif status[role].present:
            report(f"{role}: present ({status[role].path})")
        else:
            todo.append(role)
    for done, role in enumerate(todo):
        part = preset.parts[role]
        if progress is not None:
            progress(done, len(todo), role)
        report(f"{role}: pulling {part.describe()} ...")
        outcome: dict = {}

        def fetch(part=part, outcome=outcome):
            try:
                snapshot_download(part.source, revision=part.revision, allow_patterns=_patterns(part))
            except Exception as exc:  # the hub client raises many types; all mean "could not fetch"
                outcome["error"] = exc

        # a thread, so a cancel is seen within a second even in the middle of a multi-GB file
        thread = threading.Thread(target=fetch, name=f"recast-pull-{role}", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            if cancel is not None:
                cancel.check(f"while fetching {role}; the next pull resumes it")
        if "error" in outcome:
            exc = outcome["error"]
            raise ModelError(f"model part '{role}' ({part.source}) could not be downloaded: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if progress is not None:
        progress(len(todo), len(todo), None)
    return todo


def parameter_count(path: str) -> int:
    """Parameters held by the safetensors at ``path`` (a file, or a folder searched recursively), read from
    their headers alone (8-byte length + JSON; no tensor is loaded). Pickle weights are not counted."""
    import json
    import math
    import struct

    files = [path] if os.path.isfile(path) else _weights(path)[0]
    total = 0
    for name in files:
        try:
            with open(name, "rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(size))
        except (OSError, ValueError, struct.error):
            continue
        total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    return total
