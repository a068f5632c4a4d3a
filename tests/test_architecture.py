"""The shape of the code: the render reaches its diffusion engine only through the Backend interface,
core imports light and without cycles, modules stay small."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from recast.core.backends import backend_class
from recast.core.backends.base import Backend, Capabilities
from recast.core.errors import JobError, ModelError
from recast.core.io.colour import from_model
from recast.core.io.exrio import read_frame
from recast.core.job import Job
from recast.core.pipeline.render import render
from tests.conftest import job_dict
from tests.test_render import Collect

CORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "core")


class RecordingBackend(Backend):
    """A backend with no network: latents are zeros, every prediction zero, every decode grey 0.5 in model
    space. It records what the render asked of it, in order."""

    name = "recording"
    description = "a recording fake"

    def __init__(self):
        super().__init__()
        self.calls = []
        self.decode_chunk = 4

    @property
    def device(self):
        return torch.device("cpu")

    def latent_shape(self, size):
        return (4, size[1] // 8, size[0] // 8)

    def encode(self, frames):
        self.calls.append(("encode", len(frames)))
        return torch.zeros(len(frames), 4, frames[0].shape[0] // 8, frames[0].shape[1] // 8)

    def decode(self, latents):
        self.calls.append(("decode", latents.shape[0]))
        n, _, h, w = latents.shape
        return np.full((n, h * 8, w * 8, 3), 0.5, np.float32)

    def conditions(self, job, content_cache, depth, masks=None):
        self.calls.append(("conditions", job.prompt, tuple(depth.shape)))
        return {"depth": depth}

    def timesteps(self, steps, strength):
        self.calls.append(("timesteps", steps, strength))
        return torch.arange(steps, 0, -1)

    def initial_latents(self, noise, plate_latents, timesteps, strength):
        self.calls.append(("initial_latents", tuple(noise.shape)))
        return noise.clone()

    def add_noise(self, clean, noise, timestep):
        return clean

    def step(self, prediction, timestep, latents):
        self.calls.append(("step", int(timestep)))
        return latents - prediction

    def predict(self, latents, timestep, conditions, window):
        self.calls.append(("predict", int(timestep), window.start, window.stop))
        assert conditions["depth"][window].shape[0] == latents.shape[0]
        return torch.zeros_like(latents)

    def stage(self, name):
        self.calls.append(("stage", name))
        return super().stage(name)


def test_the_render_reaches_the_engine_only_through_the_backend(tmp_path, plate):
    """Six frames, windows of 4 overlapping by 1, two steps, the plate's own depth: the render asks the
    backend for conditions once, noise shaped by its latent size, one prediction per window per step, one
    step per step, and decodes in its chunks; the frames hold what the backend decoded, in the plate's
    colour space, and the plate's other channels untouched."""
    job = Job.from_dict(job_dict(input={"depth_channel": "depth.Z"}, steps=2), str(tmp_path))
    backend = RecordingBackend()
    result = render(job, reporter=Collect(), backend=backend)

    assert result.frames == list(range(1001, 1007))
    kinds = [c[0] for c in backend.calls]
    assert kinds.count("conditions") == 1 and backend.calls[kinds.index("conditions")][2] == (6, 1, 40, 64)
    assert ("timesteps", 2, 1.0) in backend.calls and ("initial_latents", (6, 4, 5, 8)) in backend.calls
    windows = [(c[2], c[3]) for c in backend.calls if c[0] == "predict"]
    assert windows == [(0, 4), (2, 6)] * 2  # 1001-1004, then 1004-1007 slid inside the range: 1003-1006
    assert [c for c in backend.calls if c[0] == "step"] == [("step", 2), ("step", 1)]
    assert [c for c in backend.calls if c[0] == "decode"] == [("decode", 4), ("decode", 2)]
    assert ("stage", "denoise") in backend.calls and ("stage", "vae") in backend.calls
    assert "encode" not in kinds  # strength 1, no mask: the plate is never encoded

    grey = from_model(np.full((1, 1, 3), 0.5, np.float32), "ACEScg")[0, 0]
    for f in (1001, 1006):
        out, src = read_frame(job.output_sequence.path(f)), read_frame(job.input_sequence.path(f))
        np.testing.assert_allclose(out.rgb()[20, 30], grey, rtol=2e-3)  # half floats
        for name in ("A", "depth.Z"):
            np.testing.assert_array_equal(out.channel(name), src.channel(name))
        assert out.header.attribute("recast/renderer") == "a recording fake"


def test_a_field_the_backend_cannot_honour_is_one_error_naming_field_and_backend(tmp_path, plate):
    class NoTemporal(RecordingBackend):
        name = "no-temporal"
        capabilities = Capabilities(temporal_guidance=False)

    job = Job.from_dict(job_dict(temporal_guidance=1.5), str(tmp_path))
    with pytest.raises(JobError, match="'temporal_guidance' is not supported by the 'no-temporal' backend"):
        NoTemporal.check_job(job)
    NoTemporal.check_job(job.replace(temporal_guidance=1.0))
    with pytest.raises(ModelError, match="backend 'nope'.*animatediff"):
        backend_class("nope")
    assert backend_class("animatediff").capabilities.reference_image


def _modules():
    for folder, _, files in os.walk(CORE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, CORE)[:-3].replace(os.sep, ".")
                yield ("recast.core." + rel).removesuffix(".__init__"), path


def test_core_modules_stay_small():
    big = {m: n for m, p in _modules() if (n := sum(1 for _ in open(p, encoding="utf-8"))) > 300}
    assert not big, f"modules over 300 lines: {big}"


