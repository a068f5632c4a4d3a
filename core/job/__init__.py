"""The job file: one schema-versioned JSON document holding every parameter of a render.

``checks`` (each field's check and what it allows; ``prompts``: a matte's clicks and boxes) → ``sections`` (input, output, window, customize, matte) →
``document`` (the :class:`Job` dataclass, loading, validation, paths, LoRAs, fingerprint) → ``table`` (:data:`JOB_FIELDS`, what the CLI and the
hosts show). Importing it needs neither torch nor OpenImageIO.
"""

from .checks import SCHEMA
from .document import Job, load_job
from .sections import CustomizeSpec, InputSpec, MatteSpec, OutputSpec, WindowSpec
from .table import JOB_FIELDS, FieldInfo, job_field

__all__ = ["SCHEMA", "Job", "InputSpec", "OutputSpec", "WindowSpec", "CustomizeSpec", "MatteSpec", "FieldInfo", "JOB_FIELDS", "job_field",
           "load_job"]
