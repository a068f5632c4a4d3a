"""A fake of Foundry's ``nuke`` Python module, for testing Recast's Nuke plugin without Nuke.

It follows the documented API (learn.foundry.com/nuke/developers/<version>/pythondevguide)
for what the plugin uses: node creation (``nuke.nodes.X``, ``createNode``), knobs and their
types, Group ``begin``/``end``, inputs, ``execute``, ``ProgressTask``, ``executeInMainThread``,
menus, ``message``. It is strict where Nuke is, so a plugin bug fails here:

* ``node['misspelt']`` raises ``NameError``; knobs take only their own value types
  (``TypeError``), enumerations only their items (``ValueError``);
* a Write has its EXR knobs (``datatype``, ``compression``, ``metadata``) only once its
  file type is EXR, as in Nuke; executing a disabled or file-less Write raises ``RuntimeError``;
* node, knob, ``ProgressTask`` and ``message`` calls off the main thread raise
  ``RuntimeError`` (Nuke crashes or corrupts state); ``executeInMainThread`` *from* the main
  thread raises too (in Nuke it hangs). Queued calls run when the test pumps the event loop
  with :func:`fake_process_events` — the test's stand-in for Nuke's main loop;
* ``menu`` and ``message`` are GUI-only: with ``GUI = False`` (``nuke -t``) ``menu`` raises.

Images are real: a Read reads its EXR frames with OpenImageIO and ``execute`` on a Write
writes real EXR files (channels, data window and display window kept, one datatype for
every channel as Nuke writes them), so a whole render runs end to end. Test-only helpers
start with ``fake_``.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time

__all__ = []  # the plugin uses attribute access, as with the real module

GUI = True
env = {"gui": True, "NukeVersionMajor": 16, "NukeVersionMinor": 0, "NukeVersionString": "16.0v2"}

# knob flags (values as in Nuke's headers; only their identity matters here)
INVISIBLE = 0x0000000000000400
STARTLINE = 0x0000000000001000
ENDLINE = 0x0000000000002000
NO_ANIMATION = 0x0000000000000100
DISABLED = 0x0000000000000080


# --- threads -----------------------------------------------------------------------------

_main_calls: "queue.Queue" = queue.Queue()


def _main_only(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"nuke.{what} called off Nuke's main thread; use nuke.executeInMainThread")


def executeInMainThread(call, args=(), kwargs=None):
    """Queue ``call(*args, **kwargs)`` on the main thread. From the main thread itself Nuke hangs."""
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("nuke.executeInMainThread called from the main thread: this hangs Nuke")
    if not isinstance(args, tuple):
        raise TypeError("executeInMainThread: args must be a tuple")
    _main_calls.put((call, args, dict(kwargs or {})))


def fake_process_events(until=None, timeout: float = 60.0) -> bool:
    """Run queued main-thread calls until ``until()`` is true (or the queue is empty when no
    ``until`` is given); False on timeout."""
    _main_only("fake_process_events")
    end = time.monotonic() + timeout
    while True:
        if until is not None and until():
            return True
        try:
            call, args, kwargs = _main_calls.get(timeout=0.05)
        except queue.Empty:
            if until is None:
                return True
            if time.monotonic() > end:
                return False
            continue
        call(*args, **kwargs)
        if time.monotonic() > end:
            return bool(until()) if until else True


# --- knobs -------------------------------------------------------------------------------

class Knob:
    """Base of every knob: name, label, tooltip, flags, enabled/visible, value."""

    _default = ""

    def __init__(self, name, label=None, *args):
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError(f"bad knob name {name!r}")
        self._name, self._label = name, (name if label is None else label)
        self._value = self._default
        self._tooltip, self._flags, self._enabled, self._visible = "", 0, True, True
        self._node = None

    def _live(self, what):
        _main_only(f"Knob.{what}")
        if self._node is not None and self._node._deleted:
            raise ValueError("A PythonObject is not attached to a node")

    def name(self):
        return self._name

    def label(self):
        return self._label

    def setLabel(self, label):
        self._label = label

    def tooltip(self):
        return self._tooltip

    def setTooltip(self, text):
        if not isinstance(text, str):
            raise TypeError("setTooltip expects a string")
        self._tooltip = text

    def setFlag(self, flag):
        self._flags |= flag

    def clearFlag(self, flag):
        self._flags &= ~flag

    def getFlag(self, flag):
        return bool(self._flags & flag)

    def setEnabled(self, enabled):
        self._enabled = bool(enabled)

    def enabled(self):
        return self._enabled

    def setVisible(self, visible):
        self._visible = bool(visible)

    def visible(self):
        return self._visible

    def node(self):
        return self._node

    def value(self):
        self._live("value")
        return self._value

    def getValue(self):
        return self.value()

    def setValue(self, value):
        self._live("setValue")
        self._value = self._coerce(value)
        if self._node is not None:
            self._node._knob_changed(self)
        return True

    def _coerce(self, value):
        return value

    def __repr__(self):
        return f"<{type(self).__name__} {self._name}>"


class String_Knob(Knob):
    def __init__(self, name, label=None, text=""):
        super().__init__(name, label)
        self._value = self._coerce(text)

    def _coerce(self, value):
        if not isinstance(value, str):
            raise TypeError(f"{self._name}: expected a string, got {type(value).__name__}")
        return value

    def evaluate(self):
        return self.value()

    def getText(self):
        """The text as typed, never evaluated."""
        self._live("getText")
        return self._value


_TCL_VARS: dict = {}  #: TCL variables a test sets (Nuke's 'set x 5' in the script)


def fake_tcl_vars() -> dict:
    """(test helper) the TCL variables evaluated string knobs see."""
    return _TCL_VARS


def _tcl(text: str) -> str:
    """What Nuke's TCL makes of an evaluated string knob: [command] runs ('frame', 'value root.name' and the
    like; an unknown command gives an empty result and an error in the terminal), $var is substituted ('' when
    unset), and \\[ and \\$ stay literal."""
    def command(m):
        words = m.group(1).split()
        if words[:1] == ["frame"]:
            return str(_root["frame"]._value) if "frame" in _root._knobs else "1"
        if words[:2] == ["value", "root.name"]:
            return _root["name"]._value
        return ""
    text = re.sub(r"(?<!\\)\[([^\]]*)\]", command, text)
    return re.sub(r"(?<!\\)\$(\w+)", lambda m: str(_TCL_VARS.get(m.group(1), "")), text)


class EvalString_Knob(String_Knob):
    """value() evaluates TCL as Nuke does; getText() is the raw text."""

    def value(self):
        return _tcl(super().value())


class Multiline_Eval_String_Knob(EvalString_Knob):
    pass


class File_Knob(String_Knob):
    def __init__(self, name, label=None):
        super().__init__(name, label, "")

    def fromUserText(self, text):
        self.setValue(text.split(" ")[0] if re.search(r" \d+-\d+$", text) else text)


class Text_Knob(String_Knob):
    pass


class PythonKnob(String_Knob):
    """A node's Python callback (e.g. ``knobChanged``): code run with thisNode/thisKnob set."""


class Tab_Knob(Knob):
    def setValue(self, value):
        raise TypeError("a Tab_Knob has no value")


class Array_Knob(Knob):
    _default = 0
    _type = float

    def __init__(self, name, label=None, *args):
        super().__init__(name, label)
        self._range = None

    def setRange(self, lo, hi):
        self._range = (lo, hi)

    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self._type is int and
                                                                              isinstance(value, float)):
            raise TypeError(f"{self._name}: expected {self._type.__name__}, got {type(value).__name__}")
        return self._type(value)


