"""No output may ever name an input: the plate, the matte, the reference image — in any spelling.

Patterns are never compared as text: ``plate/sh.%04d.exr``, ``plate/sh.$F4.exr``, ``plate/./sh.####.exr``,
a folder that is a symlink to the plate's, or a frame hard-linked to a plate frame all name the
same files as ``plate/sh.####.exr``. Each input file is known by its real path (symlinks and
``..`` resolved, case folded where the file system folds it) and, when it exists, by its device and
inode (hard links, case-insensitive names); an output frame matching either is refused before
anything — output folder or cache — is created.
"""

from __future__ import annotations

import os

from ..errors import OutputError

__all__ = ["check_outputs_spare_inputs", "check_spares"]


def _identities(path: str) -> list:
    ids = [("path", os.path.normcase(os.path.realpath(path)))]
    try:
        st = os.stat(path)
        ids.append(("inode", st.st_dev, st.st_ino))
    except OSError:
        pass
    return ids


def _inputs(sequences, files, frame_range) -> dict:
    """identity → what the input is, for every input file on disk (and every frame of ``frame_range``)."""
    known = {}
    for kind, seq in sequences:
        paths = dict(seq.scan())
        if frame_range is not None:
            paths.update({f: seq.path(f) for f in frame_range})
        for f, path in paths.items():
            for ident in _identities(path):
                known.setdefault(ident, f"{kind} frame {f} ({path})")
    for what, path in files:
        for ident in _identities(path):
            known.setdefault(ident, f"{what} ({path})")
    return known


def check_spares(out, frames, sequences, files=(), frame_range=None, doing: str = "the render") -> None:
    """OutputError when a frame of ``out`` (a SequencePattern) in ``frames`` is the same file as a frame of one
    of ``sequences`` ((kind, SequencePattern) pairs: on disk, or in ``frame_range``) or one of ``files``
    ((what, path) pairs)."""
    known = _inputs(sequences, files, frame_range)
    for f in frames:
        path = out.path(f)
        for ident in _identities(path):
            if ident in known:
                raise OutputError(f"output frame {f} ({path}) is the same file as {known[ident]}: {doing} would "
                                  f"overwrite its input; choose another output pattern or folder")


def check_outputs_spare_inputs(job, frames) -> None:
    """OutputError when an output frame of ``frames`` is the same file as any input of ``job``."""
    sequences = [("plate", job.input_sequence)] + ([("matte", job.mask_sequence)] if job.mask_sequence else [])
    files = [("the reference image", job.path(job.reference_image))] if job.reference_image else []
    check_spares(job.output_sequence, frames, sequences, files, job.frame_range)
