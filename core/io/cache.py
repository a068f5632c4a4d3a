"""Recast's caches: the user-wide one (built-in tiny models) and the shot cache beside a job's output
(``<output folder>/recast_cache``: depth, embeddings, resumable state), and their content keys."""

from __future__ import annotations

import hashlib
import os
import re

from ..errors import OutputError

__all__ = ["cache_root", "cache_folder", "cache_key"]


def cache_root() -> str:
    """Recast's cache folder: ``$RECAST_CACHE``, else ``$XDG_CACHE_HOME/recast``, else ``~/.cache/recast``."""
    if os.environ.get("RECAST_CACHE"):
        root, where = os.path.abspath(os.path.expanduser(os.environ["RECAST_CACHE"])), "RECAST_CACHE"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root, where = os.path.join(base, "recast"), "the cache folder"
    probe = root
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise OutputError(f"{where} {root!r} cannot be used: {probe!r} is a file, not a folder; point "
                          "RECAST_CACHE at a folder")
    return root


#: folders of versions of one output (:mod:`recast.core.pipeline.variants`): they share the output's cache
_VERSION_ROOTS = ("recast_previews", "recast_variants")


def cache_folder(job) -> str:
    """``<output folder>/recast_cache``: depth and embeddings a re-render or a farm task reuses. A preview or
    variant version (``<output folder>/recast_variants/v003/``) uses its output folder's: what is cached is
    keyed by content, so every version of a shot reuses the depth and encodings another computed."""
    folder = os.path.dirname(job.output_sequence.path(0))
    parent = os.path.dirname(folder)
    if re.match(r"^v\d{3,}$", os.path.basename(folder)) and os.path.basename(parent) in _VERSION_ROOTS:
        folder = os.path.dirname(parent)
    return os.path.join(folder, "recast_cache")


def cache_key(*parts) -> str:
    """A short hash of ``parts`` (arrays by their bytes, anything else by its text)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.tobytes() if hasattr(p, "tobytes") else str(p).encode("utf-8"))  # arrays by their bytes
        h.update(b"\0")
    return h.hexdigest()[:20]
