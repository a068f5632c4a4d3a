"""One long window of the Wan transformer split over several devices: diffusers' context parallelism (Ulysses) with
a plan for the VACE transformer (job ``devices`` when a shot has fewer windows than devices)."""

from __future__ import annotations

__all__ = ["context_parallel_plan", "parallelize"]


def context_parallel_plan() -> dict:
    """Where diffusers' context parallelism splits and gathers the VACE transformer's sequence: diffusers ships a plan
    for ``WanTransformer3DModel`` only, so this one adds what VACE has besides — the control tokens entering the first
    VACE block are split like the video tokens (each rank computes its share of every hint and adds it to the same
    share of the video tokens); the rotary embedding is split once, for both stacks; the output is gathered."""
    from diffusers.models._modeling_parallel import ContextParallelInput, ContextParallelOutput

    tokens = ContextParallelInput(split_dim=1, expected_dims=3, split_output=False)
    return {"rope": {0: ContextParallelInput(split_dim=1, expected_dims=4, split_output=True),
                     1: ContextParallelInput(split_dim=1, expected_dims=4, split_output=True)},
            "vace_blocks.0": {"hidden_states": tokens, "control_hidden_states": tokens},
            "blocks.0": {"hidden_states": tokens},
            "proj_out": ContextParallelOutput(gather_dim=1, expected_dims=3)}


def parallelize(transformer, world: int) -> None:
    """The transformer's attention split over the ``world`` ranks of the process group (Ulysses: each rank attends
    with all tokens for its share of the heads; SDPA needs no log-sum-exp for it, unlike ring attention)."""
    import torch
    from diffusers import ContextParallelConfig

    heads = transformer.config.num_attention_heads
    if heads % world:
        raise ValueError(f"{heads} attention heads cannot be shared by {world} devices; give a number of devices that "
                         f"divides {heads}")
    if transformer.device.type == "cpu":
        # diffusers sets up its device mesh as rank % (accelerators here): on a CPU-only machine that is a division by
        # zero; the CPU counts as the one device every rank shares
        torch.accelerator.device_count = lambda: 1
    transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=world), cp_plan=context_parallel_plan())
