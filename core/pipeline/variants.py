"""Preview renders and variants: new versions beside a job's output, each with the exact job file that made it.

* A **preview** (``recast render --preview``) is the job at a preview size (long side :data:`PREVIEW_SIZE`,
  or the job's own when smaller), on the preset's fast tier where it has one (``default`` → ``fast``,
  ``tiny`` → ``tiny-fast``, ``wan-vace-1.3b`` → ``wan-vace-1.3b-fast``, …; steps and guidance then from that preset), over the frames asked for or else
  the first window; written to ``<output folder>/recast_previews/v001/``, ``v002``, … — never over a final
  render.
* **Variants** (``recast variants``) are the grid (every combination) of the values given per axis, each
  written to ``<output folder>/recast_variants/vNNN/`` with its ``job.json``: promoting one is rendering its
  job, and the same job renders the same frames. They render one after another through one loaded stack.

Versions are claimed with ``mkdir`` (atomic: two claims at once get two numbers) and never reused. Every
version of one output shares the output's ``recast_cache`` (depth and encodings are keyed by content, so
a variant or preview reuses what the render or another variant computed: :func:`recast.core.io.cache.cache_folder`).
"""

from __future__ import annotations

import itertools
import json
import os
import re

from ..errors import JobError

__all__ = ["AXES", "MAX_VARIANTS", "PREVIEW_SIZE", "variant_grid", "plan_variants", "plan_preview",
           "render_variants", "render_variants_request", "PREVIEWS", "VARIANTS", "claim_version", "version_folder", "versions"]

PREVIEW_SIZE = 256  #: a preview's long side, in pixels the model runs at
MAX_VARIANTS = 64  #: variants in one request: a grid bigger than this is a typo (or a night on the farm)
PREVIEWS, VARIANTS = "recast_previews", "recast_variants"  #: the version folders' parents, in the output folder
#: what a variant may vary: axis → job field (the CLI's --vary names; --prompt, --seed, --reference and
#: --structure-level are short for the first four)
AXES = {"prompt": "prompt", "seed": "seed", "reference": "reference_image", "structure_level": "structure_level",
        "negative_prompt": "negative_prompt", "reference_weight": "reference_weight",
        "structure_weight": "structure_weight", "strength": "strength", "guidance_scale": "guidance_scale",
        "temporal_guidance": "temporal_guidance", "steps": "steps"}
#: a preset's fast tier (few-step sampling), what a preview renders with
FAST_TIER = {"default": "fast", "tiny": "tiny-fast", "wan-vace-1.3b": "wan-vace-1.3b-fast",
             "wan-vace-14b": "wan-vace-14b-fast", "tiny-wan": "tiny-wan-fast"}
_V = re.compile(r"^v(\d{3,})$")


def variant_grid(axes: dict[str, list]) -> list[dict]:
    """Every combination of the values per axis (axes in the order given), as ``{axis: value}``; one clear
    error for an unknown axis, an axis without values, none at all, or more than :data:`MAX_VARIANTS`."""
    if not axes:
        raise JobError("no variant values given: name two or more, e.g. --prompt 'chalk' --prompt 'bronze' "
                       "(or --seed, --reference, --structure-level, --vary AXIS=VALUE)")
    for axis, values in axes.items():
        if axis not in AXES:
            raise JobError(f"{axis!r} is not a variant axis; vary one of: {', '.join(AXES)}")
        if not values:
            raise JobError(f"variant axis {axis!r} has no values")
    count = 1
    for values in axes.values():
        count *= len(values)
    if count > MAX_VARIANTS:
        raise JobError(f"{count} variants asked for ({' × '.join(str(len(v)) for v in axes.values())}); at most "
                       f"{MAX_VARIANTS} in one request: fewer values, or several requests")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def _versions_root(job, kind: str) -> str:
    return os.path.join(job.output_sequence.folder, kind)


def versions(root: str) -> list[int]:
    """The version numbers under ``root`` (its ``v001``, ``v002``, … folders), in order; [] when none."""
    names = os.listdir(root) if os.path.isdir(root) else []
    return sorted(int(m.group(1)) for m in map(_V.match, names) if m and os.path.isdir(os.path.join(root, m.group(0))))


def version_folder(root: str, number: int) -> str:
    """``root/vNNN``."""
    return os.path.join(root, f"v{number:03d}")


def claim_version(root: str) -> tuple[int, str]:
    """The next free version folder under ``root`` (made, so nobody else takes it)."""
    os.makedirs(root, exist_ok=True)
    number = max(versions(root), default=0) + 1
    while True:
        folder = version_folder(root, number)
        try:
            os.mkdir(folder)
            return number, folder
        except FileExistsError:
            number += 1


def _in_version(job, folder: str):
    """``job`` writing into ``folder`` (its output's file name kept)."""
    name = os.path.basename(job.output_sequence.pattern)
    return job.absolute().replace(output={"pattern": os.path.join(folder, name)})