class Int_Knob(Array_Knob):
    _type = int

    def _coerce(self, value):
        value = super()._coerce(value)
        if not -2**31 <= value < 2**31:
            raise OverflowError(f"{self._name}: {value} does not fit a C int")
        return value


class Double_Knob(Array_Knob):
    _default = 0.0


class XY_Knob(Array_Knob):
    """A 2-D position (``value(0)`` x, ``value(1)`` y; ``x()``, ``y()``): in Nuke's pixel coordinates, origin at the
    bottom left of the format, as the viewer's handle places it. ``value()`` without an index is x, as Nuke's
    Array_Knob gives its first value; ``setValue([x, y])`` or ``setValue(v, index)``."""

    def __init__(self, name, label=None, *args):
        super().__init__(name, label)
        self._value = [0.0, 0.0]

    def value(self, index=0):
        self._live("value")
        return self._value[index]

    def getValue(self):
        return list(self._value)

    def x(self):
        return self.value(0)

    def y(self):
        return self.value(1)

    def setValue(self, value, index=None):
        self._live("setValue")
        if index is None:
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise TypeError(f"{self._name}: expected [x, y] or a value and its index")
            self._value = [self._coerce(v) for v in value]
        else:
            if index not in (0, 1):
                raise IndexError(f"{self._name}: index {index} out of range")
            self._value[index] = self._coerce(value)
        if self._node is not None:
            self._node._knob_changed(self)
        return True


class ColorChip_Knob(Int_Knob):
    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
            raise TypeError(f"{self._name}: expected an unsigned 0xRRGGBBAA int")
        return value


class Channel_Knob(Knob):
    """One channel, named as Nuke names it: ``rgba.red`` … ``rgba.alpha``, ``layer.channel``, or ``none``."""

    def __init__(self, name, label=None, value="rgba.alpha"):
        super().__init__(name, label)
        self._value = value

    def _coerce(self, value):
        if not isinstance(value, str) or not (value == "none" or re.match(r"^\w+\.\w+$", value)):
            raise ValueError(f"{self._name}: {value!r} is not a channel ('layer.channel', e.g. rgba.alpha)")
        return value


