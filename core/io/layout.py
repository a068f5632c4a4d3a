"""What a frame holds, apart from where it came from: windows, channels and their types, header
attributes, and the pixels (float32, H×W×C of the data window, top row first, file channel order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ImageError

__all__ = ["Window", "Header", "Frame", "union", "place"]


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
    part: int = 0  #: index of this part in a multi-part file
    parts: int = 1  #: how many parts the file has

    def attribute(self, name: str, default=None):
        for key, _, value in self.attributes:
            if key == name:
                return value
        return default

    @property
    def name(self) -> str | None:
        """The part's name (multi-part files), else None."""
        return self.attribute("oiio:subimagename") or self.attribute("name")

    @property
    def view(self) -> str | None:
        """The part's view (multi-part stereo files: 'left', 'right'), else None."""
        return self.attribute("view")

    @property
    def views(self) -> tuple[str, ...]:
        """The views of a multi-view file (``multiView``: the first is the default, hero view)."""
        value = self.attribute("multiView")
        return tuple(value) if isinstance(value, (tuple, list)) else ((value,) if value else ())

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


def union(windows) -> Window:
    """The smallest window holding every one of ``windows``."""
    windows = list(windows)
    x0, y0 = min(w.x for w in windows), min(w.y for w in windows)
    x1, y1 = max(w.x + w.width for w in windows), max(w.y + w.height for w in windows)
    return Window(x0, y0, x1 - x0, y1 - y0)


def place(values: np.ndarray, src: Window, dst: Window, fill: float = 0.0) -> np.ndarray:
    """``values`` (H×W or H×W×C over window ``src``) placed onto window ``dst`` by pixel coordinates;
    ``fill`` elsewhere (what lies outside a data window: 0 for colour and mattes, as in Nuke)."""
    if src == dst:
        return values
    out = np.full((dst.height, dst.width) + values.shape[2:], fill, np.float32)
    x0, y0 = max(src.x, dst.x), max(src.y, dst.y)
    x1, y1 = min(src.x + src.width, dst.x + dst.width), min(src.y + src.height, dst.y + dst.height)
    if x1 > x0 and y1 > y0:
        out[y0 - dst.y:y1 - dst.y, x0 - dst.x:x1 - dst.x] = values[y0 - src.y:y1 - src.y, x0 - src.x:x1 - src.x]
    return out
