"""Render stage 3b, the memory preflight: will this render fit, before anything loads?

The backend estimates its peak (:meth:`.Backend.estimate_memory`: weights counted from the
safetensors headers, activations of one context window and of one decode batch scaled from its
networks' configs); this compares it with what the device has free — ``MemAvailable`` for the
CPU, the CUDA allocator's free memory for a GPU. An estimate is rough (activation memory depends
on attention kernels and allocator behaviour), so a render is refused only when it needs more
than :data:`REFUSE_FACTOR` times what is available — a resolution typo, not a tight fit — and
warned about when it needs more than is available. A model size that upscales the plate more
than 4× (long side) is warned about too: it costs memory and time and adds no detail. A job with several ``devices``
is checked per device (each worker holds the models, one window and its share of a cache hook's state; the render
process the decode and the shot); a cache hook's state (kept per window and guidance branch) is a part of its own.
"""

from __future__ import annotations

import os

from ..errors import ResourceError

__all__ = ["REFUSE_FACTOR", "WORKER_PARTS", "available_memory", "preflight"]

REFUSE_FACTOR = 3.0
_GB = 2**30


def available_memory(device) -> tuple[int | None, str]:
    """Bytes free on ``device`` (a torch.device) and its name; None where it cannot be told."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"GPU {torch.cuda.get_device_name(device)}"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "this machine's memory"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "this machine's memory"
    except (ValueError, OSError, AttributeError):
        return None, "this machine's memory"


def preflight(plan, backend, reporter, warnings: list) -> dict | None:
    """Refuse (ResourceError) or warn before a render that cannot fit; returns the estimate (bytes by part)."""
    job, (width, height) = plan.job, plan.size
    dw = plan.canvas
    upscale = max(width, height) / max(dw.width, dw.height, 1)
    if upscale > 4.0:
        _warn(reporter, warnings, f"the model runs at {width}x{height}, {upscale:.1f}x the plate's "
                                  f"{dw.width}x{dw.height}: that costs memory and time and adds no detail; "
                                  f"a 'resolution' of {max(64, 8 * round(max(dw.width, dw.height) / 8))} matches it")
    estimate = backend.estimate_memory(plan.size, min(job.window.length, len(plan.frames)), len(plan.frames))
    if not estimate:
        return None
    for device, parts in _by_device(job, backend, estimate):
        _check(plan, parts, device, reporter, warnings)
    return estimate


#: the parts of an estimate that a device worker holds when the job names several ``devices`` (the rest stays with the
#: render process on the job's ``device``)
WORKER_PARTS = ("models", "one window", "cache")


def _by_device(job, backend, estimate):
    """(torch device, the parts it holds) for each device of the render: one device holds it all; with ``devices``
    each worker holds the models, one window and its share of the cache hook's state (windows are dealt out in turn),
    and the render process the decode and the shot."""
    devices = getattr(job, "devices", None)
    if not devices:
        return [(backend.device, estimate)]
    import torch

    from ..models.loader import select_device

    worker = {k: v for k, v in estimate.items() if k in WORKER_PARTS}
    if "cache" in worker:
        worker["cache"] = -(-worker["cache"] // len(devices))
    out = [(backend.device, {k: v for k, v in estimate.items() if k not in WORKER_PARTS})]
    for name in devices:
        out.append((select_device(name, job.precision)[0] if name != "cpu" else torch.device("cpu"), worker))
    return out


def _check(plan, estimate, device, reporter, warnings):
    job, (width, height) = plan.job, plan.size
    need = sum(estimate.values())
    free, where = available_memory(device)
    if free is None or need <= free:
        return
    parts = ", ".join(f"{k} {v / _GB:.1f}" for k, v in estimate.items())
    several = f" ({device} of the job's devices)" if getattr(job, "devices", None) else ""
    fixes = [f"lower 'resolution' (now {job.resolution}: the model runs at {width}x{height})",
             f"shorten 'window.length' (now {job.window.length})", "use 'memory': 'low'"]
    if estimate.get("cache", 0) > need / 4:
        fixes.append("drop the 'cache' hook")
    text = (f"this render needs about {need / _GB:.1f} GB{several} ({parts}) but {where} has {free / _GB:.1f} GB "
            f"free; {', '.join(fixes[:-1])} or {fixes[-1]}")
    if need > REFUSE_FACTOR * free:
        raise ResourceError(text)
    _warn(reporter, warnings, text + "; it may fail or swap")


def _warn(reporter, warnings, message):
    warnings.append(message)
    reporter.warning(message)