def _module_level_imports(module: str, path: str, everywhere: bool = False) -> set[str]:
    """recast.core modules imported when ``module`` is imported (top-level statements, not in functions); with
    ``everywhere``, every import statement in it (inside functions and methods too)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree) if everywhere else tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.add(full if any(m == full for m, _ in _modules()) else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("recast.core")}


def test_no_module_level_import_cycle():
    graph = {m: _module_level_imports(m, p) for m, p in _modules()}
    state = {}

    def visit(m, stack):
        if state.get(m) == "done":
            return
        if state.get(m) == "open":
            cycle = stack[stack.index(m):] + [m]
            pytest.fail("import cycle: " + " → ".join(cycle))
        state[m] = "open"
        for dep in graph.get(m, ()):
            if dep != m and dep in graph:
                visit(dep, stack + [m])
        state[m] = "done"

    for m in graph:
        visit(m, [])


def _subpackage(module: str) -> str:
    """The core sub-package a module belongs to ('pipeline' for recast.core.pipeline.plan); a top-level module is
    its own ('errors'), the package ``recast.core`` itself is 'recast.core'."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else module


def _subpackage_graph() -> dict[str, dict[str, set[str]]]:
    """sub-package → sub-package it imports → the 'module → module' imports that make the edge, counting every
    import statement (inside functions too: an import there is still a dependency, only a later one)."""
    graph: dict[str, dict[str, set[str]]] = {}
    for m, p in _modules():
        for dep in _module_level_imports(m, p, everywhere=True):
            a, b = _subpackage(m), _subpackage(dep)
            if a != b:  # a sub-package importing itself does not count
                graph.setdefault(a, {}).setdefault(b, set()).add(f"{m} → {dep}")
    return graph


def test_no_import_cycle_between_core_subpackages_counting_imports_inside_functions():
    """Lower layers never import higher ones: io ← shot, models ← backends ← pipeline ← farm, cli …; an import moved
    into a function to dodge a cycle is still a cycle."""
    graph = _subpackage_graph()
    state: dict[str, str] = {}

    def visit(node, stack):
        if state.get(node) == "done":
            return
        if state.get(node) == "open":
            cycle = stack[stack.index(node):] + [node]
            edges = [sorted(graph[a][b])[0] for a, b in zip(cycle, cycle[1:])]
            pytest.fail("import cycle between core sub-packages: " + " → ".join(cycle) + " (" + "; ".join(edges) + ")")
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            visit(dep, stack + [node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])


def test_the_cycle_test_sees_imports_inside_functions():
    """The graph holds an import made only inside a function (farm.runner renders through the pipeline)."""
    graph = _subpackage_graph()
    assert "recast.core.farm.runner → recast.core.pipeline.render" in graph["farm"]["pipeline"]
    assert "pipeline" not in graph or "farm" not in graph["pipeline"]  # chunk planning is the pipeline's own


def test_the_pipeline_names_no_concrete_backend_and_probes_none():
    """Everything the render needs from a backend is declared on Backend: no backend module imported, no getattr or
    hasattr on it."""
    for m, p in _modules():
        if _subpackage(m) != "pipeline":
            continue
        text = open(p, encoding="utf-8").read()
        imported = _module_level_imports(m, p, everywhere=True)
        assert not {d for d in imported if d.startswith("recast.core.backends.") and d != "recast.core.backends.base"}, m
        assert "AnimateDiffBackend" not in text and "WanVaceBackend" not in text, m
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr"):
                assert not (node.args and getattr(node.args[0], "id", None) == "backend"), f"{m}:{node.lineno}"


def test_core_and_its_packages_import_without_torch_or_openimageio():
    packages = sorted(m for m, p in _modules() if p.endswith("__init__.py"))
    code = ("import sys; import " + ", ".join(packages) + "; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'OpenImageIO') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_core_package_is_in_the_install():
    """A sub-package missing from setup.cfg works in a checkout and is absent from a real install (the Blender
    wheel, a studio's pip install)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(os.path.dirname(CORE), "setup.cfg"))
    listed = set(cfg["options"]["packages"].split())
    packages = {m for m, p in _modules() if p.endswith("__init__.py")}
    assert packages <= listed, sorted(packages - listed)


def test_host_modules_stay_small_and_every_host_package_is_in_the_install():
    """The host side (plugin/, blender_addon/, nuke_menu.py) keeps to core's 300 lines a module, and each
    plugin sub-package is installed (setup.cfg's package_dir and packages): a Nuke or Blender install has no
    checkout to fall back on."""
    import configparser

    repo = os.path.dirname(CORE)
    paths = [os.path.join(repo, "nuke_menu.py")]
    for top in ("plugin", "blender_addon"):
        for folder, _, files in os.walk(os.path.join(repo, top)):
            paths += [os.path.join(folder, n) for n in files if n.endswith(".py")]
    big = {os.path.relpath(p, repo): n for p in paths if (n := sum(1 for _ in open(p, encoding="utf-8"))) > 300}
    assert not big, f"modules over 300 lines: {big}"

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(repo, "setup.cfg"))
    listed = set(cfg["options"]["packages"].split())
    mapped = dict(line.split(" = ") for line in cfg["options"]["package_dir"].strip().splitlines())
    plugin = os.path.join(repo, "plugin")
    packages = set()
    for folder, _, files in os.walk(plugin):
        if "__init__.py" in files:
            rel = os.path.relpath(folder, plugin)
            packages.add("recast.plugin" + ("" if rel == "." else "." + rel.replace(os.sep, ".")))
    assert packages <= listed, sorted(packages - listed)
    for package in packages:
        assert mapped.get(package) == package.replace("recast.", "", 1).replace(".", "/"), package
