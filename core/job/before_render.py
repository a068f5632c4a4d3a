"""What a job makes before its render, and the files it brings: the LoRAs (``loras`` and the ``customize``
section's trained one) and the matte the ``matte`` section makes from clicks. A mixin of
:class:`~recast.core.job.document.Job`: each is read from the job's fields and resolved against its folder."""

from __future__ import annotations

import os

from ..errors import JobError
from ..io.frames import FrameRange, SequencePattern

__all__ = ["BeforeRender"]


def _same(a: str, b: str) -> bool:
    """Two paths as text name the same file (case folded where the OS folds it: Windows). The files
    themselves are compared before a render (:mod:`recast.core.shot.protect`)."""
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


class BeforeRender:
    """LoRA files and the matte of a :class:`~recast.core.job.document.Job`."""

    def _check_loras(self):
        """Each LoRA is a readable safetensors LoRA (its header, no tensor loaded), and none is there twice."""
        from ..errors import ModelError
        from ..models.lora import read_lora_header

        seen: dict = {}  # each LoRA's identities (its path as text, its file) → its index: linear in the LoRAs
        for i, lora in enumerate(self.loras or ()):
            path = self.path(lora["path"])
            try:
                read_lora_header(path)
            except ModelError as exc:
                raise JobError(f"job field 'loras[{i}]': {exc}") from None
            st = os.stat(path)
            identities = (("path", os.path.normcase(os.path.normpath(path))),) + ((("file", st.st_dev, st.st_ino),)
                                                                                 if st.st_ino else ())
            for ident in identities:
                if ident in seen:
                    raise JobError(f"job field 'loras[{i}]': {path!r} is the same LoRA as loras[{seen[ident]}]; give "
                                   "each LoRA once, with the weight you want")
            for ident in identities:
                seen[ident] = i

    @property
    def trained_lora(self) -> str | None:
        """The LoRA the ``customize`` section trains (absolute path), if the job has one."""
        if self.customize is None:
            return None
        if self.customize.out:
            return self.path(self.customize.out)
        return os.path.join(os.path.dirname(self.path(self.output.pattern)), "lora", "customize.safetensors")

    @property
    def lora_files(self) -> list[tuple[str, float]]:
        """(absolute path, weight) of each LoRA, in order: the job's ``loras``, then the trained one."""
        files = [(self.path(x["path"]), x["weight"]) for x in self.loras or ()]
        if self.customize is not None:
            files.append((self.trained_lora, self.customize.weight))
        return files

    def require_trained_lora(self) -> None:
        """JobError when the ``customize`` section's LoRA is not trained yet (before a render needs it)."""
        path = self.trained_lora
        if path and not os.path.isfile(path):
            raise JobError(f"job field 'customize': its LoRA {path!r} is not trained yet; run 'recast customize --job "
                           "FILE' first (a farm bundle's Customize step does)")

    @property
    def matte_output(self) -> str | None:
        """The matte sequence the ``matte`` section makes (absolute pattern), if the job has one."""
        if self.matte is None:
            return None
        if self.matte.output:
            return self.path(self.matte.output)
        return os.path.join(os.path.dirname(self.path(self.output.pattern)), "matte", "matte.####.exr")

    def require_matte(self, frames=None) -> None:
        """JobError when the ``matte`` section's matte is not made yet for ``frames`` (default: the job's range,
        else its first frame), before a render needs it."""
        if self.matte is None:
            return
        seq = SequencePattern.parse(self.matte_output)
        wanted = frames or self.frame_range
        if isinstance(wanted, FrameRange):  # a range (of any length: the listing, not a stat per frame, when long)
            missing = seq.existing(wanted)[1]
        elif wanted:
            missing = [f for f in wanted if not os.path.isfile(seq.path(f))]
        else:
            missing = [] if seq.scan() else [None]
        if missing:
            raise JobError(f"job field 'matte': its matte {self.matte_output!r} is not made yet"
                           f"{'' if missing == [None] else f' ({len(missing)} frame(s) missing)'}; run 'recast matte "
                           "--job FILE' first (a farm bundle's Matte step does)")