#: Nuke's rgba channels ↔ the EXR channel names Nuke reads and writes for them
_NUKE_RGBA = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}


def _exr_channel(nuke_name: str) -> str:
    return _NUKE_RGBA.get(nuke_name, nuke_name)


class Boolean_Knob(Knob):
    _default = False

    def __init__(self, name, label=None, value=False):
        super().__init__(name, label)
        self._value = bool(value)

    def _coerce(self, value):
        if not isinstance(value, (bool, int)):
            raise TypeError(f"{self._name}: expected a bool")
        return bool(value)


class Enumeration_Knob(Knob):
    def __init__(self, name, label, items):
        super().__init__(name, label)
        if not items or not all(isinstance(i, str) for i in items):
            raise TypeError("Enumeration_Knob needs a list of strings")
        self._items = list(items)
        self._value = self._items[0]

    def values(self):
        return list(self._items)

    def setValues(self, items):
        self._items = list(items)

    def _coerce(self, value):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(self._items):
            return self._items[value]
        if value not in self._items:
            raise ValueError(f"{self._name}: {value!r} is not one of {self._items}")
        return value


class Script_Knob(Knob):
    """A button; ``execute()`` runs its command (a callable here for built-ins, code for PyScript)."""

    def __init__(self, name, label=None, command=""):
        super().__init__(name, label)
        self._value = command

    def execute(self):
        self._live("execute")
        if callable(self._value):
            return self._value()
        return _run_python(self._value, self._node, self)


class PyScript_Knob(Script_Knob):
    pass


def _run_python(code, node, knob):
    global _this_node, _this_knob
    saved = (_this_node, _this_knob)
    _this_node, _this_knob = node, knob
    try:
        exec(compile(code, f"<{node.fullName() if node else ''}.{knob.name()}>", "exec"),
             {"nuke": __import__("nuke"), "__name__": "__main__"})
    finally:
        _this_node, _this_knob = saved


# --- nodes -------------------------------------------------------------------------------

_WRITE_TYPES = ["", "exr", "jpeg", "png", "tiff", "dpx"]
_EXR_COMPRESSION = ["none", "Zip (1 scanline)", "Zip (16 scanlines)", "PIZ Wavelet (32 scanlines)", "RLE",
                    "B44", "B44A", "DWAA", "DWAB"]
_CHANNEL_SETS = {"rgb": ("R", "G", "B"), "rgba": ("R", "G", "B", "A"), "alpha": ("A",), "all": None}


def _builtin_knobs(cls):
    common = [String_Knob("name", "name"), EvalString_Knob("label", "label"), ColorChip_Knob("tile_color"),
              Boolean_Knob("disable", "disable"), Knob("inputChange")]
    extra = {
        "Root": [File_Knob("name", "name"), Int_Knob("first_frame"), Int_Knob("last_frame"),
                 Enumeration_Knob("colorManagement", "color management", ["Nuke", "OCIO"]),
                 Enumeration_Knob("workingSpaceLUT", "working space",
                                  ["linear", "scene_linear", "ACEScg", "ACES - ACEScg", "ACES2065-1"])],
        "Group": [PythonKnob("knobChanged"), PythonKnob("onCreate"), PythonKnob("updateUI")],
        "Input": [Int_Knob("number")],
        "Output": [],
        "Dot": [],
        "Switch": [Double_Knob("which")],
        "ContactSheet": [Int_Knob("width"), Int_Knob("height"), Int_Knob("rows"), Int_Knob("columns"),
                         Enumeration_Knob("roworder", "row order", ["BottomTop", "TopBottom"]),
                         Enumeration_Knob("colorder", "column order", ["LeftRight", "RightLeft"]),
                         Double_Knob("gap"), Boolean_Knob("center", "center")],
        "Copy": [Channel_Knob("from0", "Copy channel"), Channel_Knob("to0", "to")],
        "Read": [File_Knob("file"), Int_Knob("first"), Int_Knob("last"), Int_Knob("origfirst"),
                 Int_Knob("origlast"),
                 Enumeration_Knob("on_error", "missing frames", ["error", "black", "checkerboard", "nearest frame"]),
                 Script_Knob("reload", "reload")],
        "Write": [File_Knob("file"), Enumeration_Knob("file_type", "file type", _WRITE_TYPES),
                  Enumeration_Knob("channels", "channels", list(_CHANNEL_SETS)),
                  Boolean_Knob("create_directories", "create directories"), Boolean_Knob("use_limit"),
                  Int_Knob("first"), Int_Knob("last")],
    }
    if cls not in extra:
        raise RuntimeError(f"{cls}: unknown command (this fake knows {sorted(extra)})")
    knobs = [k for k in common if not (cls == "Root" and k.name() == "name")] + extra[cls]
    return knobs


