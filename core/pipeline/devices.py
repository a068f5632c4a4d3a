"""Several devices, one shot (job ``devices``): each step's context windows spread over one worker process per device.

The render process keeps everything that is the shot's — conditions, latents, the fusion of the windows'
predictions, the scheduler step, VAE, writing — on the job's ``device``. Each worker process loads the job's
backend on its own device once (:func:`_serve`) and answers one request: the guided prediction of one window
(:meth:`.Backend.predict`). Per step the sampler sends every window out (window k to worker k mod n: a window stays in
one process for the whole render, so a cache hook's per-window state does too), takes the predictions back *in window
order* and fuses them exactly as one process does, so the frames are those of a one-device render (up to the
thread-count rounding of a device's matrix products).

Protocol (``multiprocessing`` spawn context, one ``Pipe`` per worker, messages pickled here: tensors by value, no
shared-memory handles to leak): the render sends ``("begin", conditions)`` once per layer, ``("predict", k, latents,
timestep, window)`` per window, ``("end",)`` and ``("stop",)``; a worker answers ``("ready", pid)``, ``("eps", k,
prediction)`` or ``("error", one line)``. A worker whose pipe closes (the render was killed) exits; a worker that dies
or fails ends the render with one line, and every worker is stopped and joined before the error is raised
(:meth:`DevicePool.close`), so no process is left behind.

A shot of fewer windows than devices (one long window of a big model) is split the other way: every window goes to
every worker, and diffusers' context parallelism (``ContextParallelConfig``, Ulysses: the attention heads shared out,
the tokens all-to-all'd over a ``torch.distributed`` group — NCCL on GPUs, gloo on the CPU) splits its forward pass;
rank 0 answers (:meth:`.Backend.parallelize`). Ring attention needs a kernel that returns its log-sum-exp (flash,
cuDNN), which PyTorch's SDPA on the CPU does not; Ulysses does not.

Written by hand: spreading independent context windows over devices is Recast's own shape (diffusers parallelises
one forward pass, not a sampler's windows).
"""

from __future__ import annotations

import os
import pickle
import time

from ..errors import DeviceError

__all__ = ["DevicePool", "open_pool"]

_READY_SECONDS = 600.0  #: how long a worker may take to start (import torch, build the backend)


def _send(conn, *message) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn):
    return pickle.loads(conn.recv_bytes())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _serve(conn, job, device: str, rank: int = 0, world: int = 1, port: int = 0) -> None:
    """A worker: the job's backend on ``device``, answering window predictions until told to stop or its pipe closes.
    With ``world`` > 1 it is rank ``rank`` of a process group that splits each window's forward pass (context
    parallelism): every rank gets every window, rank 0's answer is the prediction."""
    import dataclasses
    from contextlib import ExitStack

    stack = ExitStack()
    try:
        from ..backends import backend_for
        from ..models.loader import loader_for

        job = dataclasses.replace(job, device=device, devices=None)
        backend = backend_for(job, loader_for(job))
        if world > 1:
            import torch.distributed as dist

            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", rank=rank, world_size=world,
                                    init_method=f"tcp://127.0.0.1:{port}")
            stack.callback(dist.destroy_process_group)
            backend.parallelize(world)
        conditions = None
        denoise = stack.enter_context(ExitStack())  # the denoising stage of the layer being sampled
        _send(conn, "ready", os.getpid())
        while True:
            message = _recv(conn)
            kind = message[0]
            if kind == "begin":
                denoise.close()
                conditions = message[1]
                denoise.enter_context(backend.stage("denoise"))
            elif kind == "predict":
                _, k, latents, timestep, window = message
                eps = backend.predict(latents.to(backend.device), timestep.to(backend.device), conditions, window)
                _send(conn, "eps", k, eps.cpu() if rank == 0 or world == 1 else None)  # one answer a window
            elif kind == "end":
                denoise.close()
            else:  # "stop"
                return
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the render is gone: nothing to answer
    except Exception as exc:  # noqa: BLE001 (any failure on the device becomes the render's one line)
        try:
            _send(conn, "error", _one_line(exc))
        except (OSError, EOFError):
            pass
    finally:
        stack.close()
        conn.close()


