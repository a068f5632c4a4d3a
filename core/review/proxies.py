"""Frame proxies: every frame of every version through OCIO to an 8-bit JPEG the browser shows.

Colour (the one plate → display mapping, :func:`recast.core.shot.display.display_frame`): the plate's colour
space (the job's, else the file's tag, else Linear Rec.709) → display through ``view`` — the OCIO config's
default display/view unless ``--view`` names another (or 'clip' / 'filmic', :mod:`recast.core.io.model_view`) —
clipped to [0, 1], then 8 bits. Frames are resized to the proxy's size first, in scene-linear (the display
transform — ACES 2.0's output transform costs about 1.6 µs a pixel on one CPU core — then runs on the small
picture). Results are in the plate's colour space, so they go the same way. A matte
becomes a grey PNG (its channel, placed on the display window, 0 outside its data window).

Proxies are at most :data:`PROXY_SIZE` pixels on their long side (aspect kept) and written by a pool of
threads (OpenImageIO and numpy release the GIL while they work).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["PROXY_SIZE", "default_view", "check_view", "proxy_size", "write_proxies"]

PROXY_SIZE = 1024  #: a proxy's long side at most, in pixels


def default_view() -> str:
    """The OCIO config's default 'display/view'."""
    from ..io.colour import _config

    cfg = _config()
    display = cfg.getDefaultDisplayName()
    return f"{display}/{cfg.getDefaultViewName(display)}"


def check_view(view: str) -> None:
    """ColourError unless ``view`` is 'clip', 'filmic' or a display/view of the config (checked before writing)."""
    from ..errors import ColourError
    from ..io.colour import _config

    if view in ("clip", "filmic"):
        return
    display, _, name = view.partition("/")
    cfg = _config()
    if display.strip() not in cfg.getDisplayNames() or name.strip() not in cfg.getViewNames(display.strip()):
        raise ColourError(f"--view {view!r} is not a display/view of the OCIO config ({cfg.configname()}); give "
                          f"e.g. {default_view()!r}, or 'clip' or 'filmic'")


def proxy_size(path: str, long_side: int = PROXY_SIZE) -> tuple[int, int]:
    """``(width, height)`` of the proxies of a shot whose frame at ``path`` has its display window."""
    from ..io.exrio import read_header

    dw = read_header(path).display_window
    scale = min(1.0, long_side / max(dw.width, dw.height))
    return max(1, round(dw.width * scale)), max(1, round(dw.height * scale))


def _colour(path: str, out: str, size, colorspace, view) -> None:
    from ..io.exrio import write_image
    from ..shot.display import display_frame

    write_image(out, display_frame(path, colorspace, view=view, size=size))


def _matte(path: str, out: str, size, channel) -> None:
    from ..io.exrio import read_frame, write_image
    from ..io.layout import place
    from ..io.resolution import resize

    frame = read_frame(path)
    names = frame.header.channels
    name = channel or ("A" if "A" in names else names[0])
    values = place(frame.channel(name), frame.header.data_window, frame.header.display_window)
    grey = np.repeat(np.clip(np.nan_to_num(values), 0.0, 1.0)[:, :, None], 3, axis=2).astype(np.float32)
    if grey.shape[:2] != (size[1], size[0]):
        grey = resize(grey, *size)
    write_image(out, grey)


def write_proxies(shot, folder: str, size: tuple[int, int], view: str, reporter=None, cancel=None,
                  threads: int | None = None) -> dict[str, dict[int, str]]:
    """Write the proxies of every sequence of ``shot`` under ``folder/frames/<key>/<frame>.jpg``; returns
    ``{key: {frame: path relative to folder}}``."""
    jobs, made = [], {}
    sequences = [shot.plate, *shot.versions] + ([shot.matte] if shot.matte is not None else [])
    for v in sequences:
        os.makedirs(os.path.join(folder, "frames", v.key), exist_ok=True)
        ext = "png" if v.kind == "matte" else "jpg"
        made[v.key] = {}
        for f, src in v.frames.items():
            rel = f"frames/{v.key}/{f}.{ext}"
            made[v.key][f] = rel
            jobs.append((v.kind, src, os.path.join(folder, rel)))

    def one(item):
        if cancel is not None:
            cancel.check()
        kind, src, out = item
        if kind == "matte":
            _matte(src, out, size, shot.matte_channel)
        else:
            _colour(src, out, size, shot.colorspace, view)

    workers = threads or min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for k, _ in enumerate(pool.map(one, jobs), 1):
            if reporter is not None:
                reporter.progress("proxies", k, len(jobs))
    return made