class Node:
    """A node: knobs by name, inputs, and (for Read/Write) real images."""

    def __init__(self, cls, parent):
        self._class, self._parent, self._deleted = cls, parent, False
        self._knobs: dict[str, Knob] = {}
        self._inputs: list = []
        self._selected = False
        self._in_callback = False
        self._cache: dict = {}
        for k in _builtin_knobs(cls):
            self._add(k)
        if cls == "Read":
            self._knobs["reload"]._value = self._cache.clear
        if parent is not None:
            parent._children.append(self)
            base = {"Input": "Input", "Output": "Output"}.get(cls, cls)
            n = 1
            while parent.node(f"{base}{n}") is not None:
                n += 1
            self._knobs["name"]._value = f"{base}{n}"
            if cls == "Input":
                self._knobs["number"]._value = sum(1 for c in parent._children if c.Class() == "Input") - 1
        if cls == "Write":
            self._knobs["channels"]._value = "rgb"

    def _add(self, knob):
        knob._node = self
        self._knobs[knob.name()] = knob

    def _live(self, what):
        _main_only(f"Node.{what}")
        if self._deleted:
            raise ValueError("A PythonObject is not attached to a node")

    # names, knobs
    def Class(self):
        self._live("Class")
        return self._class

    def name(self):
        self._live("name")
        return self._knobs["name"]._value if "name" in self._knobs else "root"

    def fullName(self):
        self._live("fullName")
        if self._parent is None or self._parent is _root:
            return self.name()
        return f"{self._parent.fullName()}.{self.name()}"

    def setName(self, name, uncollide=True, updateExpressions=False):
        self._live("setName")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError(f"bad node name {name!r}")
        base, n = re.match(r"^(.*?)(\d*)$", name).groups()
        n = int(n or 1)
        while uncollide and any(c is not self and c.name() == name for c in self._parent._children):
            n += 1
            name = f"{base}{n}"
        self._knobs["name"]._value = name

    def knob(self, name):
        self._live("knob")
        return self._knobs.get(name)

    def knobs(self):
        self._live("knobs")
        return dict(self._knobs)

    def __getitem__(self, name):
        self._live("__getitem__")
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def addKnob(self, knob):
        self._live("addKnob")
        if not isinstance(knob, Knob):
            raise TypeError("addKnob expects a knob")
        if knob.name() in self._knobs:
            raise ValueError(f"{self.name()} already has a knob named {knob.name()}")
        self._add(knob)
        return True

    def showControlPanel(self, forceFloat=False):
        """Open the node's panel: Nuke runs knobChanged with the 'showPanel' knob."""
        self._live("showControlPanel")
        self._panel_open = True
        if "showPanel" not in self._knobs:
            self._add(Knob("showPanel"))
        self._knob_changed(self._knobs["showPanel"])

    def hideControlPanel(self):
        self._live("hideControlPanel")
        self._panel_open = False

    def shown(self):
        return getattr(self, "_panel_open", False)

    def removeKnob(self, knob):
        self._live("removeKnob")
        del self._knobs[knob.name()]

    def _knob_changed(self, knob, scripted=True):
        if self._class == "Write" and knob.name() in ("file_type", "file"):
            self._exr_knobs()
        # Nuke (before 17) runs a node's knobChanged for a scripted setValue only while its panel is open
        if scripted and not getattr(self, "_panel_open", False) and knob.name() not in ("inputChange", "showPanel"):
            return
        code = self._knobs.get("knobChanged")
        if code is not None and code._value and not self._in_callback:
            self._in_callback = True
            try:
                _run_python(code._value, self, knob)
            finally:
                self._in_callback = False

    def _exr_knobs(self):
        is_exr = self._knobs["file_type"]._value == "exr" or (
            self._knobs["file_type"]._value == "" and self._knobs["file"]._value.lower().endswith(".exr"))
        if is_exr and "datatype" not in self._knobs:
            for k in (Enumeration_Knob("datatype", "datatype", ["16 bit half", "32 bit float"]),
                      Enumeration_Knob("compression", "compression", _EXR_COMPRESSION),
                      Enumeration_Knob("metadata", "metadata", ["no metadata", "default metadata",
                                                                "all metadata except input/*", "all metadata"])):
                self._add(k)
            self._knobs["compression"]._value = "Zip (1 scanline)"
            self._knobs["metadata"]._value = "default metadata"

    # inputs
    def input(self, i):
        self._live("input")
        return self._inputs[i] if i < len(self._inputs) else None

    def setInput(self, i, node):
        self._live("setInput")
        if not 0 <= i < self.maxInputs():
            return False
        while len(self._inputs) <= i:
            self._inputs.append(None)
        self._inputs[i] = node
        if "inputChange" in self._knobs:
            self._knob_changed(self._knobs["inputChange"])  # Nuke's knobChanged with knob 'inputChange'
        return True

    def inputs(self):
        self._live("inputs")
        return max((i + 1 for i, n in enumerate(self._inputs) if n is not None), default=0)

    def maxInputs(self):
        self._live("maxInputs")
        if self._class == "Group":
            return sum(1 for c in self._children if c._class == "Input")
        # Switch and ContactSheet take any number of inputs (Nuke's arrow adds one each time)
        return {"Read": 0, "Root": 0, "Input": 0, "Switch": 10000, "ContactSheet": 10000, "Copy": 2}.get(self._class, 1)

    def dependencies(self):
        return [n for n in self._inputs if n is not None]

    def setSelected(self, selected):
        self._live("setSelected")
        self._selected = bool(selected)

    def isSelected(self):
        self._live("isSelected")
        return self._selected

    # frame range
    def firstFrame(self):
        return self.frameRange()[0]

    def lastFrame(self):
        return self.frameRange()[1]

    def frameRange(self):
        self._live("frameRange")
        if self._class == "Read":
            return self._knobs["first"]._value, self._knobs["last"]._value
        src = self._upstream()
        if src is None:
            return _root._knobs["first_frame"]._value, _root._knobs["last_frame"]._value
        return src.frameRange()

    def _upstream(self):
        if self._class == "Group":
            out = next((c for c in self._children if c._class == "Output"), None)
            return out.input(0) if out is not None else None
        if self._class == "Input":
            group = self._parent
            return group.input(self._knobs["number"]._value) if group is not _root else None
        if self._class == "Switch":
            return self.input(int(self._knobs["which"]._value))
        return self.input(0)

    # images
    def _image(self, frame):
        """This node's image at ``frame`` (an OpenImageIO ImageBuf); RuntimeError as Nuke reports."""
        if self._knobs["disable"]._value and self._class not in ("Write",):
            src = self.input(0)
            return src._image(frame) if src is not None else _black()
        if self._class == "Read":
            return self._read(frame)
        if self._class == "Copy":
            return self._copy(frame)
        if self._class == "ContactSheet":
            return self._contact_sheet(frame)
        src = self._upstream()
        if src is None:
            return _black()
        return src._image(frame)

    def _read(self, frame):
        import OpenImageIO as oiio

        first, last = self.frameRange()
        frame = min(max(frame, first), last)
        if frame not in self._cache:
            path = _frame_path(self._knobs["file"]._value, frame)
            if not path or not os.path.isfile(path):
                if self._knobs["on_error"]._value == "black":
                    return _black()
                raise RuntimeError(f"{self.name()}: Read error: {path} does not exist")
            buf = oiio.ImageBuf(path)
            if buf.has_error:
                raise RuntimeError(f"{self.name()}: Read error: {buf.geterror()}")
            buf.read(force=True)
            self._cache[frame] = buf
        return self._cache[frame]

    def _copy(self, frame):
        """Input B (0) with channel ``to0`` replaced by input A's (1) ``from0``, over B's bounding box (A is 0
        where it has no pixels, as in Nuke)."""
        import numpy as np
        import OpenImageIO as oiio

        b = self.input(0)._image(frame) if self.input(0) is not None else _black()
        a_node = self.input(1)
        src, dst = _exr_channel(self._knobs["from0"]._value), _exr_channel(self._knobs["to0"]._value)
        if a_node is None or "none" in (src, dst):
            return b
        a = a_node._image(frame)
        spec = b.spec()
        roi = oiio.ROI(spec.x, spec.x + spec.width, spec.y, spec.y + spec.height, 0, 1, 0, spec.nchannels)
        pixels = np.array(b.get_pixels(oiio.FLOAT, roi), dtype=np.float32).reshape(spec.height, spec.width, -1)
        names = list(spec.channelnames)
        values = np.zeros((spec.height, spec.width), np.float32)
        a_names = list(a.spec().channelnames)
        if src in a_names:
            k = a_names.index(src)
            got = np.array(a.get_pixels(oiio.FLOAT, oiio.ROI(roi.xbegin, roi.xend, roi.ybegin, roi.yend, 0, 1, k, k + 1)),
                           dtype=np.float32)
            values = got.reshape(spec.height, spec.width)
        if dst in names:
            pixels[:, :, names.index(dst)] = values
        else:
            pixels = np.concatenate([pixels, values[:, :, None]], axis=2)
            names.append(dst)
        out_spec = oiio.ImageSpec(spec.width, spec.height, len(names), oiio.FLOAT)
        out_spec.x, out_spec.y = spec.x, spec.y
        out_spec.full_x, out_spec.full_y, out_spec.full_width, out_spec.full_height = (
            spec.full_x, spec.full_y, spec.full_width, spec.full_height)
        out_spec.channelnames = tuple(names)
        for attr in spec.extra_attribs:
            out_spec.attribute(attr.name, attr.type, attr.value)
        out = oiio.ImageBuf(out_spec)
        out.set_pixels(oiio.ROI(spec.x, spec.x + spec.width, spec.y, spec.y + spec.height, 0, 1, 0, len(names)),
                       np.ascontiguousarray(pixels))
        return out

    def _contact_sheet(self, frame):
        """Inputs tiled into width × height, ``columns`` per row, each input resized to its cell (RGBA); rows
        from the bottom up (Nuke's default) or, with roworder TopBottom, from the top down. No gap."""
        import OpenImageIO as oiio

        k = {name: self._knobs[name]._value for name in ("width", "height", "rows", "columns", "roworder")}
        if min(k["width"], k["height"], k["rows"], k["columns"]) <= 0:
            raise RuntimeError(f"{self.name()}: width, height, rows and columns must be positive")
        cw, ch = k["width"] // k["columns"], k["height"] // k["rows"]
        out = oiio.ImageBuf(oiio.ImageSpec(k["width"], k["height"], 4, oiio.FLOAT))
        for i, src in enumerate(self._inputs[:k["rows"] * k["columns"]]):
            if src is None:
                continue
            row, col = divmod(i, k["columns"])
            if k["roworder"] == "BottomTop":
                row = k["rows"] - 1 - row
            img = oiio.ImageBufAlgo.channels(src._image(frame), ("R", "G", "B", "A"))
            spec = img.spec()
            cell = img if (spec.width, spec.height) == (cw, ch) else oiio.ImageBufAlgo.resize(
                img, roi=oiio.ROI(0, cw, 0, ch, 0, 1, 0, 4))
            oiio.ImageBufAlgo.paste(out, col * cw, row * ch, 0, 0, cell)
        return out

    def format(self):
        """The node's format (display window): a Read's files', else what flows into it."""
        self._live("format")
        if self._class == "Read":
            spec = self._read(self.frameRange()[0]).spec()
            return Format(spec.full_width, spec.full_height, spec.full_x, spec.full_y)
        if self._class == "ContactSheet":
            return Format(self._knobs["width"]._value, self._knobs["height"]._value)
        src = self.input(0) if self._class == "Copy" else self._upstream()
        return src.format() if src is not None else Format(2048, 1556)

    def _write(self, frame):
        import OpenImageIO as oiio

        path = _frame_path(self._knobs["file"]._value, frame)
        if self._knobs["create_directories"]._value:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            except OSError as exc:  # Nuke reports every write failure as a RuntimeError
                raise RuntimeError(f"{self.name()}: Can't write {path}: {exc.strerror}") from None
        elif not os.path.isdir(os.path.dirname(path) or "."):
            raise RuntimeError(f"{self.name()}: Can't write {path}: no such directory")
        src = self.input(0)
        buf = src._image(frame) if src is not None else _black()
        names = _CHANNEL_SETS[self._knobs["channels"]._value]
        if names is not None:
            missing = [c for c in names if c not in buf.spec().channelnames]
            if missing:
                buf = oiio.ImageBufAlgo.channels(buf, tuple(c if c in buf.spec().channelnames else 0.0
                                                            for c in names), newchannelnames=names)
            else:
                buf = oiio.ImageBufAlgo.channels(buf, names)
        half = self._knobs["datatype"]._value == "16 bit half"
        spec = buf.spec()
        if self._knobs["metadata"]._value != "all metadata":  # Nuke writes the input's own metadata only then
            kept = {"compression", "oiio:ColorSpace", "PixelAspectRatio", "screenWindowCenter", "screenWindowWidth"}
            for a in list(spec.extra_attribs):
                if a.name not in kept:
                    spec.erase_attribute(a.name)
        out = oiio.ImageBuf(spec)
        out.copy(buf, oiio.HALF if half else oiio.FLOAT)
        out.specmod().attribute("compression", {"none": "none", "Zip (1 scanline)": "zips"}.get(
            self._knobs["compression"]._value, "zip"))
        out.specmod().attribute("nuke/node_hash", f"{hash((self.fullName(), frame)) & 0xFFFFFFFF:08x}")
        if not out.write(path):
            raise RuntimeError(f"{self.name()}: Can't write {path}: {out.geterror()}")

    # groups
    def begin(self):
        self._live("begin")
        if not hasattr(self, "_children"):
            raise AttributeError(f"'{self._class}' node has no begin()")
        _context.append(self)
        return self

    def end(self):
        self._live("end")
        if not _context or _context[-1] is not self:
            raise RuntimeError("Group.end() without a matching begin()")
        _context.pop()

    def __enter__(self):
        return self.begin()

    def __exit__(self, *exc):
        self.end()

    def nodes(self):
        self._live("nodes")
        return [c for c in self._children if not c._deleted]

    def node(self, name):
        return next((c for c in getattr(self, "_children", []) if not c._deleted and
                     c._knobs.get("name") is not None and c._knobs["name"]._value == name), None)

    def __repr__(self):
        return f"<{self._class} {self._knobs['name']._value if 'name' in self._knobs else 'root'}>"


