"""A job's ``cache`` as diffusers' own feature-cache hooks on a transformer (First-Block, Mag, TaylorSeer).

diffusers' cache hooks keep their state per *cache context* (``model.cache_context(name)``): a pipeline names its
calls 'cond' and 'uncond' so the two guidance branches never reuse each other's features. Recast calls the
transformer once per context window and guidance branch every step, so :func:`context_name` names each call by its
branch and the window's position in the shot: a window's step k compares with, and reuses, only the features of the
same window and branch at step k − 1. The state is dropped (``_reset_stateful_cache``) when a denoising pass begins
and ends (:func:`cached`), so a farm server or the desk service that keeps the transformer never carries one
render's features into the next. Which worker runs a window is fixed for a render (:mod:`recast.core.pipeline.devices`),
so each window's state stays in one process.

A cache decides per call whether to skip blocks, so a cached render is not the uncached one; its setting is in the
job's fingerprint (resume and farm chunks never mix cached and uncached frames) and in every frame's header.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..job.speed import describe  # the job's own record of its cache, for the backends

__all__ = ["cache_config", "cached", "context_name", "describe", "state_bytes"]

#: the modules whose outputs TaylorSeer forecasts between full steps (a Wan block's attentions and feed-forward)
TAYLORSEER_MODULES = (r"^(vace_)?blocks\.\d+\.(attn1|attn2|ffn)$",)


def state_bytes(cache: dict, contexts: int, tokens: int, hidden: int, nbytes: int, modules: int) -> int:
    """What a cache hook keeps between steps for ``contexts`` cache contexts (windows × guidance branches) of a
    transformer with ``modules`` attention and feed-forward modules: First-Block two residuals of the hidden states,
    MagCache one, TaylorSeer (max order 1, fp32 factors) two per module."""
    state = tokens * hidden
    if cache["method"] == "taylorseer":
        return contexts * modules * 2 * state * 4
    return contexts * (2 if cache["method"] == "first_block" else 1) * state * nbytes


def cache_config(cache: dict, steps: int):
    """diffusers' config object for the job's ``cache`` (normalised by the job's check) and a render of ``steps``."""
    from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

    method = cache["method"]
    if method == "first_block":
        return FirstBlockCacheConfig(threshold=float(cache["threshold"]))
    if method == "mag":
        return MagCacheConfig(threshold=float(cache["threshold"]), mag_ratios=list(cache["ratios"]),
                              num_inference_steps=int(steps))
    if method == "taylorseer":
        import torch

        # diffusers' default module patterns ('^blocks.*attn', matched whole) name Flux's 'attn', not Wan's 'attn1',
        # 'attn2' and 'ffn': name them (the main blocks and VACE's)
        return TaylorSeerCacheConfig(cache_interval=int(cache["interval"]),
                                     disable_cache_before_step=int(cache["warmup"]), taylor_factors_dtype=torch.float32,
                                     cache_identifiers=list(TAYLORSEER_MODULES))
    raise ValueError(f"unknown cache method {method!r}")


def context_name(branch: str, window: slice) -> str:
    """The cache context of one transformer call: its guidance branch and its window's place in the shot."""
    return f"{branch}:{window.start}-{window.stop}"


@contextmanager
def cached(model, cache: dict | None, steps: int):
    """``model`` (a diffusers ``CacheMixin``) with the job's cache hook for the block, fresh state at both ends; the
    hook is removed afterwards (the model may be kept for a render with another cache, or none)."""
    if not cache:
        yield
        return
    model.enable_cache(cache_config(cache, steps))
    try:
        model._reset_stateful_cache()
        yield
    finally:
        model._reset_stateful_cache()
        model.disable_cache()
