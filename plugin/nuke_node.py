"""The Recast node in Nuke: build it, and its Render, Cancel and Submit-to-farm buttons.

The node is a Group with inputs **plate**, **ref** and **mask**. Inside, Writes put the
inputs on disk as EXRs and a Read brings the result back; a Switch shows the plate until a
render has finished, then the result. Each render with changed values goes to a new version
folder (``render/v001``, ``v002``, … :mod:`.versions`), so an earlier render is never
overwritten; the ``version`` knob points the Read at an earlier one. The knobs are translated to a job file by
:mod:`recast.plugin.nuke_knobs`; the render itself runs out of Nuke's process through
:mod:`recast.plugin.worker`.

Threads: everything here runs on Nuke's main thread except the worker's event reader and
a ticker, which reach Nuke only through ``nuke.executeInMainThread`` (never called from
the main thread: that hangs Nuke). ``nuke`` is imported inside functions, so this module
imports without Nuke.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time

from . import nuke_knobs as knobs
from . import customize, models
from .host_job import (HostError, check_request, clock, farm_report, progress_text, save_job, submit_to_farm,
                       validate)
from .versions import choose_version, version_folder, versions
from .queue import RENDERS
from .worker import RenderProcess

__all__ = ["create", "build", "input_write", "render", "write_job", "cancel", "submit", "check_models", "fetch_models", "train_lora",
           "knob_changed", "update_ui", "NodeError"]

# tile colours (0xRRGGBBAA): as built, rendering, rendered, stale, failed
_COLOURS = {"new": 0x4B3C78FF, "rendering": 0x3C6EAAFF, "done": 0x5A3C8CFF, "stale": 0xC87820FF,
            "failed": 0xB4282DFF}
_KNOB_CHANGED = ("try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
                 "if _recast is not None:\n    _recast.knob_changed(nuke.thisNode(), nuke.thisKnob())\n")
# Nuke (before 17) runs knobChanged for a scripted setValue only while the panel is open, so staleness is also
# worked out where it cannot be missed: when the panel opens ('showPanel'), on every updateUI, and before a render
_UPDATE_UI = ("try:\n    import recast.plugin.nuke_node as _recast\nexcept ImportError:\n    _recast = None\n"
              "if _recast is not None:\n    _recast.update_ui(nuke.thisNode())\n")
_WORKING_LINEAR = {"linear", "scene_linear", "Linear", "lin_srgb", "Linear Rec.709 (sRGB)", "default"}

_active: dict = {}  # node full name → _Render (main thread only)
_fetching: dict = {}  # preset → _Fetch: one fetch of a preset at a time (main thread only)
_known: dict = {}  # preset → the last check's line, so opening a panel does not ask the worker again
_training: dict = {}  # node full name → _Train (main thread only)


class NodeError(HostError):
    """Something to tell the artist in one line; nothing has been started."""


def _nuke():
    import nuke

    return nuke


# --- building ----------------------------------------------------------------------------

def create(build_node=None):
    """The Nodes toolbar command: a Recast node (or what ``build_node`` makes of a Group) on the selected node."""
    nuke = _nuke()
    selected = nuke.selectedNodes()
    node = nuke.createNode("Group", inpanel=False)
    (build_node or build)(node)
    if len(selected) == 1:
        node.setInput(0, selected[0])
    return node


def input_write(nuke, name: str, src, channels: str):
    """An internal Write that puts an input on disk as EXR: 32-bit float (lossless for plates, depth and mattes),
    every metadata attribute kept, disabled (only Recast runs it, never a Render All)."""
    write = nuke.nodes.Write(name=name, inputs=[src])
    write["file_type"].setValue("exr")
    write["channels"].setValue(channels)
    write["datatype"].setValue("32 bit float")
    write["compression"].setValue("Zip (1 scanline)")
    write["create_directories"].setValue(True)
    write["metadata"].setValue("all metadata")  # the plate's header attributes reach the result
    write["disable"].setValue(True)
    return write


def build(node) -> None:
    """Turn an empty Group into a Recast node."""
    nuke = _nuke()
    node.setName("Recast1")
    with node:
        plate = nuke.nodes.Input(name="plate")
        ref = nuke.nodes.Input(name="ref")
        mask = nuke.nodes.Input(name="mask")
        for name, src, channels in (("plate_write", plate, "all"), ("ref_write", ref, "rgba"),
                                    ("mask_write", mask, "all")):
            input_write(nuke, name, src, channels)
        read = nuke.nodes.Read(name="result")
        read["on_error"].setValue("error")
        show = nuke.nodes.Switch(name="show", inputs=[plate, read])
        nuke.nodes.Output(inputs=[show])
    knobs.add_knobs(node, nuke)
    for k in ("first_frame", "last_frame"):
        node[k].setEnabled(not node["use_input_range"].value())
    node["knobChanged"].setValue(_KNOB_CHANGED)
    node["updateUI"].setValue(_UPDATE_UI)
    _show_state(node, "new", "not rendered: shows the plate")


# --- buttons -----------------------------------------------------------------------------

def render(node) -> None:
    """The Render button: write the inputs, the job, and start the worker."""
    try:
        _Render(node).start()
    except HostError as exc:
        _tell(node, str(exc))


def write_job(node) -> str:
    """Write the node's inputs and job file without rendering (for the farm, and to inspect);
    returns the job file's path. :class:`NodeError` on a bad value, with nothing written."""
    paths, _, _ = _Render(node).prepare()
    return paths.job