class Group(Node):
    def __init__(self, cls, parent):
        self._children = []
        super().__init__(cls, parent)


class Format:
    """A node's format: its display window's size (``width()``, ``height()``) and origin."""

    def __init__(self, width, height, x=0, y=0):
        self._size, self._origin = (int(width), int(height)), (int(x), int(y))

    def width(self):
        return self._size[0]

    def height(self):
        return self._size[1]

    def x(self):
        return self._origin[0]

    def y(self):
        return self._origin[1]


_frame = [1]


def frame(f=None):
    """The current frame (what the viewer shows); ``frame(f)`` moves to it, as Nuke's ``nuke.frame(f)``."""
    _main_only("frame")
    if f is not None:
        _frame[0] = int(f)
    return _frame[0]


def _black():
    import OpenImageIO as oiio

    return oiio.ImageBuf(oiio.ImageSpec(64, 40, 4, oiio.FLOAT))


def _frame_path(pattern, frame):
    pattern = re.sub(r"#+", lambda m: f"{frame:0{len(m.group(0))}d}", pattern)
    return re.sub(r"%0?(\d*)d", lambda m: f"{frame:0{int(m.group(1) or 1)}d}", pattern)


_root = Group("Root", None)
_context: list = []
_this_node = None
_this_knob = None


