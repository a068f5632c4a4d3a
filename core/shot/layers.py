"""What the render edits in a plate file: one or more **layers**, each a part of the file and the
channels in it that hold colour — R, G, B (plain, a view's ``right.R``…, or a multilayer EXR's
one RGB layer / 'Combined' pass) or luminance alone (Y).

* **Parts** (multi-part EXR): ``input.part`` names the part to edit; by default the first part
  with colour of the default view. Every other part is written back untouched.
* **Views** (stereo): a multi-part file names each part's ``view``; a single-part file lists its
  views in ``multiView`` (the first is the default, hero view) and prefixes the other views'
  channels (``right.R``). ``input.views`` names the views to edit (default: the hero view alone);
  each is its own layer, rendered with the same prompt, seed and per-frame noise from its own depth.
* **Luminance** (Y alone): shown to the model as grey, written back as the luminance of the result
  (weights from the file's ``chromaticities``, Rec.709 without them). Subsampled chroma (RY, BY) is
  refused: it would have to be resampled and re-subsampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ImageError

__all__ = ["Layer", "edit_layers", "luminance_weights", "find_channel"]


@dataclass(frozen=True)
class Layer:
    """One colour layer of the plate that the render edits."""

    part: int  #: index of the part in the file
    prefix: str  #: channel prefix: '' for R, G, B; 'right.' for a view; 'ViewLayer.Combined.' for a pass
    view: str | None = None  #: the view it belongs to (stereo), if any
    luminance: bool = False  #: Y alone

    @property
    def names(self) -> tuple[str, ...]:
        return (self.prefix + "Y",) if self.luminance else tuple(self.prefix + c for c in "RGB")

    @property
    def key(self) -> str:
        """Stable text naming the layer (caches and saved state are kept per layer)."""
        return f"part{self.part}:{self.prefix}{'Y' if self.luminance else 'RGB'}"

    def describe(self) -> str:
        where = f"part {self.part}" + (f" view {self.view}" if self.view else "")
        return f"{where} channels {', '.join(self.names)}"

    def channels(self, frame) -> np.ndarray:
        """The layer's own channels in ``frame`` (its part): H×W×3 (R, G, B) or H×W×1 (Y)."""
        return frame.pixels[:, :, [frame.header.index(n) for n in self.names]]

    def rgb(self, frame) -> np.ndarray:
        """The layer's colour in ``frame`` as H×W×3 (luminance repeated as grey)."""
        px = self.channels(frame)
        return np.repeat(px, 3, axis=2) if self.luminance else px

    def from_rgb(self, frame, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` as this layer's channels: itself, or its luminance for a Y layer."""
        return (rgb @ luminance_weights(frame.header))[:, :, None].astype(np.float32) if self.luminance else rgb

    def with_channels(self, frame, values: np.ndarray):
        """A copy of ``frame`` whose layer channels hold ``values`` (see :meth:`channels`)."""
        from ..io.layout import Frame

        pixels = frame.pixels.copy()
        pixels[:, :, [frame.header.index(n) for n in self.names]] = values
        return Frame(frame.header, pixels)

    def with_rgb(self, frame, rgb: np.ndarray):
        """A copy of ``frame`` whose layer channels hold ``rgb`` (its luminance for a Y layer)."""
        return self.with_channels(frame, self.from_rgb(frame, rgb))


def luminance_weights(header) -> np.ndarray:
    """Y = w·RGB for the file's primaries (OpenEXR's ``chromaticities``), Rec.709's without them."""
    chroma = header.attribute("chromaticities")
    if not chroma or len(chroma) != 8:
        return np.array([0.2126, 0.7152, 0.0722], np.float32)
    rx, ry, gx, gy, bx, by, wx, wy = (float(v) for v in chroma)
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in ((rx, ry), (gx, gy), (bx, by))]).T  # columns R, G, B
    white = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
    scale = np.linalg.solve(xyz, white)
    return (xyz[1] * scale).astype(np.float32)


def _colour_prefixes(header) -> list[tuple[str, bool]]:
    """(prefix, luminance) of every colour set in a part: plain RGB, 'x.'-prefixed RGB, Y."""
    ch = set(header.channels)
    out = [(c[:-1], False) for c in header.channels if c.endswith("R") and (c == "R" or c.endswith(".R"))
           and c[:-1] + "G" in ch and c[:-1] + "B" in ch]
    out += [(c[:-1], True) for c in header.channels if (c == "Y" or c.endswith(".Y"))
            and not any(p == c[:-1] for p, _ in out)]
    return out


def _part_colour(header, view: str | None, views: tuple) -> tuple[str, bool] | None:
    """The colour set of ``view`` in a part (the default view's unprefixed channels, another view's
    'view.'-prefixed ones), or of the part itself when it has no views."""
    sets = _colour_prefixes(header)
    if views and view is not None:
        wanted = [f"{view}."] + ([""] if view == views[0] else [])
        for prefix in wanted:
            for p, lum in sets:
                if p == prefix:
                    return p, lum
        return None
    if not sets:
        return None
    if any(not lum for _, lum in sets):  # the part's one colour layer, as the header decides it everywhere
        return header.rgb_layer(), False
    luminance = [s for s in sets if s[0] == ""] or sets  # Y alone: the plain one, else the only one
    if len(luminance) == 1:
        return luminance[0]
    raise ImageError(f"{header.path}: has several luminance layers ({', '.join(p + 'Y' for p, _ in sets)}) and no "
                     "plain Y; name the part to edit, or write one layer")


def edit_layers(headers, part: str | None = None, views=None) -> list[Layer]:
    """The layers a job edits in a file whose parts have ``headers``: ``part`` (a part name) and ``views``
    (view names) as the job's ``input.part`` and ``input.views`` say. ImageError when there are none."""
    path = headers[0].path
    for h in headers:
        if any(c == "RY" or c.endswith(".RY") or c == "BY" or c.endswith(".BY") for c in h.channels):
            raise ImageError(f"{path}: part {h.part} stores subsampled chroma (RY, BY); Recast edits RGB or "
                             "luminance-only plates: convert it to RGB first")
    file_views = next((h.views for h in headers if h.views), ())
    part_views = [h.view for h in headers if h.view]
    known_views = tuple(dict.fromkeys(list(file_views) + part_views))
    default_view = known_views[0] if known_views else None
    if part is not None:
        named = [h for h in headers if h.name == part]
        if not named:
            names = ", ".join(repr(h.name) for h in headers if h.name) or "none"
            raise ImageError(f"{path}: has no part named {part!r}; its parts are {names}")
        candidates = named
    else:
        candidates = list(headers)
    wanted = list(views) if views else [candidates[0].view if part is not None else default_view]
    unknown = [v for v in wanted if v is not None and v not in known_views]
    if unknown:
        raise ImageError(f"{path}: has no view {unknown[0]!r}; its views are "
                         f"{', '.join(known_views) if known_views else 'none (it is not a stereo file)'}")
    layers = []
    for view in wanted:
        found = None
        for h in candidates:
            if h.view is not None and view is not None and h.view != view:
                continue  # a part of another view
            colour = _part_colour(h, view if h.view is None else None, file_views if h.view is None else ())
            if colour is not None:
                found = Layer(h.part, colour[0], view, colour[1])
                break
        if found is None:
            # colour is R, G and B together, or Y alone: a lone G (or R, B) is not colour to edit
            what = f"view {view!r}" if view else "colour (R, G and B together, or Y)"
            raise ImageError(f"{path}: no part {('named ' + repr(part) + ' ') if part else ''}holds {what} to edit; "
                             f"parts: " + "; ".join(f"{h.name or h.part}: {', '.join(h.channels)}" for h in headers))
        layers.append(found)
    return layers


def find_channel(headers, layer: Layer, name: str) -> tuple[int, str]:
    """(part, channel) of ``name`` for ``layer`` (a depth AOV, a mask channel): the layer's own part first
    (its view's 'right.Z' before a plain 'Z'), then a part of the same view, then a part of no view."""
    own = headers[layer.part]
    for channel in (layer.prefix + name, name):
        if channel in own.channels:
            return layer.part, channel
    for h in headers:
        if h.part != layer.part and name in h.channels and (h.view == layer.view or h.view is None):
            return h.part, name
    listing = "; ".join(f"part {h.part}{' (' + h.name + ')' if h.name else ''}: {', '.join(h.channels)}"
                        for h in headers)
    raise ImageError(f"{own.path}: no channel {name!r} for {layer.describe()}; {listing}")
