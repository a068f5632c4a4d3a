"""The Recast node's Render, Cancel and Submit to farm buttons, and one render from the press to the Read
showing its frames.

Each render with changed values goes to a new version folder (``render/v001``, ``v002``, …), so an earlier
render is never overwritten. The knobs become a job file through :mod:`.knobs`; the render runs out of Nuke's
process through :mod:`recast.plugin.common.worker`, followed as a :class:`~.runs.Followed` run.
"""

from __future__ import annotations

import dataclasses
import os

from ..common import messages
from ..common.host_job import check_request, clock, farm_report, progress_text, save_job, submit_to_farm, \
    submit_to_onprem, validate
from ..common.queue import RENDERS
from ..common.versions import choose_version
from ..common.worker import RenderProcess
from . import knobs
from ..common.looks import look_output
from .base import NodeError, cancel_run, nuke, output_folder, plate_range, press, set_knob, show_frames, show_state, \
    tell, worker, write_input
from .live import SHOW, choose_look, end_live, show_live
from .models import check_models
from .runs import ACTIVE, TRAINING, Followed
from .state import mark_stale, result_pattern, stale_key

__all__ = ["render", "write_job", "cancel", "submit", "submit_deadline", "Render"]

_WORKING_LINEAR = {"linear", "scene_linear", "Linear", "lin_srgb", "Linear Rec.709 (sRGB)", "default"}


def render(node) -> None:
    """The Render button: write the inputs, the job, and start the worker."""
    press(node, lambda: Render(node).start())


def write_job(node) -> str:
    """Write the node's inputs and job file without rendering (for the farm, and to inspect);
    returns the job file's path. :class:`NodeError` on a bad value, with nothing written."""
    paths, _, _ = Render(node).prepare()
    return paths.job


def cancel(node) -> None:
    """The Cancel button: the node's render, or its LoRA training."""
    cancel_run(node, ACTIVE.get(node.fullName()) or TRAINING.get(node.fullName()), "not rendering")


def submit(node) -> None:
    """The Submit to farm button: the inputs, the job and an OpenJD bundle beside them."""
    def write():
        command = worker(knobs.knob_values(node))
        bundle = submit_to_farm(write_job(node), command)
        node["status"].setValue(f"farm bundle written: {bundle.folder}")
        tell(node, farm_report(bundle))

    press(node, write)


def submit_deadline(node) -> None:
    """The Submit to Deadline button: the inputs, the job and Deadline jobs beside them, submitted."""
    def write():
        command = worker(knobs.knob_values(node))
        said = submit_to_onprem(write_job(node), "deadline", command, knobs.option(node, "farm_chunk_size"),
                                knobs.option(node, "deadline_pool"), knobs.option(node, "deadline_group"),
                                knobs.option(node, "deadline_priority"))
        node["status"].setValue("submitted to Deadline")
        tell(node, said)

    press(node, write)