def _current():
    return _context[-1] if _context else _root


def _make(cls, knobs, inputs=()):
    _main_only(f"nodes.{cls}")
    parent = _current()
    node = (Group if cls == "Group" else Node)(cls, parent)
    for i, n in enumerate(inputs):
        node.setInput(i, n)
    for name, value in knobs.items():
        node[name].setValue(value)
    return node


class _Nodes:
    """``nuke.nodes.Write(file=..., inputs=[...])``: make a node in the current group."""

    def __getattr__(self, cls):
        def make(**kwargs):
            inputs = kwargs.pop("inputs", ())
            return _make(cls, kwargs, inputs)
        return make


nodes = _Nodes()


def createNode(node, args="", inpanel=True):
    """As from the Nodes toolbar: the new node's input 0 takes the selected node (when it has one)."""
    if not isinstance(args, str):
        raise TypeError("createNode: args is a TCL string of knob values")
    sel = selectedNodes()
    n = _make(node, {})
    if len(sel) == 1 and n.maxInputs() > 0:
        n.setInput(0, sel[0])
    for s in _current()._children:
        s._selected = s is n
    return n


def root():
    return _root


def thisNode():
    _main_only("thisNode")
    return _this_node


def thisKnob():
    _main_only("thisKnob")
    return _this_knob


