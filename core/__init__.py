"""Recast's host-agnostic core: job files, EXR plates, colour, rendering, the ``recast`` CLI.

Importing this package is cheap: torch, diffusers, transformers and OpenImageIO are imported
inside the functions that need them.
"""

__version__ = "0.1.0"

from .errors import (Cancelled, ColourError, ImageError, JobError, ModelError, OutputError, RecastError,
                     ResourceError, SequenceError)
from .io.frames import FrameRange, SequencePattern
from .job import SCHEMA, Job, load_job

__all__ = [
    "__version__",
    "RecastError",
    "JobError",
    "SequenceError",
    "ImageError",
    "ColourError",
    "OutputError",
    "ModelError",
    "ResourceError",
    "Cancelled",
    "FrameRange",
    "SequencePattern",
    "SCHEMA",
    "Job",
    "load_job",
]