def _preview_changes(job, frames) -> dict:
    from ..io.frames import FrameRange

    changes = {"resolution": min(job.resolution, PREVIEW_SIZE)}
    fast = FAST_TIER.get(job.model)
    if fast is not None:
        changes.update(model=fast, steps=None, guidance_scale=None)  # the fast tier's own steps and guidance
    if frames is None:
        shot = job.frame_range or _on_disk(job)
        frames = FrameRange(shot.first, min(shot.first + job.window.length - 1, shot.last))
    changes["input"] = {"frames": str(frames)}
    changes["handles"] = 0
    return changes


def _on_disk(job):
    from ..shot.plate import frames_on_disk

    return frames_on_disk(job.input_sequence)


def plan_preview(job, frames=None) -> tuple[int, object, str]:
    """``(version, job, job file)`` of a new preview version of ``job`` (its folder made, its job written), once
    everything a render checks before its first frame holds (a preview of a missing range writes nothing)."""
    preview = job.absolute().replace(**_preview_changes(job, frames))
    _check(preview, _versions_root(job, PREVIEWS))
    return _write_version(preview, _versions_root(job, PREVIEWS))[:3]


def _check(job, root: str) -> None:
    """What the render of ``job`` (as a version under ``root``) checks before its first frame, writing nothing."""
    from .render import check_render

    check_render(_in_version(job, os.path.join(root, "v000-check")))


def plan_variants(job, axes: dict[str, list], preview: bool = False, frames=None) -> list[dict]:
    """The variants of ``job`` for the grid of ``axes``: every job checked first, then a version folder and a job
    file each. Returns ``[{version, values, job, job_file, output}]`` (``job`` a :class:`~recast.core.job.Job`)."""
    grid = variant_grid(axes)
    base = job.absolute()
    if preview:
        base = base.replace(**_preview_changes(job, frames))
    jobs = []
    for values in grid:  # all checked before any folder is made: a bad value writes nothing
        changes = {AXES[axis]: value for axis, value in values.items()}
        try:
            jobs.append(base.replace(**changes))
        except JobError as exc:
            raise JobError(f"variant {json.dumps(values, ensure_ascii=False)}: {exc}") from None
    _check(jobs[0], _versions_root(job, VARIANTS))  # the plate, range and preset they share
    out = []
    for values, vjob in zip(grid, jobs):
        version, made, job_file, folder = _write_version(vjob, _versions_root(job, VARIANTS))
        out.append({"version": version, "values": values, "job": made, "job_file": job_file,
                    "output": made.output_sequence.pattern, "folder": folder})
    return out


def _write_version(job, root: str):
    version, folder = claim_version(root)
    made = _in_version(job, folder)
    job_file = os.path.join(folder, "job.json")
    made.save(job_file)
    return version, made, job_file, folder


def render_variants(variants: list[dict], loader_for, reporter, cancel, frames=None, previews: bool = False) -> list:
    """Render prepared variants (:func:`plan_variants`) in turn, each announced by a ``variant`` event, through the
    stack ``loader_for(job)`` keeps (one load for all); returns their render results."""
    from .render import render

    results = []
    for k, v in enumerate(variants, 1):
        job = v["job"]
        reporter.emit("variant", version=v["version"], index=k, count=len(variants), values=v["values"],
                      job=v["job_file"], output=v["output"])
        results.append(render(job, frames, reporter, cancel, loader=loader_for(job), context=True,
                              previews=previews))
    return results


def render_variants_request(request: dict, loader_for, reporter, cancel) -> None:
    """A server's ``{"kind": "variants", "variants": [{version, values, job, root, job_file}], "previews"}`` request:
    the variants the client planned (their jobs, as their job files hold them), rendered in turn through the
    server's kept stack."""
    from ..errors import RecastError
    from ..job import Job

    items = request.get("variants")
    if not isinstance(items, list) or not items or len(items) > MAX_VARIANTS:
        raise RecastError(f"bad request to the Recast server: 'variants' must list 1 to {MAX_VARIANTS} variants")
    variants = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("job"), dict) or not isinstance(
                item.get("root"), str) or not isinstance(item.get("job_file"), str):
            raise RecastError("bad request to the Recast server: each variant needs its 'job', 'root' and 'job_file'")
        job = Job.from_dict(item["job"], item["root"])
        variants.append({"version": item.get("version"), "values": item.get("values"), "job": job,
                         "job_file": item["job_file"], "output": job.output_sequence.pattern})
    from ..io.frames import FrameRange

    frames = FrameRange.parse(request["frames"]) if isinstance(request.get("frames"), str) else None
    render_variants(variants, loader_for, reporter, cancel, frames=frames, previews=bool(request.get("previews")))
