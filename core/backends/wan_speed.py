"""The Wan backend's speed and scale (job ``cache``, ``attention``, ``devices``): a cache hook and the attention kernel
on every expert while denoising, each window's and guidance branch's own cache context, an expert split over several
devices, and the cache's share of the memory estimate. A mixin of :class:`.wan_vace.WanVaceBackend`."""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["WanSpeed"]


class WanSpeed:
    """Needs ``self.job``, ``self.parts`` (:class:`.wan_vace_net.WanParts`), ``self.shared_positions``, ``self.loader``."""

    def cache_bytes(self, size, window, frames) -> int:
        """The cache hooks' state: every expert keeps its own (Wan 2.2: two)."""
        cfg = self._transformer_config()
        hidden = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        tokens = (size[0] // 16) * (size[1] // 16) * ((window - 1) // 4 + 1 + self.shared_positions)
        experts = len(self.parts.expert_names)
        return experts * self._cache_bytes(cfg, tokens, hidden, self.loader.dtype.itemsize, window, frames)

    def _cache_bytes(self, cfg, tokens, hidden, nbytes, window, frames) -> int:
        from .cache_hooks import state_bytes

        windows = 1 if frames <= window else -(-(frames - window) // max(1, window - self.job.window.overlap)) + 1
        contexts = windows * (2 if (self.job.guidance_scale or 0) != 1.0 else 1)
        modules = 3 * (int(cfg.get("num_layers", 30)) + len(cfg.get("vace_layers") or ()))
        return state_bytes(self.job.cache, contexts, tokens, hidden, nbytes, modules)

    def _transformer_config(self) -> dict:
        """The transformer's config.json (read without loading it: a render on several devices loads it in the
        device workers only)."""
        import json
        import os

        with open(os.path.join(self._folder(), "transformer", "config.json")) as fh:
            return json.load(fh)

    def parallelize(self, world):
        from .wan_parallel import parallelize

        for name in self.parts.expert_names:  # Wan 2.2: both experts split the same way
            parallelize(self.parts.expert(name), world)

    def _branch(self, model, branch, window):
        """A cached render keeps each window's and guidance branch's features apart (:mod:`.cache_hooks`), in the
        expert that runs (Wan 2.2's experts each keep their own cache state)."""
        from contextlib import nullcontext

        from .cache_hooks import context_name

        return model.cache_context(context_name(branch, window)) if self.job.cache else nullcontext()

    @contextmanager
    def stage(self, name):
        """While denoising: the job's attention kernel and cache hook on the transformer (fresh cache state)."""
        if name != "denoise":
            yield
            return
        from contextlib import ExitStack

        from .attention import attention
        from .cache_hooks import cached

        with ExitStack() as stack:
            stack.enter_context(attention(self.job.attention))
            for name in self.parts.expert_names:  # Wan 2.2: a hook on each expert, fresh state in each
                stack.enter_context(cached(self.parts.expert(name), self.job.cache, self.job.steps))
            yield