class Render(Followed):
    """One render of one node, from the button press to the Read showing its frames."""

    kind = "render"  #: 'render', or a quick look: 'preview', 'variants' (:mod:`.looks`)
    doing = "rendering"

    def __init__(self, node):
        self.nuke = nuke()
        self.node = node
        self.name = node.fullName()
        self.values = knobs.knob_values(node)

    # main thread -------------------------------------------------------------------------
    def prepare(self):
        """Check every value, write the inputs and the job file; returns (paths, first, last)."""
        if self.name in ACTIVE:
            raise NodeError("already rendering; cancel it first")
        if self.name in TRAINING:
            raise NodeError("a LoRA of this node is training; wait for it, or cancel it first")
        first, last = self._check()
        paths = self.file_paths()
        data = knobs.job_data(self.values, paths, first, last, self._colorspace())
        validate(data, paths.folder)  # every value checked before anything is written
        self.write_inputs(paths, first, last)
        if self.kind == "render":
            # a render with changed values is a new version; the same values again render (resume) into the newest
            self.version = choose_version(os.path.join(paths.folder, "render"), stale_key(self.node, self.values))[0]
            paths = dataclasses.replace(paths, result=result_pattern(paths.folder, self.node.name(), self.version))
        else:  # a quick look: the worker makes its version folder beside this output (recast_previews/, …)
            paths = dataclasses.replace(paths, result=look_output(paths.folder, self.node.name()),
                                        job=os.path.join(paths.folder, f"{self.node.name()}.{self.kind}.recast.json"))
        data["output"]["pattern"] = paths.result
        save_job(validate(data, paths.folder), paths.job)
        return paths, first, last

    def start(self) -> None:
        command = worker(self.values)
        paths, first, last = self.prepare()
        self.process = self._process(paths, command)
        self.paths, self.first, self.last = paths, first, last
        RENDERS.add(self.name if self.kind == "render" else f"{self.name} {self.kind}", self.process, paths.folder)
        set_knob(self.node, "note", "")
        show_state(self.node, "rendering", f"{self.doing} {first}-{last}")
        self._begin(ACTIVE, self.name, f"Recast {self.name}", f"{self.doing} {first}-{last}…", self.name)

    def _process(self, paths, command):
        return RenderProcess(paths.job, command=command, log_dir=paths.logs, on_event=self._from_worker,
                             desk=bool(knobs.option(self.node, "use_desk")),
                             live_previews=bool(knobs.option(self.node, "live_previews")))

    def _check(self) -> tuple[int, int]:
        v = self.values
        if self.node.input(0) is None:
            raise NodeError(messages.NO_PLATE)
        check_request(v["prompt"], self.node.input(1) is not None, v["model"], v["model_file"],
                      "connect a reference image to the 'ref' input")
        return self.frame_range()

    def frame_range(self) -> tuple[int, int]:
        """The frames to work on: the plate input's, or first/last."""
        return plate_range(self.node, self.values)

    def file_paths(self) -> knobs.Paths:
        folder = output_folder(self.node, self.values)
        stem = self.node.name()
        return knobs.Paths(
            folder=folder, plate=os.path.join(folder, "plate", f"{stem}.####.exr"),
            result=result_pattern(folder, stem, 1),
            job=os.path.join(folder, f"{stem}.recast.json"), logs=os.path.join(folder, "logs"),
            reference=os.path.join(folder, "ref", f"{stem}_ref.{self.values['ref_frame']:04d}.exr")
            if self.node.input(1) is not None else None,
            mask=os.path.join(folder, "mask", f"{stem}_mask.####.exr") if self.node.input(2) is not None else None)

    def _colorspace(self) -> str | None:
        given = self.values["colorspace"].strip()
        if given:
            return given
        root = self.nuke.root()
        if root.knob("colorManagement") is None or root["colorManagement"].value() != "OCIO":
            return None  # Nuke's own colour management: scene linear is Linear Rec.709
        space = root["workingSpaceLUT"].value()
        return None if space in _WORKING_LINEAR else space

    def write_inputs(self, paths: knobs.Paths, first: int, last: int, only=None) -> None:
        writes = [("plate_write", paths.plate, first, last)]
        if paths.reference:
            f = self.values["ref_frame"]
            writes.append(("ref_write", paths.reference.replace(f".{f:04d}.exr", ".####.exr"), f, f))
        if paths.mask:
            writes.append(("mask_write", paths.mask, first, last))
        for name, pattern, a, b in writes:
            if only is None or name in only:
                write_input(self.node, name, pattern, a, b, f"{name.split('_')[0]} input")

    def _on_event(self, event: dict) -> None:
        if self.finished:
            return
        kind = event.get("event")
        p = self.process
        if kind == "exit":
            self._finish(event["state"])
            return
        if kind == "warning":  # e.g. the desk could not start and the render runs here: the node's one-line note
            self.nuke.tprint(f"Recast {self.name}: {event.get('message')}")
            set_knob(self.node, "note", p.note or "")
        elif kind == "preview":
            try:
                show_live(self.node, event, self.first, self.last)
            except ValueError:  # the node was deleted while it rendered
                pass
        elif kind == "desk" and event.get("started"):
            self.nuke.tprint(f"Recast {self.name}: started the desk service (pid {event.get('pid')})")
        if self.task is None:
            return
        if kind in ("progress", "frame"):
            self.task.setMessage(progress_text(p, event))
        self.task.setProgress(int(round(p.progress * 100)))
        self._status(f"{self.doing} {self.first}-{self.last}: {int(p.progress * 100)}%")

    def _finish(self, state: str) -> None:
        self.finished = True
        self.task = None  # a ProgressTask ends when it is destroyed
        ACTIVE.pop(self.name, None)
        try:
            if state != "done":
                end_live(self.node)
            if state == "done":
                self._show_result()
            elif state == "cancelled":
                self._status(messages.resumes("nuke", "render"))
                self._cancelled()
            else:
                error = self.process.error or "the render failed"
                if self.process.error_kind == "ModelError":  # a part is missing: the models line says which
                    check_models(self.node)
                    error += messages.model_missing_hint("nuke")
                self._status(f"failed: {error}")
                show_state(self.node, "failed", "render failed")
                tell(self.node, error)
        except ValueError:  # the node was deleted while it rendered
            pass

    def _cancelled(self) -> None:
        if not self.node["recast_rendered"].value():
            show_state(self.node, "new", "cancelled: not rendered, shows the plate")
        elif self.process.frames_done:  # some frames of the earlier result were replaced
            self.node["recast_rendered"].setValue("")
            show_state(self.node, "stale", "STALE: a cancelled render replaced some frames")
        else:
            mark_stale(self.node)

    def _show_result(self) -> None:
        show_frames(self.node.node("result"), self.paths.result, self.first, self.last)
        self.node.node("show")["which"].setValue(SHOW["render"])
        self.node["recast_rendered"].setValue(stale_key(self.node, self.values))
        choose_look(self.node, "render")
        self.node["version"].setValue(self.version)  # the version the node shows (earlier ones stay on disk)
        seconds = self.process.elapsed
        self._status(f"rendered {self.first}-{self.last} in {clock(seconds)} → {self.paths.result}")
        show_state(self.node, "done", f"rendered {self.first}-{self.last}")
