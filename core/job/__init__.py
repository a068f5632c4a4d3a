"""The job file: one schema-versioned JSON document holding every parameter of a render.

``checks`` (each field's check and what it allows) → ``document`` (the :class:`Job` dataclasses,
loading, validation, paths, fingerprint) → ``table`` (:data:`JOB_FIELDS`, what the CLI and the
hosts show). Importing it needs neither torch nor OpenImageIO.
"""

from .checks import SCHEMA
from .document import InputSpec, Job, OutputSpec, WindowSpec, load_job
from .table import JOB_FIELDS, FieldInfo, job_field

__all__ = ["SCHEMA", "Job", "InputSpec", "OutputSpec", "WindowSpec", "FieldInfo", "JOB_FIELDS", "job_field",
           "load_job"]
