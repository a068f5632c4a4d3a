"""``recast info``: what a frame sequence holds, and what is wrong with it.

Takes a pattern (``plate/sh010.####.exr``), a frame's own path (``plate/sh010.1001.exr``: its
sequence is found) or a folder (its sequences are listed, as ``lsseq`` does). Headers only by
default (fast); ``pixels=True`` decodes every part of every frame and names the damaged ones.
"""

from __future__ import annotations

import os
import re

from ..errors import RecastError, SequenceError
from ..io.exrio import check_complete, read_headers, read_parts
from ..io.frames import FrameRange, SequencePattern, compress_frames, gaps

__all__ = ["describe", "format_info", "sequences_in", "sequence_of"]

#: the most missing frames ``recast info`` lists (its JSON names each one)
MAX_LISTED = 1_000_000

_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<num>-?\d+)(?P<tail>\.[A-Za-z0-9]+)$")


def sequence_of(path: str) -> str:
    """The pattern of the sequence a frame's own path belongs to ('sh010.1001.exr' → 'sh010.####.exr')."""
    folder, name = os.path.split(path)
    m = _NUMBERED.match(name)
    if not m:
        raise SequenceError(f"{path!r} has no frame number before its extension; give a pattern such as "
                            "'plate/sh010.####.exr'")
    digits = m["num"].lstrip("-")
    token = "#" * len(digits) if digits.startswith("0") or len(digits) >= 4 else "#"
    return os.path.join(folder, f"{m['head']}{token}{m['tail']}")


def sequences_in(folder: str) -> list[dict]:
    """The numbered sequences in ``folder``: pattern, frames, count (like ``lsseq``)."""
    groups: dict[tuple, list[int]] = {}
    for name in sorted(os.listdir(folder)):
        m = _NUMBERED.match(name)
        if m and os.path.isfile(os.path.join(folder, name)):
            pad = len(m["num"].lstrip("-")) if m["num"].lstrip("-").startswith("0") else 1
            groups.setdefault((m["head"], m["tail"], pad), []).append(int(m["num"]))
    out = []
    for (head, tail, pad), frames in sorted(groups.items()):
        if pad == 1 and all(len(str(abs(f))) >= 4 for f in frames):
            pad = 4
        out.append({"pattern": os.path.join(folder, f"{head}{'#' * pad}{tail}"), "frames": compress_frames(frames),
                    "count": len(frames)})
    return out


def _config_name(tag):
    if not tag:
        return None
    from ..io.colour import resolve_colorspace

    try:
        return resolve_colorspace(tag)  # OIIO 3 stores interop ids ('lin_ap1_scene'): show the config's name
    except RecastError:
        return tag


