"""Tracking the objects through the range: SAM 2's order of work, checkpointed.

The **visits**, in order (what transformers' examples do, and SAM 2's ``propagate_in_video``):

1. every prompted frame, earliest first; on each, every object prompted there gets its clicks and box
   and the model runs on that frame (its conditioning output);
2. forward from the first prompted frame (the *anchor*) to the last frame of the range;
3. backward from the anchor to the first frame (skipped when the anchor is the first frame).

Frames between prompted frames see the nearest prompted frame on each side (SAM 2's memory picks them).
Each frame is written on its last visit: frames after the anchor in the forward pass, the anchor and
the frames before it in the backward pass. Cancel is checked before every visit; the session's state
(:mod:`.session`) is saved every ``checkpoint_seconds`` and on a cancel, so a rerun continues from the
visit after the checkpoint: the same model calls on the same inputs, so the same mattes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import Cancelled
from ..io.atomic import atomic_path

__all__ = ["Visit", "plan_visits", "Checkpoint", "track"]


@dataclass(frozen=True)
class Visit:
    kind: str  #: 'prompt', 'forward' or 'backward'
    index: int  #: position of the frame in the range
    objects: tuple[int, ...] = ()  #: 'prompt': the objects prompted on this frame
    write: bool = False  #: the frame's last visit: its matte is written now


def plan_visits(objects, frames: list[int]) -> list[Visit]:
    """The visits for ``objects`` over ``frames`` (absolute numbers, in order)."""
    index = {f: i for i, f in enumerate(frames)}
    prompted = sorted({index[f] for o in objects for f in o.frames})
    out = [Visit("prompt", i, tuple(k for k, o in enumerate(objects) if frames[i] in o.frames)) for i in prompted]
    anchor = prompted[0]
    out += [Visit("forward", i, write=i > anchor or anchor == 0) for i in range(anchor, len(frames))]
    if anchor > 0:
        out += [Visit("backward", i, write=True) for i in range(anchor, -1, -1)]
    return out


class Checkpoint:
    """The session's state after visit ``done`` (safetensors, written atomically; one file a matte run)."""

    def __init__(self, path: str):
        self.path = path

    def load(self):
        """``(done, tensors, metadata)`` or None (no checkpoint, or a damaged one: start over)."""
        from safetensors import SafetensorError, safe_open

        if not os.path.isfile(self.path):
            return None
        try:
            with safe_open(self.path, framework="pt", device="cpu") as fh:
                meta = dict(fh.metadata() or {})
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
            return int(meta.pop("done")), tensors, meta
        except (SafetensorError, OSError, KeyError, ValueError):
            return None

    def save(self, done: int, session) -> None:
        from safetensors.torch import save_file

        tensors, meta = session.state()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with atomic_path(self.path) as tmp:
            save_file(tensors, tmp, metadata={**meta, "done": str(done)})

    def remove(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def track(model, session, objects, visits, prompts, write, reporter, cancel, checkpoint: Checkpoint,
          checkpoint_seconds: float = 30.0) -> int:
    """Run ``visits``; ``prompts(object, index)`` gives an object's (coords, labels) on a frame, ``write(index,
    logits, object_ids)`` writes a frame's mattes (logits (objects, 1, h, w) in the order of ``object_ids``). Returns the visit a checkpoint resumed after (-1)."""
    import torch

    saved = checkpoint.load()
    start = -1
    if saved is not None:
        start, tensors, meta = saved
        session.restore(tensors, meta)
    session.anchor = next(v.index for v in visits if v.kind == "prompt")
    last_save = time.monotonic()
    done = start
    try:
        with torch.inference_mode():
            for k, visit in enumerate(visits):
                if k <= start:
                    continue
                cancel.check("while tracking; a rerun continues from the last checkpoint")
                if visit.kind == "prompt":
                    out = None
                    for obj in visit.objects:  # one object at a time, each run at once (as transformers' examples)
                        coords, labels = prompts(obj, visit.index)
                        idx = session.obj_id_to_idx(obj)  # objects register as first prompted
                        session.add_point_inputs(idx, visit.index, {"point_coords": coords, "point_labels": labels})
                        session.remove_mask_inputs(idx, visit.index)
                        session.obj_with_new_inputs = [obj]
                        out = model(inference_session=session, frame_idx=visit.index)
                else:
                    out = model(inference_session=session, frame_idx=visit.index, reverse=visit.kind == "backward")
                session.forget(visit.index, visit.kind == "backward")
                if visit.write:
                    write(visit.index, out.pred_masks, list(out.object_ids))
                done = k
                reporter.progress("track", k + 1, len(visits), direction=visit.kind)
                if visit.kind != "prompt" and time.monotonic() - last_save >= checkpoint_seconds:
                    checkpoint.save(k, session)
                    last_save = time.monotonic()
    except Cancelled:
        if done >= 0 and visits[done].kind != "prompt":
            checkpoint.save(done, session)
        raise
    return start
