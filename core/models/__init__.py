"""Model presets, the parts they name, and the loader that puts them on a device.

``presets`` (what a preset is and where the built-in ones live) → ``parts`` (find, check,
fetch each part) → ``loader`` (load parts once per device; :func:`loader_for` a job);
``lora`` reads and fuses LoRA files, ``lora_file`` writes one (a trained LoRA, the tiny LCM LoRA); ``tiny``
builds the seeded random-weight preset (the cache folders and keys are :mod:`recast.core.io.cache`).

The names below load on first use, so a host's Python (3.9, no tomllib or torch) can import
``recast.core.models.lora`` to check a job's LoRA files.
"""

import importlib

__all__ = ["PARTS", "Preset", "load_preset", "locate", "check_preset", "Loader", "loader_for"]

_HOME = {"PARTS": "presets", "Preset": "presets", "load_preset": "presets", "locate": "parts",
         "check_preset": "parts", "Loader": "loader", "loader_for": "loader"}


def __getattr__(name):
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
