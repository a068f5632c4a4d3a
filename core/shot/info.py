"""``recast info``: what a frame sequence holds, and what is wrong with it."""

from __future__ import annotations

from ..errors import RecastError, SequenceError
from ..io.exrio import check_complete, read_header
from ..io.frames import FrameRange, SequencePattern, compress_frames

__all__ = ["describe", "format_info"]


def describe(pattern: str, frames: str | None = None) -> dict:
    """Frames found and missing, resolution, windows, channels, colour space, damaged files."""
    seq = SequencePattern.parse(pattern)
    found = seq.scan()
    if not found and frames is None:
        raise SequenceError(f"no frames match {pattern!r}; check the path and the '####' padding")
    span = FrameRange.parse(frames) if frames else FrameRange(min(found), max(found))
    present = [f for f in span if f in found]
    info = {
        "pattern": pattern,
        "range": str(span),
        "found": len(present),
        "frames": compress_frames(present),
        "missing": [f for f in span if f not in found],
        "problems": [],
    }
    first = None
    for f in present:
        try:
            h = read_header(found[f])
            check_complete(found[f])
        except RecastError as exc:
            info["problems"].append({"frame": f, "message": str(exc)})
            continue
        if first is None:
            first = h
            info.update({
                "resolution": [h.display_window.width, h.display_window.height],
                "display_window": str(h.display_window),
                "data_window": str(h.data_window),
                "channels": [{"name": c, "type": t} for c, t in zip(h.channels, h.formats)],
                "colorspace": h.colorspace,
                "compression": h.compression,
            })
            warning = _colour_warning(h.colorspace)
            if warning:
                info.setdefault("warnings", []).append(warning)
        elif not h.same_layout(first):
            info["problems"].append({"frame": f, "message": (
                f"{h.path}: layout {h.display_window} / data {h.data_window} / {len(h.channels)} channels "
                f"differs from frame {present[0]}'s")})
    return info


def _colour_warning(tag):
    from ..io.colour import colorspace_warning

    return colorspace_warning(None, tag)


def format_info(info: dict) -> str:
    lines = [f"{info['pattern']}",
             f"  frames      {info['frames'] or 'none'} ({info['found']} of range {info['range']})"]
    if info["missing"]:
        lines.append(f"  missing     {compress_frames(info['missing'])} ({len(info['missing'])} frames)")
    if "resolution" in info:
        w, h = info["resolution"]
        lines += [
            f"  resolution  {w}x{h}  (display {info['display_window']}, data {info['data_window']})",
            f"  channels    {', '.join(c['name'] + ':' + c['type'] for c in info['channels'])}",
            f"  colorspace  {info['colorspace'] or 'untagged (read as Linear Rec.709)'}",
            f"  compression {info['compression']}",
        ]
    for w in info.get("warnings", []):
        lines.append(f"  warning     {w}")
    for p in info["problems"]:
        lines.append(f"  problem     {p['message']}")
    return "\n".join(lines)
