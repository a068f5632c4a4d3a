"""The shot cache beside a job's output (``<output folder>/recast_cache``) and its content keys."""

from __future__ import annotations

import hashlib
import os

import numpy as np

__all__ = ["cache_folder", "cache_key"]


def cache_folder(job) -> str:
    """``<output folder>/recast_cache``: depth and embeddings a re-render or a farm task reuses."""
    return os.path.join(os.path.dirname(job.output_sequence.path(0)), "recast_cache")


def cache_key(*parts) -> str:
    """A short hash of ``parts`` (arrays by their bytes, anything else by its text)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.tobytes() if isinstance(p, np.ndarray) else str(p).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]