def cancel(node) -> None:
    """The Cancel button: the node's render, or its LoRA training."""
    job = _active.get(node.fullName()) or _training.get(node.fullName())
    if job is None:
        _tell(node, "not rendering")
        return
    job.process.cancel()
    node["status"].setValue("cancelling…")


def train_lora(node) -> None:
    """The Train LoRA button: ``recast customize`` on the plate's frames in the background; the LoRA goes in the
    first free LoRA slot when done."""
    try:
        _Train(node).start()
    except HostError as exc:
        _tell(node, str(exc))


def submit(node) -> None:
    """The Submit to farm button: the inputs, the job and an OpenJD bundle beside them."""
    try:
        command = _Render(node)._command()
        bundle = submit_to_farm(write_job(node), command)
    except HostError as exc:
        _tell(node, str(exc))
        return
    node["status"].setValue(f"farm bundle written: {bundle.folder}")
    _tell(node, farm_report(bundle))


def knob_changed(node, knob) -> None:
    """The Group's knobChanged: keep the frame range knobs and the stale mark up to date."""
    name = knob.name()
    if name == "use_input_range":
        for k in ("first_frame", "last_frame"):
            node[k].setEnabled(not knob.value())
    if name in knobs.JOB_KNOBS or name in ("inputChange", "showPanel"):
        _mark_stale(node)
    if name == "version":
        _show_version(node, int(knob.value()))
    if name in ("model", "model_file", "showPanel"):
        check_models(node, again=False)


def update_ui(node) -> None:
    """The Group's updateUI (Nuke runs it as it redraws the node): the stale mark and the version shown,
    whatever changed the knobs (a script's setValue with the panel closed fires no knobChanged)."""
    _mark_stale(node)
    current = node.node("result")["file"].value()
    shown = os.path.basename(os.path.dirname(current)) if current else ""
    if node["version"].value() >= 1 and shown != f"v{int(node['version'].value()):03d}":
        _show_version(node, int(node["version"].value()))


def check_models(node, again: bool = True) -> None:
    """The Check models button (and the panel opening, or another model chosen, with ``again=False``): ask the
    worker, in the background, which parts of the node's preset it has; the answer goes to the 'models' line."""
    nuke = _nuke()
    try:
        values = knobs.knob_values(node)
        preset = models.preset_name(values["model"], values["model_file"])
        command = _Render(node)._command()
    except HostError as exc:
        node["models"].setValue(str(exc))
        return
    if preset in _fetching:
        return  # the fetch says how far it is
    if not again and preset in _known:
        node["models"].setValue(_known[preset])
        return
    node["models"].setValue(f"checking '{models.preset_label(preset)}'…")

    def ask():  # a worker thread: the worker takes a second or two to answer
        try:
            line = models.check_models(values["model"], values["model_file"], command).summary
            _known[preset] = line
        except HostError as exc:
            line = f"cannot check the models: {exc}"
        nuke.executeInMainThread(_set_knob, args=(node, "models", line))

    threading.Thread(target=ask, name="recast-check-models", daemon=True).start()


