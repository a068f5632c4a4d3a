"""EXR frames in and out (OpenImageIO), keeping everything a compositor expects back.

Reading gives float32 H×W×C pixels (top row first) in the file's channel order, plus the
header: channel names (look channels up by name — OpenImageIO orders EXR channels by layer),
per-channel pixel types, data and display windows, tiling, compression and every header
attribute. Writing puts all of that back, and is atomic: a frame is written to a hidden
temporary name in the same folder and renamed into place, so a killed process never
leaves a truncated EXR under a frame's name.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ..errors import ImageError, OutputError
from .atomic import atomic_path, write_failure
from .layout import Frame, Header, Window

__all__ = ["Window", "Header", "Frame", "read_header", "read_headers", "read_frame", "read_frame_of", "read_parts",
           "check_complete", "write_frame", "write_parts", "write_image", "oiio_error"]

# OpenImageIO bookkeeping that describes the file as read, not the image: never copied.
_NOT_COPIED = {"oiio:subimages"}


def oiio_error(source=None) -> str:
    """The first line of OpenImageIO's error text (of ``source``, else the global one), never raising:
    a damaged file can put bytes that are not UTF-8 into it, which the binding cannot decode."""
    import OpenImageIO as oiio

    try:
        text = source.geterror() if source is not None else oiio.geterror()
    except UnicodeDecodeError as exc:
        raw = exc.object if isinstance(exc.object, (bytes, bytearray)) else b""
        text = bytes(raw).decode("utf-8", "replace")
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


_EXR = (".exr", ".sxr", ".mxr")


@contextlib.contextmanager
def _c_stderr_quiet(path: str):
    """Around reading a non-EXR file: the C libraries under OpenImageIO (libpng, libjpeg) print their own
    complaints about a damaged file straight to file descriptor 2, which would put a second line beside
    Recast's one-line error. OIIO reports the same text through ``geterror``, so that output is dropped.
    Written by hand (no library offers it); EXR reads, the hot path, are left alone."""
    if path.lower().endswith(_EXR):
        yield
        return
    import sys

    try:
        sys.stderr.flush()  # what Python holds goes out first, to the real stderr
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _open(path: str):
    import OpenImageIO as oiio

    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image file")
    if not os.path.exists(path):
        raise ImageError(f"{path}: does not exist")
    if os.path.getsize(path) == 0:
        raise ImageError(f"{path}: is an empty (0-byte) file; re-render or replace this frame")
    with _c_stderr_quiet(path):
        inp = oiio.ImageInput.open(path)
    if inp is None:
        raise ImageError(f"{path}: cannot be read as an image ({oiio_error() or 'unknown format'})")
    return inp


def _attributes(spec) -> tuple:
    """Every header attribute worth copying; a value whose bytes are not text (a damaged file) is skipped."""
    out = []
    for a in spec.extra_attribs:
        try:
            name, typ, value = a.name, str(a.type), a.value
        except (UnicodeDecodeError, ValueError, TypeError):
            continue
        if name not in _NOT_COPIED:
            out.append((name, typ, value))
    return tuple(out)


def _header(path: str, inp, part: int = 0) -> Header:
    """The header of part ``part`` (the input is left positioned on it)."""
    nparts = max(1, inp.spec().get_int_attribute("oiio:subimages", 1))
    if part and not inp.seek_subimage(part, 0):
        raise ImageError(f"{path}: part {part} of {nparts} cannot be read ({oiio_error(inp) or 'damaged'})")
    spec = inp.spec()
    if spec.deep:
        raise ImageError(f"{path}: part {part} is a deep image; flatten it (e.g. Nuke DeepToImage) before Recast")
    try:
        names = tuple(spec.channelnames)
    except UnicodeDecodeError:
        raise ImageError(f"{path}: its channel names are not readable text; the file is damaged") from None
    nch = spec.nchannels
    formats = tuple(str(t) for t in spec.channelformats) if len(spec.channelformats) else (str(spec.format),) * nch
    tile = (spec.tile_width, spec.tile_height) if spec.tile_width else None
    return Header(path=path, channels=names, formats=formats,
                  data_window=Window(spec.x, spec.y, spec.width, spec.height),
                  display_window=Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height),
                  tile=tile, attributes=_attributes(spec), part=part, parts=nparts)


def read_headers(path: str) -> list[Header]:
    """The header of every part of one image file, without reading pixels."""
    inp = _open(path)
    try:
        first = _header(path, inp)
        return [first] + [_header(path, inp, i) for i in range(1, first.parts)]
    finally:
        inp.close()


def read_header(path: str, part: int = 0) -> Header:
    """The header of one part (the first by default) of an image file, without reading its pixels."""
    inp = _open(path)
    try:
        return _header(path, inp, part)
    finally:
        inp.close()


def check_complete(path: str) -> None:
    """ImageError when a part's last scanlines (or last tile) cannot be decoded: the common damage of a
    frame whose writer was killed or whose copy was cut short. Cheap: one chunk a part is read."""
    inp = _open(path)
    try:
        for part in range(_header(path, inp).parts):
            _header(path, inp, part)
            spec = inp.spec()
            if spec.tile_width:
                tx = spec.x + (spec.width - 1) // spec.tile_width * spec.tile_width
                ty = spec.y + (spec.height - 1) // spec.tile_height * spec.tile_height
                data = inp.read_tile(tx, ty, 0, "float")
            else:
                data = inp.read_scanline(spec.y + spec.height - 1, 0, "float")
            if data is None or inp.has_error:
                what = "tile" if spec.tile_width else "scanlines"
                raise ImageError(f"{path}: is truncated or damaged: the last {what} of part {part} cannot be read "
                                 f"({oiio_error(inp) or 'read failed'}); re-render or replace this frame")
    finally:
        inp.close()


def _pixels(path: str, inp, header: Header) -> np.ndarray:
    with _c_stderr_quiet(path):
        pixels = inp.read_image(header.part, 0, 0, len(header.channels), "float")
    if pixels is None or inp.has_error:
        raise ImageError(f"{path}: pixels cannot be read, the file is damaged or truncated "
                         f"({oiio_error(inp) or 'read failed'})")
    pixels = np.asarray(pixels, dtype=np.float32)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def read_frame(path: str, part: int = 0) -> Frame:
    """Header and pixels of one part (the first by default) of an image file (float32, H×W×C, top row first)."""
    inp = _open(path)
    try:
        header = _header(path, inp, part)
        return Frame(header, _pixels(path, inp, header))
    finally:
        inp.close()


def read_frame_of(path: str, choose) -> tuple[list[Header], Frame]:
    """Every part's header and the pixels of the part ``choose(headers)`` names, from one open of the file (what
    :func:`read_headers` then :func:`read_frame` give, without opening it twice)."""
    inp = _open(path)
    try:
        first = _header(path, inp)
        headers = [first] + [_header(path, inp, i) for i in range(1, first.parts)]
        header = headers[choose(headers)]
        return headers, Frame(header, _pixels(path, inp, header))  # read_image names the part: no seek needed
    finally:
        inp.close()


def read_parts(path: str) -> list[Frame]:
    """Every part of an image file, headers and pixels."""
    inp = _open(path)
    try:
        first = _header(path, inp)
        frames = [Frame(first, _pixels(path, inp, first))]
        for i in range(1, first.parts):
            header = _header(path, inp, i)
            frames.append(Frame(header, _pixels(path, inp, header)))
        return frames
    finally:
        inp.close()


def _spec_for(header: Header, extra: dict[str, str]):
    import OpenImageIO as oiio

    nch = len(header.channels)
    # OIIO keeps the spec's base format when every per-channel format agrees: an all-half plate
    # must be written with a half base, or it comes back as float
    base = oiio.TypeDesc(header.formats[0]) if len(set(header.formats)) == 1 else oiio.FLOAT
    spec = oiio.ImageSpec(header.data_window.width, header.data_window.height, nch, base)
    spec.channelnames = header.channels
    spec.channelformats = tuple(oiio.TypeDesc(f) for f in header.formats)
    spec.x, spec.y = header.data_window.x, header.data_window.y
    spec.full_x, spec.full_y = header.display_window.x, header.display_window.y
    spec.full_width, spec.full_height = header.display_window.width, header.display_window.height
    if "A" in header.channels:
        spec.alpha_channel = header.channels.index("A")
    if "Z" in header.channels:
        spec.z_channel = header.channels.index("Z")
    if header.tile:
        spec.tile_width, spec.tile_height = header.tile
    for name, typ, value in header.attributes:
        if typ == "string":
            spec.attribute(name, value)
        else:
            spec.attribute(name, oiio.TypeDesc(typ), value)
    for name, value in extra.items():
        spec.attribute(name, str(value))
    return spec


def write_frame(path: str, frame: Frame, extra_attributes: dict[str, str] | None = None) -> None:
    """Write ``frame`` as a single-part EXR at ``path`` atomically, with its header and ``extra_attributes``."""
    write_parts(path, [frame], extra_attributes)


def write_parts(path: str, frames: list[Frame], extra_attributes: dict[str, str] | None = None) -> None:
    """Write ``frames`` as the parts of one EXR (multi-part when more than one; names, views, windows,
    channels and types of each kept), atomically; ``extra_attributes`` go into every part."""
    import OpenImageIO as oiio

    specs = []
    for frame in frames:
        header = frame.header
        expect = (header.data_window.height, header.data_window.width, len(header.channels))
        if frame.pixels.shape != expect:
            raise ImageError(f"{path}: pixels of shape {frame.pixels.shape} do not match the header {expect}")
        specs.append(_spec_for(header, extra_attributes or {}))
    out = oiio.ImageOutput.create("exr")
    with atomic_path(path) as tmp:
        if not (out.open(tmp, specs) if len(specs) > 1 else out.open(tmp, specs[0])):
            reason = oiio_error(out) or oiio_error()
            raise OutputError(f"{path}: cannot be written ({write_failure(os.path.dirname(tmp), reason)})")
        ok = True
        for i, frame in enumerate(frames):
            if i and not out.open(tmp, specs[i], "AppendSubimage"):
                ok = False
                break
            ok = out.write_image(np.ascontiguousarray(frame.pixels, dtype=np.float32)) and ok
        ok = out.close() and ok
        if not ok:
            reason = oiio_error(out) or "unknown error"
            raise OutputError(f"{path}: writing failed ({write_failure(os.path.dirname(tmp), reason)})")


def write_image(path: str, rgb: np.ndarray) -> None:
    """Write a display image (PNG/JPEG by extension) from float RGB in [0, 1], atomically."""
    import OpenImageIO as oiio

    rgb = np.ascontiguousarray(np.clip(rgb, 0.0, 1.0), dtype=np.float32)
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    out = oiio.ImageOutput.create(ext)
    if out is None:
        raise OutputError(f"{path}: no writer for '.{ext}' files")
    spec = oiio.ImageSpec(rgb.shape[1], rgb.shape[0], rgb.shape[2], oiio.UINT8)
    with atomic_path(path) as tmp:
        if not (out.open(tmp, spec) and out.write_image(rgb) and out.close()):
            raise OutputError(f"{path}: cannot be written ({oiio_error(out)})")