def toNode(name):
    _main_only("toNode")
    node = _root
    for part in name.split("."):
        node = node.node(part) if node is not None else None
    return node


def allNodes(filter=None, group=None, recurseGroups=False):
    _main_only("allNodes")
    out = []
    for n in (group or _current()).nodes():
        if filter is None or n.Class() == filter:
            out.append(n)
        if recurseGroups and hasattr(n, "_children"):
            out.extend(allNodes(filter, n, True))
    return out


def selectedNodes(filter=None):
    _main_only("selectedNodes")
    return [n for n in _current().nodes() if n._selected and (filter is None or n.Class() == filter)]


def selectedNode():
    sel = selectedNodes()
    if not sel:
        raise ValueError("no node selected")
    return sel[-1]


def delete(node):
    _main_only("delete")
    node._parent._children.remove(node)
    node._deleted = True


def execute(nameOrNode, start=None, end=None, incr=None, views=None, continueOnError=False):
    """Render a Write node over ``start..end`` (frames written to its file); RuntimeError on failure."""
    _main_only("execute")
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None:
        raise ValueError(f"{nameOrNode}: no such node")
    if node.Class() != "Write":
        raise RuntimeError(f"{node.name()} cannot be executed")
    if node["disable"].value():
        raise RuntimeError(f"{node.fullName()} is disabled")
    if not node["file"].value():
        raise RuntimeError(f"{node.fullName()}: no filename specified")
    if node["file_type"].value() not in ("", "exr") or "datatype" not in node._knobs:
        raise RuntimeError(f"{node.fullName()}: this fake writes EXR only")
    start = _root["first_frame"].value() if start is None else start
    end = _root["last_frame"].value() if end is None else end
    for frame in range(start, end + 1, incr or 1):
        node._write(frame)
    _executed.append((node.fullName(), start, end))


_executed: list = []


# --- UI ----------------------------------------------------------------------------------

_messages: list = []
_tasks: list = []


def message(prompt):
    """Nuke's modal message box (prints in terminal mode)."""
    _main_only("message")
    if not isinstance(prompt, str):
        raise TypeError("message expects a string")
    _messages.append(prompt)


def tprint(*args, **kwargs):
    print(*args, **kwargs)


_filenames: list = []  #: what the artist picks in the next file choosers (None: cancels it)
_asked: list = []  #: the choosers' messages, in order


def getFilename(message, pattern=None, default=None, favorites=None, type=None, multiple=False):
    """Nuke's file chooser (GUI only): the path the artist picks, or None when cancelled."""
    _main_only("getFilename")
    if not GUI:
        raise RuntimeError("getFilename needs the GUI")
    if not isinstance(message, str):
        raise TypeError("getFilename expects a string message")
    _asked.append(message)
    return _filenames.pop(0) if _filenames else None