def fetch_models(node) -> None:
    """The Fetch models button: download the preset's missing parts in the background, with a progress bar
    (whose cancel stops it) and a row in the queue panel; the 'models' line says how far it is."""
    try:
        _Fetch(node).start()
    except HostError as exc:
        _tell(node, str(exc))


def _set_knob(node, name: str, text: str) -> None:
    try:
        node[name].setValue(text)
    except ValueError:  # the node was deleted meanwhile
        pass


def _result(folder: str, stem: str, version: int) -> str:
    return os.path.join(version_folder(os.path.join(folder, "render"), version), f"{stem}.####.exr")


def _show_version(node, version: int) -> None:
    """Point the result Read at an earlier (or later) version's frames, when that version exists."""
    read = node.node("result")
    current = read["file"].value()
    if not current or version < 1:
        return
    root = os.path.dirname(os.path.dirname(current))  # <output folder>/render
    if version not in versions(root):
        node["status"].setValue(f"there is no version {version}; versions: {', '.join(map(str, versions(root)))}")
        return
    read["file"].setValue(os.path.join(version_folder(root, version), os.path.basename(current)))
    read["reload"].execute()
    node["status"].setValue(f"showing version {version}")


# --- following a worker ----------------------------------------------------------------------

class _Followed:
    """A worker run followed from Nuke's main thread: events and a ticker marshalled there, a ProgressTask
    whose cancel button stops the worker. Subclasses set ``process`` and ``task`` and define ``_on_event``
    and ``_status``."""

    finished = False
    cancelling = False
    task = None
    process = None

    def _follow(self, name: str) -> None:
        threading.Thread(target=self._tick_loop, name=f"recast-tick-{name}", daemon=True).start()

    def _tick_loop(self) -> None:  # worker thread: touches Nuke only through executeInMainThread
        while not self.finished:
            time.sleep(0.2)
            if not self.finished:
                self.nuke.executeInMainThread(self._tick)

    def _from_worker(self, event: dict) -> None:  # reader thread
        self.nuke.executeInMainThread(self._on_event, args=(event,))

    def _tick(self) -> None:
        if self.task is not None and self.task.isCancelled() and not self.cancelling:
            self.cancelling = True
            self.process.cancel()
            self._status("cancelling…")


class _Job(_Followed):
    """A background job that is not a render (a fetch, a training): its progress in the task and the
    status line (``doing`` says what it is), ``_finish(state)`` at the end, ``_forget()`` its registry entry."""

    doing = ""

    def _on_event(self, event: dict) -> None:
        if self.finished:
            return
        kind = event.get("event")
        if kind == "exit":
            self.finished, self.task = True, None
            self._forget()
            self._finish(event["state"])
        elif kind == "progress" and self.task is not None:
            text = progress_text(self.process, event)
            self.task.setMessage(text)
            self.task.setProgress(int(round(self.process.progress * 100)))
            self._status(f"{self.doing}: {text}")


