"""What ``job.memory`` means on a device: keep everything on it ('fast') or offload ('low')."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MemoryPlan", "memory_plan"]

_LOW_MEMORY_GPU = 16 * 2**30


@dataclass(frozen=True)
class MemoryPlan:
    mode: str  #: 'fast' or 'low'
    decode_chunk: int  #: frames per VAE encode/decode batch
    offload: bool  #: models live on the CPU and visit the device for their stage


def memory_plan(mode: str, device) -> MemoryPlan:
    """What ``job.memory`` means on ``device``; 'auto' is 'low' on a GPU with less than 16 GiB."""
    if mode == "auto":
        mode = "fast"
        if device.type == "cuda":
            import torch

            if torch.cuda.get_device_properties(device).total_memory < _LOW_MEMORY_GPU:
                mode = "low"
    if mode == "low":
        return MemoryPlan("low", 1, device.type != "cpu")
    return MemoryPlan("fast", 8, False)
