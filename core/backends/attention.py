"""A job's ``attention`` kernel through diffusers' attention dispatcher (``attention_backend``), checked up front.

'auto' leaves diffusers' default (PyTorch's ``scaled_dot_product_attention``, which picks its own kernel);
'sdpa' names it; 'flash' (flash-attn) and 'sage' (SageAttention) need their package and a CUDA GPU. What cannot run
here is one line before anything loads (:func:`check_attention`), not a failure in the first window.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager, nullcontext

from ..errors import JobError

__all__ = ["KERNELS", "check_attention", "attention"]

#: job value → (diffusers' backend name, the package it needs, how to install it)
KERNELS = {"sdpa": ("native", None, None), "flash": ("flash", "flash_attn", "pip install flash-attn"),
           "sage": ("sage", "sageattention", "pip install sageattention")}


def _devices(job) -> list[str]:
    return list(job.devices) if getattr(job, "devices", None) else [job.device]


def check_attention(job, backend_name: str, kernels) -> None:
    """One JobError when ``job.attention`` cannot run: a backend that does not dispatch attention through diffusers
    (``kernels``: what it takes), a kernel package that is not installed, or a device that is not a CUDA GPU."""
    kernel = getattr(job, "attention", "auto")
    if kernel == "auto":
        return
    if kernel not in kernels:
        raise JobError(f"job field 'attention': {kernel!r} is not supported by the '{backend_name}' backend "
                       f"(it takes {', '.join(repr(k) for k in kernels)}); use 'auto'")
    _, package, install = KERNELS[kernel]
    if package is None:
        return
    if importlib.util.find_spec(package) is None:
        raise JobError(f"job field 'attention': {kernel!r} needs the {package} package, which is not installed "
                       f"({install}, on a CUDA GPU); use 'auto' or 'sdpa'")
    for device in _devices(job):
        if device in ("cpu", "mps") or not _cuda_available():
            raise JobError(f"job field 'attention': {kernel!r} runs on CUDA GPUs only and this render runs on "
                           f"{device if device != 'auto' else 'the CPU (no CUDA GPU here)'}; use 'auto' or 'sdpa'")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@contextmanager
def attention(kernel: str):
    """Attention through ``kernel`` ('auto': diffusers' default) within the block, in this process."""
    if kernel in (None, "auto"):
        with nullcontext():
            yield
        return
    from diffusers.models.attention_dispatch import attention_backend

    with attention_backend(KERNELS[kernel][0]):
        yield