class _Fetch(_Job):
    """One fetch of a preset's missing parts."""

    def __init__(self, node):
        self.nuke = _nuke()
        self.node = node
        values = knobs.knob_values(node)
        self.model, self.model_file = values["model"], values["model_file"]
        self.preset = models.preset_name(self.model, self.model_file)
        self.label = models.preset_label(self.preset)
        self.command = _Render(node)._command()

    def start(self) -> None:
        if self.preset in _fetching:
            raise NodeError(f"the models of '{self.label}' are being fetched already")
        self.process = models.fetch_models(self.model, self.model_file, self.command, on_event=self._from_worker)
        self.task = self.nuke.ProgressTask(f"Recast: fetching models '{self.label}'")
        self.task.setMessage("asking the hub")
        _fetching[self.preset] = self
        _known.pop(self.preset, None)
        self._status("fetching…")
        self._follow(f"fetch-{self.preset}")

    doing = "fetching"

    def _status(self, text: str) -> None:
        _set_knob(self.node, "models", f"models '{self.label}': {text}")

    def _forget(self) -> None:
        _fetching.pop(self.preset, None)

    def _finish(self, state: str) -> None:
        if state == "done":
            check_models(self.node)
        elif state == "cancelled":
            self._status("fetch cancelled; Fetch models resumes it")
        else:
            self._status(f"fetch failed: {self.process.error}")
            _tell(self.node, f"fetching the models failed: {self.process.error}")


class _Train(_Job):
    """One training of a LoRA on the node's plate frames."""

    doing = "training a LoRA"

    def __init__(self, node):
        self.nuke = _nuke()
        self.node = node
        self.name = node.fullName()
        self.render = _Render(node)

    def start(self) -> None:
        if self.name in _training or self.name in _active:
            raise NodeError("busy: a render or a training of this node is running; cancel it first")
        r = self.render
        command = r._command()
        first, last = r._range()
        paths = r._paths()
        token, steps = self.node["train_token"].getText().strip(), int(self.node["train_steps"].value())
        out = customize.lora_path(paths.folder, self.node.name(), token or "lora")
        if not token:
            raise NodeError("no LoRA token: type the word the LoRA should learn (e.g. 'sks person')")
        r._write_inputs(paths, first, last, only=("plate_write",))
        self.process = customize.start_customize(self.node.name(), paths.plate, f"{first}-{last}", out, token, steps,
                                                 r.values, command, paths.logs, on_event=self._from_worker)
        self.out = out
        self.task = self.nuke.ProgressTask(f"Recast {self.name}: training LoRA")
        self.task.setMessage("starting the worker")
        _training[self.name] = self
        self._status(f"training a LoRA on {first}-{last}…")
        self._follow(f"train-{self.name}")

    def _status(self, text: str) -> None:
        _set_knob(self.node, "status", text)

    def _forget(self) -> None:
        _training.pop(self.name, None)

    def _finish(self, state: str) -> None:
        try:
            if state == "done":
                slot = customize.free_slot(knobs.knob_values(self.node), self.out)
                if slot is None:
                    self._status(f"LoRA trained: {self.out} (every LoRA slot is in use: put it in one)")
                    return
                self.node[slot[0]].setValue(self.out)
                self.node[slot[1]].setValue(1.0)
                self._status(f"LoRA trained: {self.out}, in slot {slot[0].split('_')[1]}; use "
                             f"'{self.node['train_token'].getText().strip()}' in the prompt")
            elif state == "cancelled":
                self._status("training cancelled; Train LoRA with the same settings resumes it")
            else:
                self._status(f"training failed: {self.process.error}")
                _tell(self.node, f"training the LoRA failed: {self.process.error}")
        except ValueError:  # the node was deleted meanwhile
            pass


# --- the render --------------------------------------------------------------------------

