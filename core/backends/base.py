"""The Backend interface: everything the sampler and the render stages need from a diffusion engine.

The render (``pipeline/``) owns the shot: which frames, their noise, the context windows and
their fusion, the plate's colour and windows, resume and writing. A backend owns the model:
its latent space (encode/decode, latent size and temporal compression), its conditioning
(content and structure turned into whatever its network takes), its scheduler (timesteps,
the first latents, noising, one step) and one guided prediction for one context window.

A model with temporal compression ``c`` (AnimateDiff 1; Wan 2.1's VAE 4) holds ``1 + c·k``
frames in ``1 + k`` latent frames, so its windows and chunks are laid on that grid; its
scheduler may be DDIM (ε-prediction) or flow matching (velocity): the sampler only calls
:meth:`Backend.step`, :meth:`Backend.add_noise` and :meth:`Backend.initial_latents`.

Job features a backend may lack are named in :class:`Capabilities`; :meth:`Backend.check_job`
turns a job field it cannot honour into one :class:`~recast.core.errors.JobError` naming the
field and the backend, before anything is loaded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, fields

from ..errors import JobError

__all__ = ["Capabilities", "Backend"]


@dataclass(frozen=True)
class Capabilities:
    """Which job features a backend honours."""

    strength: bool = True  #: strength < 1 (start from the plate: SDEdit)
    temporal_guidance: bool = True  #: ω_t ≠ 1 (Gen-1's temporal guidance: an image-model pass)
    reference_image: bool = True  #: a reference image as content
    masks: bool = True  #: a matte restricting the edit
    loras: bool = True  #: LoRA files applied to the network

    #: job field each feature is asked for by, and the value that does not ask for it
    FIELDS = {"strength": ("strength", 1.0), "temporal_guidance": ("temporal_guidance", 1.0),
              "reference_image": ("reference_image", None), "masks": ("input.mask_channel", None),
              "loras": ("loras", None)}


def _job_value(job, path: str):
    value = job
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


class Backend(ABC):
    """One diffusion engine behind the sampler. Instances are made per render by
    :func:`recast.core.backends.backend_for`; models load on first use, not in ``__init__``."""

    name: str = ""  #: the preset's ``backend`` value
    description: str = ""  #: the stack, as the start event and frame headers record it
    capabilities: Capabilities = Capabilities()
    trains_loras: bool = True  #: a LoRA trained by ``recast customize`` (SD 1.5) fits it (the job's ``customize``)
    temporal_compression: int = 1  #: frames per latent frame (windows hold 1 + c·k frames)
    size_multiple: int = 8  #: model sizes are multiples of this (pixels)
    window_limits: tuple[int, int] = (2, 32)  #: shortest and longest context window, in frames (1 + c·k ones only)
    #: leading latent positions every context window sees besides its own (a reference image's slot): the sampler
    #: keeps them ahead of the shot's positions, gives them the windows' mean prediction and drops them at decode
    shared_positions: int = 0
    #: the VAE takes a range as one causal video (Wan): :meth:`encode` gets the whole range (a sequence read as it
    #: is indexed) and :meth:`decode_stream` gives it back a frame group at a time; otherwise (the default) frames
    #: are independent and go through :meth:`encode`/:meth:`decode` in fixed chunks of :attr:`decode_chunk` frames
    video_vae: bool = False
    #: the network takes diffusers' cache hooks (job ``cache``: :mod:`.cache_hooks`), and the job ``attention`` kernels
    #: it takes through diffusers' dispatcher (:mod:`.attention`)
    cache_hooks: bool = False
    attention_kernels: tuple[str, ...] = ("auto", "sdpa")
    #: one window's forward pass can be split over several devices (diffusers' context parallelism: :meth:`parallelize`)
    context_parallel: bool = False

    def __init__(self):
        self.timing: dict[str, float] = {}  #: seconds per part: load, conditions, unet, controlnet, vae, write
        self.decode_chunk: int = 8  #: frames per encode/decode batch (fixed, so resumed frames decode alike)
        self.warnings: list[str] = []  #: what the artist should know (e.g. a prompt cut to the encoder's length)

    # --- before anything loads -------------------------------------------------------
    @classmethod
    def check_job(cls, job) -> None:
        """Every job field this backend cannot honour is one JobError naming field and backend."""
        for feature in fields(Capabilities):
            field_name, off = Capabilities.FIELDS[feature.name]
            value = _job_value(job, field_name)
            if feature.name == "masks" and value is None:
                value = _job_value(job, "input.mask_pattern")
            if not getattr(cls.capabilities, feature.name) and value not in (off, None, [], ()):
                raise JobError(f"job field '{field_name}' is not supported by the '{cls.name}' backend "
                               f"(remove it, or pick a model preset whose backend supports it)")
        if not (cls.capabilities.loras and cls.trains_loras) and getattr(job, "customize", None) is not None:
            raise JobError(f"job section 'customize' is not supported by the '{cls.name}' backend: it trains an SD 1.5 "
                           "LoRA, which this backend cannot apply (remove the section, or pick a model preset whose "
                           "backend supports it)")
        if getattr(job, "cache", None) and not cls.cache_hooks:
            raise JobError(f"job field 'cache' is not supported by the '{cls.name}' backend: its network takes no "
                           "diffusers cache hook (remove it, or pick a Wan model preset)")
        from .attention import check_attention

        check_attention(job, cls.name, cls.attention_kernels)
        lo, hi = cls.window_limits
        c, length = cls.temporal_compression, job.window.length
        if not lo <= length <= hi or (length - 1) % c:
            grid = f" with length = 1 + {c}k ({lo}, {lo + c}, … {hi})" if c > 1 else ""
            raise JobError(f"job field 'window.length': {length} is not allowed for the '{cls.name}' "
                           f"backend; expected {lo}..{hi}{grid}")

    @classmethod
    def describe(cls, preset) -> str:
        """The stack a render with ``preset`` records (start event, frame headers): :attr:`description` by default."""
        return cls.description

    def require_parts(self, job) -> None:
        """Every model part the job needs is there (one clear ModelError before anything runs)."""

    def estimate_memory(self, size: tuple[int, int], window: int, frames: int) -> dict[str, int] | None:
        """Rough peak bytes on the device by part (weights, one window, one decode batch, the shot's
        latents) for a model size (width, height), window length and range length; None: no estimate.
        Must not load a model (configs and safetensors headers only)."""
        return None

    # --- latent space ------------------------------------------------------------------
    @abstractmethod
    def latent_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        """The latents of one frame (one latent frame) for a model size (width, height)."""

    @abstractmethod
    def encode(self, frames: list):
        """Model-space frames (H×W×3 in [0, 1]) → latents on the device."""

    @abstractmethod
    def decode(self, latents):
        """Latents → model-space frames (N, H, W, 3) float32 in [0, 1] (numpy, CPU)."""

    def decode_stream(self, latents):
        """The frames of ``latents`` in order, a group at a time (each (n, H, W, 3) as :meth:`decode` gives them); a
        :attr:`video_vae` decodes a range this way. By default: chunks of :attr:`decode_chunk` through :meth:`decode`."""
        for i in range(0, latents.shape[0], self.decode_chunk):
            yield self.decode(latents[i:i + self.decode_chunk])

    # --- conditioning --------------------------------------------------------------------
    @abstractmethod
    def conditions(self, job, content_cache: str, depth, masks=None):
        """The shot's conditioning for :meth:`predict`: the job's content (prompt, reference image;
        cached in ``content_cache``) and ``depth`` (N, 1, H, W) float16 at the structure level; ``masks``
        (N, 1, H, W) float32, 1 = edit, where the job has a matte (None: no matte) — a backend whose network
        takes what to generate (Wan VACE) conditions on it, others may ignore it (the sampler blends the latents
        through the mask either way)."""

    # --- the scheduler -------------------------------------------------------------------
    @abstractmethod
    def timesteps(self, steps: int, strength: float):
        """The timesteps a render with ``steps`` and ``strength`` runs (SDEdit keeps the last share)."""

    @abstractmethod
    def initial_latents(self, noise, plate_latents, timesteps, strength: float):
        """The first latents: noise alone at strength 1, else the plate's latents noised to the first step."""

    @abstractmethod
    def add_noise(self, clean, noise, timestep):
        """``clean`` latents at the noise level of ``timestep`` (a one-element tensor)."""

    #: the scheduler draws fresh noise at every step (LCM's multistep sampling): the sampler hands :meth:`step` each
    #: frame's noise for that step, drawn from (seed, frame, step), so chunks and resumed renders agree
    stochastic_steps: bool = False

    @abstractmethod
    def step(self, prediction, timestep, latents, noise=None):
        """One scheduler step of every frame from the fused prediction; returns the next latents. ``noise``: each
        frame's fresh noise for this step (only for a backend with :attr:`stochastic_steps`)."""

    #: the latent → RGB table of live previews ((factors C×3, bias 3): :mod:`.latent_rgb`); None: no previews
    latent_preview = None

    def denoised(self, latents, prediction, timestep):
        """The clean latents that ``prediction`` at ``timestep`` points to (what a live preview shows); by default
        the latents as they are."""
        return latents

    # --- one window ------------------------------------------------------------------------
    @abstractmethod
    def predict(self, latents, timestep, conditions, window: slice):
        """Guided prediction for one context window: ``latents`` are the window's, ``window`` indexes
        the shot's conditions (position in the range, not frame numbers)."""

    def parallelize(self, world: int) -> None:
        """Split the network's forward pass over the ``world`` processes of the initialised process group (each
        calls it; :attr:`context_parallel` backends only)."""
        raise NotImplementedError(f"the '{self.name}' backend cannot split one window over several devices")

    @property
    def device(self):
        """The torch device the latents live on."""
        raise NotImplementedError

    @contextmanager
    def stage(self, name: str):
        """Within the block only the parts of ``name`` ('denoise', 'vae') need be on the device
        (a backend that offloads moves them); by default nothing moves."""
        yield
