"""SAM 2.1 video tracking in bounded memory: transformers' inference session, fed one frame at a time.

transformers' :class:`Sam2VideoInferenceSession` holds the whole processed video and every frame's
outputs (memory features, masks and the 1024² high-resolution masks) for the length of the shot. Here:

* frames are prepared when the model asks for one (:meth:`BoundedSession.get_frame`) and never kept
  (the model caches one frame's vision features itself), so a 2,000-frame shot costs what 1 frame does;
* after every frame :meth:`BoundedSession.forget` drops what the model will never read again: the
  high-resolution masks at once (only the memory encoder of the same call uses them), a tracked frame's
  low-resolution masks too (a prompted frame's are reused when a pass reaches it); a tracked
  frame's memory features once it is further than ``num_maskmem - 1`` frames behind the frame being
  tracked, and its object pointer once further than ``max_object_pointers_in_encoder - 1``. Frames
  the backward pass will read (just after the first prompted frame) are kept until it has passed.
  What the model reads is exactly what it would read with nothing dropped (tested against the stock
  session), so the mattes are the same;
* :meth:`BoundedSession.state` / :meth:`BoundedSession.restore` put what is kept in a flat dict of
  tensors, saved as safetensors: a cancelled or killed run resumes from its last checkpoint.

Written by hand because transformers offers neither a lazy video nor a pruned memory bank.
"""

from __future__ import annotations

import functools
import json

__all__ = ["BoundedSession"]

_KEEP_POINTER = ("object_pointer", "object_score_logits")


@functools.lru_cache(maxsize=None)
def _session_class():
    from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

    class BoundedSession(Sam2VideoInferenceSession):
        """An inference session whose frames come from ``frame(index)`` (a (3, S, S) tensor on the CPU)."""

        def __init__(self, frame, count: int, height: int, width: int, device, dtype, model_config):
            super().__init__(video=None, video_height=height, video_width=width, inference_device=device,
                             inference_state_device=device, video_storage_device="cpu", dtype=dtype)
            self._frame, self._count = frame, count
            self.memory_frames = int(model_config.num_maskmem) - 1  #: frames of memory features read behind
            self.pointer_frames = int(model_config.max_object_pointers_in_encoder) - 1  #: object pointers read
            self.anchor: int | None = None  #: the first prompted frame: the backward pass starts there

        @property
        def num_frames(self) -> int:
            return self._count

        def get_frame(self, frame_idx: int):
            return self._frame(frame_idx).to(self.inference_device, dtype=self.dtype)

        # --- what the model will read again ---------------------------------------------------
        def forget(self, frame_idx: int, reverse: bool) -> None:
            """After tracking ``frame_idx`` (backward when ``reverse``): drop what no later frame reads."""
            for outputs in self.output_dict_per_obj.values():
                for out in outputs["cond_frame_outputs"].values():
                    out.pop("high_res_masks", None)
                for out in outputs["non_cond_frame_outputs"].values():  # a tracked frame's masks are not read again
                    out.pop("high_res_masks", None)  # (only a prompted frame's are, when a pass reaches it)
                    out.pop("pred_masks", None)
                tracked = outputs["non_cond_frame_outputs"]
                for q in list(tracked):
                    behind = q - frame_idx if reverse else frame_idx - q
                    if behind <= 0:
                        continue  # ahead of the pass (or this frame): read when the pass gets there
                    # the forward pass's first frames after the anchor are read again by the backward pass
                    after = q - self.anchor if not reverse and self.anchor is not None and q > self.anchor else None
                    if behind > self.pointer_frames and (after is None or after > self.pointer_frames):
                        del tracked[q]
                    elif behind > self.memory_frames and (after is None or after > self.memory_frames):
                        tracked[q] = {k: v for k, v in tracked[q].items() if k in _KEEP_POINTER}

        def kept_frames(self) -> int:
            """How many frames' outputs are held (all objects): what bounds the memory."""
            return sum(len(o["cond_frame_outputs"]) + len(o["non_cond_frame_outputs"])
                       for o in self.output_dict_per_obj.values())

        # --- checkpoints ------------------------------------------------------------------------
        def state(self) -> tuple[dict, dict]:
            """(tensors, metadata) of everything tracking needs to go on: objects, outputs, tracked frames."""
            tensors, tracked = {}, {}
            for idx, outputs in self.output_dict_per_obj.items():
                for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
                    for f, out in outputs[kind].items():
                        for key, value in out.items():
                            if value is not None:
                                tensors[f"{idx}/{kind}/{f}/{key}"] = value.detach().to("cpu").contiguous().clone()
                tracked[str(idx)] = {str(f): bool(v["reverse"]) for f, v in self.frames_tracked_per_obj[idx].items()}
            meta = {"objects": json.dumps(list(self._obj_id_to_idx)), "tracked": json.dumps(tracked),
                    "anchor": json.dumps(self.anchor)}
            return tensors, meta

        def restore(self, tensors: dict, meta: dict) -> None:
            """The session as :meth:`state` saved it (objects registered in the same order)."""
            for obj_id in json.loads(meta["objects"]):
                self.obj_id_to_idx(obj_id)
            self.anchor = json.loads(meta["anchor"])
            for name, value in tensors.items():
                idx, kind, f, key = name.split("/")
                store = self.output_dict_per_obj[int(idx)][kind].setdefault(int(f), {})
                store[key] = value.to(self.inference_device)
            for idx, frames in json.loads(meta["tracked"]).items():
                self.frames_tracked_per_obj[int(idx)] = {int(f): {"reverse": r} for f, r in frames.items()}
            self.obj_with_new_inputs = []

    return BoundedSession


def __getattr__(name):
    if name == "BoundedSession":  # transformers (and torch) load only when a matte is made
        return _session_class()
    raise AttributeError(name)
