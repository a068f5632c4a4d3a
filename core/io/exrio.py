"""EXR frames in and out (OpenImageIO), keeping everything a compositor expects back.

Reading gives float32 H×W×C pixels (top row first) in the file's channel order, plus the
header: channel names (look channels up by name — OpenImageIO orders EXR channels by layer),
per-channel pixel types, data and display windows, tiling, compression and every header
attribute. Writing puts all of that back, and is atomic: a frame is written to a hidden
temporary name in the same folder and renamed into place, so a killed process never
leaves a truncated EXR under a frame's name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .atomic import atomic_path, write_failure
from ..errors import ImageError, OutputError

__all__ = ["Window", "Header", "Frame", "read_header", "read_frame", "check_complete", "write_frame", "write_image"]

# OpenImageIO bookkeeping that describes the file as read, not the image: never copied.
_NOT_COPIED = {"oiio:subimages"}


@dataclass(frozen=True)
class Window:
    """A pixel rectangle: origin (x, y) and size, as EXR data/display windows are."""

    x: int
    y: int
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}"


@dataclass(frozen=True)
class Header:
    """Everything about a frame but its pixels."""

    path: str  #: the file read
    channels: tuple[str, ...]  #: channel names in file order, e.g. ('A', 'B', 'G', 'R', 'depth.Z')
    formats: tuple[str, ...]  #: pixel type per channel: 'half', 'float' or 'uint'
    data_window: Window  #: where pixels are stored
    display_window: Window  #: the image's frame (format)
    tile: tuple[int, int] | None = None  #: (width, height) of tiles, None for scanlines
    attributes: tuple[tuple[str, str, Any], ...] = ()  #: (name, OIIO type, value) of every header attribute

    def attribute(self, name: str, default=None):
        for key, _, value in self.attributes:
            if key == name:
                return value
        return default

    @property
    def compression(self) -> str:
        return self.attribute("compression", "zip")

    @property
    def colorspace(self) -> str | None:
        return self.attribute("oiio:ColorSpace")

    def index(self, name: str) -> int:
        try:
            return self.channels.index(name)
        except ValueError:
            raise ImageError(f"{self.path}: no channel {name!r}; channels are {', '.join(self.channels)}") from None

    def rgb_layer(self) -> str:
        """The prefix of the channels the edit works on: '' for plain R, G, B; for a multilayer
        EXR without them (Blender's render layers), the one layer with R, G and B, or the
        'Combined' pass among several (e.g. 'ViewLayer.Combined.'). ImageError when none is."""
        if all(c in self.channels for c in ("R", "G", "B")):
            return ""
        layers = [c[:-1] for c in self.channels
                  if c.endswith(".R") and c[:-1] + "G" in self.channels and c[:-1] + "B" in self.channels]
        combined = [p for p in layers if p.endswith("Combined.")]
        if len(layers) == 1 or len(combined) == 1:
            return layers[0] if len(layers) == 1 else combined[0]
        raise ImageError(f"{self.path}: needs R, G and B channels to edit (or one layer with them); channels are "
                         f"{', '.join(self.channels)}")

    def rgb_indices(self) -> tuple[int, int, int]:
        """Indices of R, G, B (the edit's channels, see :meth:`rgb_layer`)."""
        layer = self.rgb_layer()
        return self.index(layer + "R"), self.index(layer + "G"), self.index(layer + "B")

    def same_layout(self, other: "Header") -> bool:
        return (self.data_window == other.data_window and self.display_window == other.display_window
                and self.channels == other.channels)


@dataclass
class Frame:
    """Pixels plus header."""

    header: Header
    pixels: np.ndarray  #: float32, H×W×C (H, W of the data window), channels in header order

    def channel(self, name: str) -> np.ndarray:
        return self.pixels[:, :, self.header.index(name)]

    def rgb(self) -> np.ndarray:
        return self.pixels[:, :, list(self.header.rgb_indices())]

    def with_rgb(self, rgb: np.ndarray) -> "Frame":
        """A copy whose R, G, B are replaced; every other channel untouched."""
        pixels = self.pixels.copy()
        pixels[:, :, list(self.header.rgb_indices())] = rgb
        return Frame(self.header, pixels)


def _open(path: str):
    import OpenImageIO as oiio

    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image file")
    if not os.path.exists(path):
        raise ImageError(f"{path}: does not exist")
    if os.path.getsize(path) == 0:
        raise ImageError(f"{path}: is an empty (0-byte) file; re-render or replace this frame")
    inp = oiio.ImageInput.open(path)
    if inp is None:
        reason = oiio.geterror().strip().splitlines()
        raise ImageError(f"{path}: cannot be read as an image ({reason[0] if reason else 'unknown format'})")
    return inp


def _header(path: str, inp) -> Header:
    spec = inp.spec()
    if spec.deep:
        inp.close()
        raise ImageError(f"{path}: is a deep image; flatten it (e.g. Nuke DeepToImage) before Recast")
    nsub = spec.get_int_attribute("oiio:subimages", 1)
    if nsub > 1:
        inp.close()
        raise ImageError(f"{path}: is a multi-part EXR ({nsub} parts); write the plate as a single part")
    nch = spec.nchannels
    formats = tuple(str(t) for t in spec.channelformats) if len(spec.channelformats) else (str(spec.format),) * nch
    attrs = tuple((a.name, str(a.type), a.value) for a in spec.extra_attribs if a.name not in _NOT_COPIED)
    tile = (spec.tile_width, spec.tile_height) if spec.tile_width else None
    return Header(
        path=path,
        channels=tuple(spec.channelnames),
        formats=formats,
        data_window=Window(spec.x, spec.y, spec.width, spec.height),
        display_window=Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height),
        tile=tile,
        attributes=attrs,
    )


def read_header(path: str) -> Header:
    """The header of one image file, without reading its pixels."""
    inp = _open(path)
    try:
        return _header(path, inp)
    finally:
        inp.close()


def check_complete(path: str) -> None:
    """ImageError when the file's last scanlines (or last tile) cannot be decoded: the common damage of a
    frame whose writer was killed or whose copy was cut short. Cheap: one chunk is read, not the image."""
    inp = _open(path)
    try:
        _header(path, inp)  # deep and multi-part files are refused as when reading
        spec = inp.spec()
        last_y = spec.y + spec.height - 1
        if spec.tile_width:
            tx = spec.x + (spec.width - 1) // spec.tile_width * spec.tile_width
            ty = spec.y + (spec.height - 1) // spec.tile_height * spec.tile_height
            data = inp.read_tile(tx, ty, 0, "float")
        else:
            data = inp.read_scanline(last_y, 0, "float")
        if data is None or inp.has_error:
            raise ImageError(f"{path}: is truncated or damaged: its last "
                             f"{'tile' if spec.tile_width else 'scanlines'} cannot be read "
                             f"({_text(inp.geterror()) or 'read failed'}); re-render or replace this frame")
    finally:
        inp.close()


def _text(message) -> str:
    """OIIO's error text, first line, safe whatever bytes a damaged file put in it."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return (message or "").strip().splitlines()[0] if (message or "").strip() else ""


def read_frame(path: str) -> Frame:
    """Header and pixels of one image file (float32, H×W×C, top row first)."""
    inp = _open(path)
    try:
        header = _header(path, inp)
        pixels = inp.read_image(0, 0, 0, len(header.channels), "float")
        if pixels is None or inp.has_error:
            raise ImageError(f"{path}: pixels cannot be read, the file is damaged or truncated "
                             f"({inp.geterror().strip() or 'read failed'})")
    finally:
        inp.close()
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return Frame(header, pixels)


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
    """Write ``frame`` as an EXR at ``path`` atomically, with its header and ``extra_attributes``."""
    import OpenImageIO as oiio

    header = frame.header
    pixels = np.ascontiguousarray(frame.pixels, dtype=np.float32)
    expect = (header.data_window.height, header.data_window.width, len(header.channels))
    if pixels.shape != expect:
        raise ImageError(f"{path}: pixels of shape {pixels.shape} do not match the header {expect}")
    out = oiio.ImageOutput.create("exr")
    with atomic_path(path) as tmp:
        if not out.open(tmp, _spec_for(header, extra_attributes or {})):
            reason = out.geterror().strip() or oiio.geterror().strip()
            raise OutputError(f"{path}: cannot be written ({write_failure(os.path.dirname(tmp), reason)})")
        ok = out.write_image(pixels)
        ok = out.close() and ok
        if not ok:
            reason = out.geterror().strip() or "unknown error"
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
            raise OutputError(f"{path}: cannot be written ({out.geterror().strip()})")