class _Render(_Followed):
    """One render of one node, from the button press to the Read showing its frames."""

    def __init__(self, node):
        self.nuke = _nuke()
        self.node = node
        self.name = node.fullName()
        self.values = knobs.knob_values(node)
        self.task = None
        self.process = None
        self.finished = False
        self.cancelling = False

    # main thread -------------------------------------------------------------------------
    def prepare(self):
        """Check every value, write the inputs and the job file; returns (paths, first, last)."""
        if self.name in _active:
            raise NodeError("already rendering; cancel it first")
        if self.name in _training:
            raise NodeError("a LoRA of this node is training; wait for it, or cancel it first")
        first, last = self._check()
        paths = self._paths()
        data = knobs.job_data(self.values, paths, first, last, self._colorspace())
        validate(data, paths.folder)  # every value checked before anything is written
        self._write_inputs(paths, first, last)
        # a render with changed values is a new version; the same values again render (resume) into the newest
        self.version = choose_version(os.path.join(paths.folder, "render"), _stale_key(self.node, self.values))[0]
        paths = dataclasses.replace(paths, result=_result(paths.folder, self.node.name(), self.version))
        data["output"]["pattern"] = paths.result
        save_job(validate(data, paths.folder), paths.job)
        return paths, first, last

    def start(self) -> None:
        command = self._command()
        paths, first, last = self.prepare()
        self.process = RenderProcess(paths.job, command=command, log_dir=paths.logs, on_event=self._from_worker)
        self.paths, self.first, self.last = paths, first, last
        self.task = self.nuke.ProgressTask(f"Recast {self.name}")
        self.task.setMessage("starting the worker")
        _active[self.name] = self
        RENDERS.add(self.name, self.process, paths.folder)
        self.node["status"].setValue(f"rendering {first}-{last}…")
        _show_state(self.node, "rendering", f"rendering {first}-{last}")
        self._follow(self.name)

    def _check(self) -> tuple[int, int]:
        v = self.values
        if self.node.input(0) is None:
            raise NodeError("no plate: connect the shot to the 'plate' input")
        check_request(v["prompt"], self.node.input(1) is not None, v["model"], v["model_file"],
                      "connect a reference image to the 'ref' input")
        return self._range()

    def _range(self) -> tuple[int, int]:
        """The frames to work on: the plate input's, or first/last."""
        v = self.values
        if self.node.input(0) is None:
            raise NodeError("no plate: connect the shot to the 'plate' input")
        if v["use_input_range"]:
            first, last = self.node.input(0).firstFrame(), self.node.input(0).lastFrame()
        else:
            first, last = v["first_frame"], v["last_frame"]
        if first > last:
            raise NodeError(f"frame range {first}-{last} is empty: first must not be after last")
        return first, last

    def _paths(self) -> knobs.Paths:
        folder = self.values["output_folder"].strip()
        if not folder:
            script = self.nuke.root()["name"].value()
            if not script:
                raise NodeError("no output folder: set 'output folder', or save the script first")
            folder = os.path.join(os.path.dirname(script), "recast", self.node.name())
        folder = os.path.abspath(os.path.expanduser(folder))
        stem = self.node.name()
        return knobs.Paths(
            folder=folder, plate=os.path.join(folder, "plate", f"{stem}.####.exr"),
            result=_result(folder, stem, 1),
            job=os.path.join(folder, f"{stem}.recast.json"), logs=os.path.join(folder, "logs"),
            reference=os.path.join(folder, "ref", f"{stem}_ref.{self.values['ref_frame']:04d}.exr")
            if self.node.input(1) is not None else None,
            mask=os.path.join(folder, "mask", f"{stem}_mask.####.exr") if self.node.input(2) is not None else None)

    def _command(self):
        from .worker import worker_command

        return worker_command(self.values["worker"].strip() or None)

    def _colorspace(self) -> str | None:
        given = self.values["colorspace"].strip()
        if given:
            return given
        root = self.nuke.root()
        if root.knob("colorManagement") is None or root["colorManagement"].value() != "OCIO":
            return None  # Nuke's own colour management: scene linear is Linear Rec.709
        space = root["workingSpaceLUT"].value()
        return None if space in _WORKING_LINEAR else space

    def _write_inputs(self, paths: knobs.Paths, first: int, last: int, only=None) -> None:
        writes = [("plate_write", paths.plate, first, last)]
        if paths.reference:
            f = self.values["ref_frame"]
            writes.append(("ref_write", paths.reference.replace(f".{f:04d}.exr", ".####.exr"), f, f))
        if paths.mask:
            writes.append(("mask_write", paths.mask, first, last))
        for name, pattern, a, b in writes:
            if only is not None and name not in only:
                continue
            write = self.node.node(name)
            write["file"].setValue(pattern)
            write["disable"].setValue(False)
            try:
                self.nuke.execute(write, a, b, 1)
            except RuntimeError as exc:
                raise NodeError(f"could not write the {name.split('_')[0]} input: {exc}") from None
            finally:
                write["disable"].setValue(True)

    def _on_event(self, event: dict) -> None:
        if self.finished:
            return
        kind = event.get("event")
        p = self.process
        if kind == "exit":
            self._finish(event["state"])
            return
        if self.task is None:
            return
        if kind in ("progress", "frame"):
            self.task.setMessage(progress_text(p, event))
        elif kind == "warning":
            self.nuke.tprint(f"Recast {self.name}: {event.get('message')}")
        self.task.setProgress(int(round(p.progress * 100)))
        self._status(f"rendering {self.first}-{self.last}: {int(p.progress * 100)}%")

    def _finish(self, state: str) -> None:
        self.finished = True
        self.task = None  # a ProgressTask ends when it is destroyed
        _active.pop(self.name, None)
        try:
            if state == "done":
                self._show_result()
            elif state == "cancelled":
                self._status("cancelled; the frames written so far are kept and Render resumes from them")
                self._cancelled()
            else:
                error = self.process.error or "the render failed"
                if self.process.error_kind == "ModelError":  # a part is missing: the models line says which
                    check_models(self.node)
                    error += "; the node's 'models' line says what is missing, and Fetch models downloads it"
                self._status(f"failed: {error}")
                _show_state(self.node, "failed", "render failed")
                _tell(self.node, error)
        except ValueError:  # the node was deleted while it rendered
            pass

    def _cancelled(self) -> None:
        if not self.node["recast_rendered"].value():
            _show_state(self.node, "new", "cancelled: not rendered, shows the plate")
        elif self.process.frames_done:  # some frames of the earlier result were replaced
            self.node["recast_rendered"].setValue("")
            _show_state(self.node, "stale", "STALE: a cancelled render replaced some frames")
        else:
            _mark_stale(self.node)

    def _show_result(self) -> None:
        read = self.node.node("result")
        read["file"].setValue(self.paths.result)
        for k, v in (("first", self.first), ("last", self.last), ("origfirst", self.first),
                     ("origlast", self.last)):
            read[k].setValue(v)
        read["reload"].execute()
        self.node.node("show")["which"].setValue(1)
        self.node["recast_rendered"].setValue(_stale_key(self.node, self.values))
        self.node["version"].setValue(self.version)  # the version the node shows (earlier ones stay on disk)
        seconds = self.process.elapsed
        self._status(f"rendered {self.first}-{self.last} in {clock(seconds)} → {self.paths.result}")
        _show_state(self.node, "done", f"rendered {self.first}-{self.last}")

    def _status(self, text: str) -> None:
        try:
            self.node["status"].setValue(text)
        except ValueError:  # the node was deleted while it rendered: the render goes on, in the queue panel
            pass


def _stale_key(node, values: dict) -> str:
    """What a render depends on, as text: the parameters and which inputs are connected."""
    return json.dumps({"knobs": {k: values[k] for k in knobs.JOB_KNOBS},
                       "inputs": [node.input(i) is not None for i in range(3)]}, sort_keys=True)


def _mark_stale(node) -> None:
    rendered = node["recast_rendered"].value()
    if not rendered or node.fullName() in _active:
        return
    if _stale_key(node, knobs.knob_values(node)) != rendered:
        _show_state(node, "stale", "STALE: parameters changed since the render")
    else:
        _show_state(node, "done", "rendered")


def _show_state(node, state: str, label: str) -> None:
    node["tile_color"].setValue(_COLOURS[state])
    node["label"].setValue(label)


def _tell(node, text: str) -> None:
    """One line to the artist: a message box in the GUI, the terminal otherwise."""
    nuke = _nuke()
    line = f"{node.name()}: {' '.join(text.split())}"
    if getattr(nuke, "GUI", True):
        nuke.message(line)
    else:
        nuke.tprint(line)
