"""Model presets, the parts they name, and the loader that puts them on a device.

``presets`` (what a preset is and where the built-in ones live) → ``parts`` (find, check,
fetch each part) → ``loader`` (load parts once per device; :func:`loader_for` a job);
``tiny`` builds the seeded random-weight preset; ``cache`` holds the cache folders and keys.
"""

from .loader import Loader, loader_for
from .parts import check_preset, locate
from .presets import PARTS, Preset, load_preset

__all__ = ["PARTS", "Preset", "load_preset", "locate", "check_preset", "Loader", "loader_for"]