def fake_answer_filename(path):
    """The artist will pick ``path`` in the next file chooser (None: cancel it)."""
    _filenames.append(path)


def fake_asked_filenames():
    return list(_asked)


class _TaskRecord:
    """What the artist sees of a ProgressTask (kept by the fake after the task is gone)."""

    def __init__(self, name):
        self.name, self.messages, self.progress = name, [], []
        self.cancelled = False  #: set by a test: the artist pressed the progress bar's cancel
        self.alive = True  #: False once the task object was destroyed (Nuke then removes the bar)


class ProgressTask:
    """Nuke's progress bar with a cancel button; it ends when the object is destroyed."""

    def __init__(self, name):
        _main_only("ProgressTask")
        self._record = _TaskRecord(name)
        _tasks.append(self._record)

    def setMessage(self, s):
        _main_only("ProgressTask.setMessage")
        if not isinstance(s, str):
            raise TypeError("setMessage expects a string")
        self._record.messages.append(s)

    def setProgress(self, i):
        _main_only("ProgressTask.setProgress")
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError("setProgress expects an int")
        self._record.progress.append(i)

    def isCancelled(self):
        _main_only("ProgressTask.isCancelled")
        return self._record.cancelled

    def __del__(self):
        self._record.alive = False


class MenuItem:
    def __init__(self, name, command=None, shortcut=None, icon=None, tooltip=None):
        self._name, self._command, self._shortcut, self._icon, self._tooltip = name, command, shortcut, icon, tooltip

    def name(self):
        return self._name

    def invoke(self):
        _main_only("MenuItem.invoke")
        if callable(self._command):
            return self._command()
        exec(compile(self._command, f"<menu {self._name}>", "exec"), {"nuke": __import__("nuke")})


class Menu(MenuItem):
    def __init__(self, name, icon=None):
        super().__init__(name, icon=icon)
        self._items: list = []

    def addMenu(self, name, icon=None, tooltip=None, index=-1):
        _main_only("Menu.addMenu")
        found = self.findItem(name)
        if isinstance(found, Menu):
            return found
        menu = Menu(name, icon)
        self._items.append(menu)
        return menu

    def addCommand(self, name, command=None, shortcut=None, icon=None, tooltip=None, index=-1, readonly=False,
                   shortcutContext=None, tag=None, tagTarget=None):
        _main_only("Menu.addCommand")
        if not isinstance(command, str) and not callable(command):
            raise TypeError("addCommand: command is a Python string or a callable")
        item = MenuItem(name, command, shortcut, icon, tooltip)
        self._items = [i for i in self._items if i.name() != name] + [item]
        return item

    def findItem(self, name):
        first, _, rest = name.partition("/")
        item = next((i for i in self._items if i.name() == first), None)
        return item.findItem(rest) if rest and isinstance(item, Menu) else item

    def items(self):
        return list(self._items)


_menus: dict = {}


def menu(name):
    """A top menu: 'Nuke', 'Nodes', 'Pane', 'Viewer', 'Node Graph', 'Properties' (GUI only)."""
    _main_only("menu")
    if not GUI:
        raise RuntimeError("nuke.menu is not available in terminal mode (nuke -t)")
    if name not in ("Nuke", "Nodes", "Pane", "Viewer", "Node Graph", "Properties", "Animation"):
        raise ValueError(f"unknown menu {name!r}")
    return _menus.setdefault(name, Menu(name))


_plugin_paths: list = []


def pluginAddPath(path, addToSysPath=True):
    _plugin_paths.append(path)


def pluginPath():
    return list(_plugin_paths)


# --- test helpers ------------------------------------------------------------------------

def fake_reset(gui=True):
    """A fresh session: empty script, no menus, no queued calls."""
    global GUI, _root, _this_node, _this_knob
    GUI = gui
    env["gui"] = gui
    _root = Group("Root", None)
    _root._knobs["last_frame"]._value = 100
    _root._knobs["first_frame"]._value = 1
    _frame[0] = 1
    _context.clear()
    _this_node = _this_knob = None
    _messages.clear()
    _tasks.clear()
    _filenames.clear()
    _asked.clear()
    _menus.clear()
    _TCL_VARS.clear()
    _executed.clear()
    _plugin_paths.clear()
    while not _main_calls.empty():
        _main_calls.get_nowait()


def fake_messages():
    return list(_messages)


def fake_tasks():
    return list(_tasks)


def fake_executed():
    return list(_executed)


def fake_press(node, knob):
    """The artist presses a button knob in the node's panel."""
    node[knob].execute()


def fake_update_ui(node):
    """What Nuke does when it redraws a node's panel or changes frame: run the node's updateUI script."""
    code = node._knobs.get("updateUI")
    if code is not None and code._value:
        _run_python(code._value, node, code)


fake_reset()
