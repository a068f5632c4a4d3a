"""Recast's exceptions: one base class, flat subclasses.

Every message says what was wrong and what to do about it, in one line, so the
CLI and the hosts can show it to an artist as it is.
"""

from __future__ import annotations

__all__ = [
    "RecastError",
    "JobError",
    "SequenceError",
    "ImageError",
    "ColourError",
    "OutputError",
    "ModelError",
    "ResourceError",
    "Cancelled",
]


class RecastError(Exception):
    """Base of every error Recast raises on purpose."""


class JobError(RecastError):
    """A job file, or a value in it, is invalid."""


class SequenceError(RecastError):
    """A frame pattern or range is invalid, or frames are missing or mismatched."""


class ImageError(RecastError):
    """An image file cannot be read or does not hold what is needed."""


class ColourError(RecastError):
    """A colour space is unknown, or a conversion failed."""


class OutputError(RecastError):
    """An output location cannot be written."""


class ModelError(RecastError):
    """A model preset or a model part is missing, unsafe or cannot be loaded."""


class ResourceError(RecastError):
    """The machine cannot hold what a job needs (memory), found before anything runs."""


class Cancelled(RecastError):
    """The render was stopped by the user (SIGINT/SIGTERM or a host's cancel)."""

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.signum = signum