def describe(pattern: str, frames: str | None = None, pixels: bool = False) -> dict:
    """Frames found and missing, windows (and whether they move), parts, views, channels, colour space,
    damaged files; a folder gives ``{'folder', 'sequences'}``."""
    if os.path.isdir(pattern):
        return {"folder": pattern, "sequences": sequences_in(pattern), "missing": [], "problems": []}
    if os.path.isfile(pattern) and not _has_token(pattern):
        pattern = sequence_of(pattern)
    elif not os.path.exists(pattern) and not _has_token(pattern) and any(c in pattern for c in "*?["):
        raise SequenceError(f"{pattern!r} is a glob; give the sequence as a pattern with '####' where the frame "
                            "number goes, e.g. 'plate/sh010.####.exr', one frame's path or its folder")
    elif not os.path.exists(pattern) and not _has_token(pattern):  # a typo'd folder or frame: say so, not 'no token'
        raise SequenceError(f"{pattern!r} does not exist; give a folder, a frame's path or a pattern such as "
                            "'plate/sh010.####.exr'")
    folder = os.path.dirname(pattern)
    if folder and not os.path.isdir(folder):
        raise SequenceError(f"no frames match {pattern!r}: its folder {folder!r} does not exist")
    seq = SequencePattern.parse(pattern)
    found = seq.scan()
    if not found and frames is None:
        raise SequenceError(f"no frames match {pattern!r}; check the path and the '####' padding")
    span = FrameRange.parse(frames) if frames else FrameRange(min(found), max(found))
    present = sorted(f for f in found if f in span)  # linear in the files found, not in the range
    missing = gaps(span, present)
    if len(missing) > MAX_LISTED:  # a typo'd range (or two frames far apart): one line, not gigabytes of numbers
        raise SequenceError(f"{pattern}: {len(missing)} of the {len(span)} frames of range {span} are missing "
                            f"({compress_frames(missing)}); more than {MAX_LISTED} missing frames are not listed: "
                            f"give a smaller range with --frames")
    info = {"pattern": pattern, "range": str(span), "found": len(present), "frames": compress_frames(present),
            "missing": list(missing), "problems": []}
    first, windows = None, set()
    for f in present:
        try:
            headers = read_headers(found[f])
            if pixels:
                read_parts(found[f])  # every part decoded: the last-chunk check is part of it
            else:
                check_complete(found[f])
        except RecastError as exc:
            info["problems"].append({"frame": f, "message": str(exc)})
            continue
        windows.add(tuple(str(h.data_window) for h in headers))
        if first is None:
            first = headers
            h = headers[0]
            info.update({
                "resolution": [h.display_window.width, h.display_window.height],
                "display_window": str(h.display_window),
                "data_window": str(h.data_window),
                "channels": [{"name": c, "type": t} for c, t in zip(h.channels, h.formats)],
                "colorspace": _config_name(h.colorspace),
                "compression": h.compression,
                "parts": [{"name": x.name, "view": x.view, "data_window": str(x.data_window),
                           "channels": [{"name": c, "type": t} for c, t in zip(x.channels, x.formats)]}
                          for x in headers] if len(headers) > 1 else [],
                "views": list(next((x.views for x in headers if x.views), ()))
                or list(dict.fromkeys(x.view for x in headers if x.view)),  # a view's parts name it once
            })
            warning = _colour_warning(h.colorspace)
            if warning:
                info.setdefault("warnings", []).append(warning)
        elif [x.channels for x in headers] != [x.channels for x in first] or \
                headers[0].display_window != first[0].display_window:
            info["problems"].append({"frame": f, "message": (
                f"{found[f]}: display window {headers[0].display_window} / parts or channels differ from frame "
                f"{present[0]}'s")})
    info["moving_data_window"] = len(windows) > 1
    return info


def _has_token(path: str) -> bool:
    try:
        SequencePattern.parse(path)
        return True
    except RecastError:
        return False


def _colour_warning(tag):
    from ..io.colour import colorspace_warning

    return colorspace_warning(None, tag)


def format_info(info: dict) -> str:
    if "folder" in info:
        lines = [f"{info['folder']}: {len(info['sequences'])} sequence(s)"]
        lines += [f"  {s['pattern']}  {s['frames']} ({s['count']} frames)" for s in info["sequences"]]
        return "\n".join(lines)
    lines = [f"{info['pattern']}",
             f"  frames      {info['frames'] or 'none'} ({info['found']} of range {info['range']})"]
    if info["missing"]:
        lines.append(f"  missing     {compress_frames(info['missing'])} ({len(info['missing'])} frames)")
    if "resolution" in info:
        w, h = info["resolution"]
        moving = "; moves from frame to frame" if info.get("moving_data_window") else ""
        lines += [
            f"  resolution  {w}x{h}  (display {info['display_window']}, data {info['data_window']}{moving})",
            f"  channels    {', '.join(c['name'] + ':' + c['type'] for c in info['channels'])}",
            f"  colorspace  {info['colorspace'] or 'untagged (read as Linear Rec.709)'}",
            f"  compression {info['compression']}",
        ]
        for i, p in enumerate(info.get("parts", [])):
            view = f" view {p['view']}" if p["view"] else ""
            lines.append(f"  part {i:<6} {p['name'] or '-'}{view}: {', '.join(c['name'] for c in p['channels'])} "
                         f"(data {p['data_window']})")
        if info.get("views"):
            lines.append(f"  views       {', '.join(info['views'])} (default {info['views'][0]})")
    for w in info.get("warnings", []):
        lines.append(f"  warning     {w}")
    for p in info["problems"]:
        lines.append(f"  problem     {p['message']}")
    return "\n".join(lines)
