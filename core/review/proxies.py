"""Frame proxies: every frame of every version through OCIO to an 8-bit JPEG the browser shows.

Colour (the one plate → display mapping of :func:`recast.core.shot.display.display_rgb`): the plate's colour
space (the job's, else the file's tag, else Linear Rec.709) → display through ``view`` — the OCIO config's
default display/view unless ``--view`` names another (or 'clip' / 'filmic', :mod:`recast.core.io.model_view`) —
clipped to [0, 1], then 8 bits. Frames are resized to the proxy's size first, in scene-linear, so the display
transform runs on the small picture. An OCIO display/view is baked once per review into a shaper + 3D LUT
(:mod:`.display_lut`: ACES 2.0's output transform costs 0.9 s a 1024x540 proxy exactly, 0.05 s baked, within a
few 8-bit code values); ``exact=True`` runs the exact transform on every proxy instead. Results are in the
plate's colour space, so they go the same way. A matte becomes a grey PNG (its channel, placed on the display
window, 0 outside its data window).

Each EXR is opened and read once: a matte carried in the plate's own channel (``input.mask_channel``) is made
from the same read as the plate's proxy. Proxies are at most :data:`PROXY_SIZE` pixels on their long side
(aspect kept) and written by a pool of threads (OpenImageIO and numpy release the GIL while they work).
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


def _sized(values: np.ndarray, size) -> np.ndarray:
    from ..io.resolution import resize

    # one OIIO thread: the proxies' own pool keeps the cores busy (OIIO's pool inside it only contends)
    return values if values.shape[:2] == (size[1], size[0]) else resize(values, *size, nthreads=1)


def _colour(frame, layer, size, colorspace, view, lookup) -> np.ndarray:
    """The display proxy of ``layer`` in ``frame`` (read already)."""
    from ..io.colour import plate_colorspace
    from ..io.layout import place
    from ..shot.display import display_rgb

    scene = _sized(place(layer.rgb(frame), frame.header.data_window, frame.header.display_window), size)
    space = plate_colorspace(colorspace, frame.header.colorspace)
    return lookup.apply(scene, space) if lookup is not None else display_rgb(scene, space, view)


def _matte(frame, size, channel) -> np.ndarray:
    """The grey proxy of the matte ``channel`` (alpha, else the only channel) in ``frame`` (read already)."""
    from ..io.layout import place

    names = frame.header.channels
    name = channel or ("A" if "A" in names else names[0])
    values = place(frame.channel(name), frame.header.data_window, frame.header.display_window)
    grey = np.repeat(np.clip(np.nan_to_num(values), 0.0, 1.0)[:, :, None], 3, axis=2).astype(np.float32)
    return _sized(grey, size)


def _one(src: str, outs: list, size, shot, view, lookup) -> None:
    """Every proxy of the EXR at ``src`` (``outs``: ``(kind, path)``), from one open and one read of it."""
    from ..io.exrio import read_frame_of, write_image
    from ..shot.layers import edit_layers

    kinds = {k for k, _ in outs}
    if kinds == {"matte"}:  # a matte sequence of its own: its first part
        headers, frame = read_frame_of(src, lambda hs: 0)
        layer = None
    else:
        holder = {}

        def colour_part(headers):
            holder["layer"] = edit_layers(headers)[0]
            return holder["layer"].part

        headers, frame = read_frame_of(src, colour_part)
        layer = holder["layer"]
    for kind, out in outs:
        if kind == "matte":
            write_image(out, _matte(frame, size, shot.matte_channel))
        else:
            write_image(out, _colour(frame, layer, size, shot.colorspace, view, lookup))


def write_proxies(shot, folder: str, size: tuple[int, int], view: str, reporter=None, cancel=None,
                  threads: int | None = None, lookup=None) -> dict[str, dict[int, str]]:
    """Write the proxies of every sequence of ``shot`` under ``folder/frames/<key>/<frame>.jpg`` (a matte's as
    ``.png``) through ``lookup`` (a baked view, :mod:`.display_lut`) or, where None, the exact ``view``; returns
    ``{key: {frame: path relative to folder}}``."""
    by_file, made = {}, {}
    sequences = [shot.plate, *shot.versions] + ([shot.matte] if shot.matte is not None else [])
    for v in sequences:
        os.makedirs(os.path.join(folder, "frames", v.key), exist_ok=True)
        ext = "png" if v.kind == "matte" else "jpg"
        made[v.key] = {}
        for f, src in v.frames.items():
            rel = f"frames/{v.key}/{f}.{ext}"
            made[v.key][f] = rel
            by_file.setdefault(os.path.realpath(src), []).append(("matte" if v.kind == "matte" else "colour",
                                                                 os.path.join(folder, rel)))
    jobs = list(by_file.items())
    total = sum(len(outs) for _, outs in jobs)

    def one(item):
        if cancel is not None:
            cancel.check()
        src, outs = item
        _one(src, outs, size, shot, view, lookup)
        return len(outs)

    workers = threads or min(8, os.cpu_count() or 2)
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for count in pool.map(one, jobs):
            done += count
            if reporter is not None:
                reporter.progress("proxies", done, total)
    return made
