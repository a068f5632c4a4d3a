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

__all__ = ["check_outputs_spare_inputs"]


def _identities(path: str) -> list:
    ids = [("path", os.path.normcase(os.path.realpath(path)))]
    try:
        st = os.stat(path)
        ids.append(("inode", st.st_dev, st.st_ino))
    except OSError:
        pass
    return ids


def _inputs(job) -> dict:
    """identity → what the input is, for every input file on disk (and every plate frame of the range)."""
    known = {}
    sequences = [("plate", job.input_sequence)] + ([("matte", job.mask_sequence)] if job.mask_sequence else [])
    for kind, seq in sequences:
        paths = dict(seq.scan())
        if job.frame_range is not None:
            paths.update({f: seq.path(f) for f in job.frame_range})
        for f, path in paths.items():
            for ident in _identities(path):
                known.setdefault(ident, f"{kind} frame {f} ({path})")
    if job.reference_image:
        for ident in _identities(job.path(job.reference_image)):
            known.setdefault(ident, f"the reference image ({job.path(job.reference_image)})")
    return known


def check_outputs_spare_inputs(job, frames) -> None:
    """OutputError when an output frame of ``frames`` is the same file as any input of ``job``."""
    known = _inputs(job)
    out = job.output_sequence
    for f in frames:
        path = out.path(f)
        for ident in _identities(path):
            if ident in known:
                what = known[ident]
                raise OutputError(f"output frame {f} ({path}) is the same file as {what}: the render would "
                                  f"overwrite its input; choose another output pattern or folder")
