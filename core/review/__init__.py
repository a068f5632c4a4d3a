"""The review: a self-contained folder (``index.html``, its script and styles, frame proxies) that plays the plate,
the render and every version of a shot in any browser, offline, and compares them (A/B, wipe, side by side,
difference, blend, a grid, a matte overlay), with the render's metrics and per-version decisions.

* :mod:`.versions` — what a review shows: the plate, the job's render, its variants and previews, compared jobs;
* :mod:`.labels` — a render's header values (prompt, seed, preset, version) as labels;
* :mod:`.proxies` — every frame through OCIO to an 8-bit JPEG, in parallel threads;
* :mod:`.metrics` — ``recast eval``'s per-frame figures for a version, where they were computed;
* :mod:`.page` — the page and its data, the player's script and styles copied beside it;
* :mod:`.build` — the whole folder, written aside and renamed into place;
* :mod:`.decisions` — a decision file the page exported, read back and shown in the terminal.
"""

from .build import build_review
from .decisions import format_decisions, read_decisions

__all__ = ["build_review", "read_decisions", "format_decisions"]