class DevicePool:
    """One worker process per device of ``job.devices``, each with the job's backend loaded once."""

    def __init__(self, job, reporter=None, cancel=None, parallel: bool = False):
        import multiprocessing

        self.devices = list(job.devices)
        self.cancel = cancel
        self.parallel = parallel  #: every window split over all devices (context parallelism), not dealt out
        world = len(self.devices) if parallel else 1
        port = _free_port() if parallel else 0
        ctx = multiprocessing.get_context("spawn")
        self.workers = []  # (device, process, connection)
        try:
            for rank, device in enumerate(self.devices):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(theirs, job, device, rank, world, port), daemon=True,
                                   name=f"recast-device-{device}")
                proc.start()
                theirs.close()
                self.workers.append((device, proc, ours))
            self.pids = []
            for n, (device, proc, conn) in enumerate(self.workers):
                message = self._answer(n, "starting", _READY_SECONDS)
                self.pids.append(message[1])
                if reporter is not None:
                    reporter.progress("load", n + 1, len(self.workers), part="device workers", devices=self.devices,
                                      pids=list(self.pids), split="context parallel" if parallel else "windows")
        except BaseException:
            self.close()
            raise

    # --- one step ---------------------------------------------------------------------------------
    def begin(self, conditions) -> None:
        """The shot's conditioning for the windows that follow (each worker enters its denoising stage)."""
        for n, (_, _, conn) in enumerate(self.workers):
            self._post(n, "begin", conditions)

    def end(self) -> None:
        for n in range(len(self.workers)):
            self._post(n, "end")

    def predictions(self, requests, timestep):
        """``requests``: (latents, window slice) per window, in order; yields each window's prediction in that order
        (all are sent first, so the devices work at once)."""
        n = len(self.workers)
        for k, (latents, window) in enumerate(requests):
            for w in (range(n) if self.parallel else (k % n,)):
                self._post(w, "predict", k, latents.detach().cpu(), timestep.detach().cpu(), window)
        for k in range(len(requests)):
            answers = [self._answer(w, "denoising") for w in (range(n) if self.parallel else (k % n,))]
            if any(a[1] != k for a in answers):
                raise DeviceError(f"a device worker answered another window than {k}")
            yield answers[0][2]

    # --- plumbing ---------------------------------------------------------------------------------
    def _post(self, n: int, *message) -> None:
        device, proc, conn = self.workers[n]
        try:
            _send(conn, *message)
        except (OSError, EOFError):
            raise self._gone(n, "denoising") from None

    def _answer(self, n: int, doing: str, timeout: float | None = None):
        device, proc, conn = self.workers[n]
        began = time.monotonic()
        while True:
            if self.cancel is not None:
                self.cancel.check("while waiting for the device workers; a rerun resumes from the last whole step")
            try:
                if conn.poll(0.2):
                    message = _recv(conn)
                    break
            except (OSError, EOFError):
                raise self._gone(self._dead(n), doing) from None
            dead = self._dead(None)  # any worker: a context-parallel peer waits for a dead one instead of failing
            if dead is not None:
                raise self._gone(dead, doing)
            if timeout is not None and time.monotonic() - began > timeout:
                raise DeviceError(f"device worker on {device} did not start within {timeout:.0f} s")
        if message[0] == "error":
            time.sleep(0.5)  # a peer's death shows as this worker's collective failing: name the cause
            dead = self._dead(None)
            if dead is not None:
                raise self._gone(dead, doing)
            raise DeviceError(f"device worker on {device} failed while {doing}: {message[1]}")
        return message

    def _dead(self, default):
        """The first worker that is no longer running, else ``default``."""
        return next((i for i, (_, proc, _) in enumerate(self.workers) if not proc.is_alive()), default)

    def _gone(self, n: int, doing: str) -> DeviceError:
        device, proc, _ = self.workers[n]
        proc.join(timeout=5)
        code = proc.exitcode
        how = f"was killed (signal {-code})" if code is not None and code < 0 else f"exited (code {code})"
        return DeviceError(f"device worker on {device} (pid {proc.pid}) {how} while {doing}; the render stopped, no "
                           "frame of this range was written by it, and a rerun resumes from the last whole step")

    def close(self) -> None:
        """Stop every worker and wait for it: asked first, then terminated, then killed."""
        for _, proc, conn in self.workers:
            try:
                if proc.is_alive():
                    _send(conn, "stop")
            except (OSError, EOFError):
                pass
        deadline = time.monotonic() + 5
        for _, proc, conn in self.workers:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
        self.workers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_pool(job, backend=None, windows: int = 0, reporter=None, cancel=None):
    """A :class:`DevicePool` for a job with ``devices`` (each checked to exist here first: one line), else None.
    Fewer ``windows`` a step than devices, on a backend that can split a window (:attr:`.Backend.context_parallel`)
    and without a cache hook (each rank would decide alone what to skip): every window split over all devices;
    otherwise the windows dealt out."""
    if not getattr(job, "devices", None):
        return None
    from ..models.loader import select_device

    for device in job.devices:
        select_device(device, job.precision)  # a missing GPU is one ModelError before any process starts
    parallel = bool(backend is not None and backend.context_parallel and windows < len(job.devices) and not job.cache)
    return DevicePool(job, reporter, cancel, parallel)
