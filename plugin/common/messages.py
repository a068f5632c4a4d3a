"""The one-line messages Recast's hosts show the artist, worded once for the Nuke node and the Blender panel.

Where the hosts' words differ (a node's knob, a panel's button) the host is an argument; everything
else is the same sentence in both. No host module is imported here.
"""

from __future__ import annotations

__all__ = ["NO_PLATE", "NO_OUTPUT_FOLDER", "NO_LORA_TOKEN", "CANCELLING", "empty_range", "fetching_already",
           "resumes", "lora_trained", "training_failed", "model_missing_hint"]

NO_PLATE = "no plate: connect the shot to the 'plate' input"
NO_OUTPUT_FOLDER = "no output folder: set 'output folder', or save the script first"
NO_LORA_TOKEN = "no LoRA token: type the word the LoRA should learn (e.g. 'sks person')"
CANCELLING = "cancelling…"

#: what a cancelled background run says, by host and run: each names what resumes it
_RESUMES = {
    ("nuke", "render"): "cancelled; the frames written so far are kept and Render resumes from them",
    ("nuke", "fetch"): "fetch cancelled; Fetch models resumes it",
    ("nuke", "train"): "training cancelled; Train LoRA with the same settings resumes it",
    ("nuke", "matte"): "cancelled; Matte with the same prompts resumes it",
    ("blender", "fetch"): "Recast: fetching the models of '{label}' was cancelled; Fetch models resumes it",
    ("blender", "train"): "Recast: training cancelled; Train LoRA with the same settings resumes it",
    ("blender", "matte"): "Recast: the matte was cancelled; Matte strip with the same points resumes it",
}

#: after a render failed for a missing model part: where the host says what is missing
_MODEL_HINT = {
    "nuke": "; the node's 'models' line says what is missing, and Fetch models downloads it",
    "blender": "; Check models in the Recast panel says what is missing, and Fetch models downloads it",
}


def resumes(host: str, run: str, **words) -> str:
    """The line of a cancelled ``run`` ('render', 'fetch', 'train', 'matte') in ``host`` ('nuke', 'blender')."""
    return _RESUMES[host, run].format(**words)


def model_missing_hint(host: str) -> str:
    return _MODEL_HINT[host]


def empty_range(first: int, last: int) -> str:
    return f"frame range {first}-{last} is empty: first must not be after last"


def fetching_already(label: str) -> str:
    return f"the models of '{label}' are being fetched already"


def lora_trained(out: str, slot: str | None, token: str) -> str:
    """After a training: where the LoRA went (``slot`` None: every slot is in use) and the word to prompt with."""
    if slot is None:
        return f"LoRA trained: {out} (every LoRA slot is in use: put it in one)"
    return f"LoRA trained: {out}, in slot {slot.split('_')[1]}; use '{token}' in the prompt"


def training_failed(error) -> str:
    return f"training the LoRA failed: {error}"
