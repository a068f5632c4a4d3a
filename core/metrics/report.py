"""The review report: one HTML page a person opens, with PNGs beside it.

``<folder>/index.html`` shows the shot-mean metrics, a contact sheet (``contact_sheet.png``:
plate / plate depth / result for sampled frames, labelled with frame numbers), a plot of the
per-frame metrics over the shot (``metrics.png``: frame numbers on the axis, chunk boundaries
as dashed lines when the render was chunked), the per-frame table and the job's parameters;
``metrics.json`` holds the numbers. Plots are drawn with matplotlib (Agg, no display).
"""

from __future__ import annotations

import errno
import html
import itertools
import json
import os
import shutil
import tempfile

from .contact_sheet import write_contact_sheet
from .evaluate import METRICS, Evaluation

__all__ = ["write_report", "check_report_folder"]

_TITLES = {"frame_consistency": "frame consistency (CLIP, t vs t−1) ↑",
           "prompt_consistency": "prompt consistency (CLIP) ↑",
           "warp_error": "warp error (t+1 warped onto t, MSE) ↓",
           "structure_fidelity": "structure fidelity (depth r²) ↑"}


def _plot(path: str, ev: Evaluation) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(METRICS), 1, figsize=(9, 8), sharex=True)
    for ax, m in zip(axes, METRICS):
        xs = [r["frame"] for r in ev.per_frame if r[m] is not None]
        ys = [r[m] for r in ev.per_frame if r[m] is not None]
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2)
        else:
            ax.text(0.5, 0.5, "not measured (no prompt)", transform=ax.transAxes, ha="center", va="center")
        for b in ev.chunk_boundaries:
            ax.axvline(b + 0.5, color="tab:red", linestyle="--", linewidth=1)
        ax.set_title(_TITLES[m], fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("frame" + ("   (dashed: chunk boundaries)" if ev.chunk_boundaries else ""))
    axes[-1].xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def check_report_folder(folder: str) -> None:
    """Refuse, before anything is measured, a folder that already holds something (a report is never overwritten)."""
    from ..errors import RecastError

    if os.path.isdir(folder) and os.listdir(folder):
        raise RecastError(f"report folder {folder!r} is not empty (a report is never overwritten); give another "
                          "--report folder, or leave --report out for a new numbered report beside the render")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise RecastError(f"report folder {folder!r} is a file; give a folder")


def write_report(folder: str, ev: Evaluation, job=None, *, versioned: bool = False, replace: bool = False) -> str:
    """Write the report; returns the path of its index.html.

    The page and its pictures are written into a hidden folder beside the destination, which is then
    renamed into place, so a reader never sees half a report. ``versioned``: the destination is the
    first free ``<folder>_v001``, ``_v002``, …: each evaluation is a new report, never overwriting one.
    ``replace``: ``folder`` itself, an earlier report there replaced (the demo's own folder).
    Otherwise ``folder`` itself, refused when it holds anything.
    """
    from ..io.atomic import shared_mode

    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".recast_report.", dir=parent)
    try:
        _write_into(tmp, ev, job)
        os.chmod(tmp, shared_mode(directory=True))  # mkdtemp makes it 0700; a report is read by the team
        final = _publish(tmp, os.path.abspath(folder), versioned, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(final, "index.html")


def _publish(tmp: str, folder: str, versioned: bool, replace: bool) -> str:
    """Rename the finished ``tmp`` into its place; returns where it went.

    Written by hand: rename(2) of a folder fails when the destination exists and is not empty, which
    makes claiming ``_v003`` atomic between two evaluations writing at once (no library offers this).
    """
    from ..errors import RecastError

    if replace and os.path.isdir(folder):
        old = tempfile.mkdtemp(prefix=".recast_report.old.", dir=os.path.dirname(folder))
        os.rename(folder, os.path.join(old, "report"))
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder
    for dest in (f"{folder}_v{n:03d}" for n in itertools.count(1)) if versioned else [folder]:
        try:
            os.rename(tmp, dest)
            return dest
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
            if not versioned:
                check_report_folder(folder)  # says what is in the way
                raise RecastError(f"report folder {folder!r} cannot be written: {exc.strerror}") from None
    raise AssertionError("unreachable")


def _write_into(folder: str, ev: Evaluation, job=None) -> None:
    from ..io.atomic import atomic_path

    picks = sorted(ev.sampled)
    write_contact_sheet(os.path.join(folder, "contact_sheet.png"),
                        [(label, [(f"frame {f}", ev.sampled[f][r]) for f in picks])
                         for r, label in enumerate(("plate", "plate depth", "result"))])
    _plot(os.path.join(folder, "metrics.png"), ev)
    with atomic_path(os.path.join(folder, "metrics.json")) as tmp, open(tmp, "w") as fh:
        json.dump(ev.to_dict(), fh, indent=2)
    e = html.escape
    means = "".join(f"<tr><th>{e(_TITLES[m])}</th><td>{_fmt(ev.means[m])}</td></tr>" for m in METRICS)
    rows = "".join("<tr>" + f"<td>{r['frame']}</td>" + "".join(f"<td>{_fmt(r[m])}</td>" for m in METRICS) + "</tr>"
                   for r in ev.per_frame)
    params = ""
    if job is not None:
        flat = {}
        for k, v in job.to_dict().items():
            if isinstance(v, dict):
                flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
            else:
                flat[k] = v
        params = "<h2>Job</h2><table>" + "".join(
            f"<tr><th>{e(k)}</th><td>{e(json.dumps(v, ensure_ascii=False))}</td></tr>" for k, v in flat.items()) + \
            "</table>"
    chunks = (f"<p>Chunked render: boundaries after frames {', '.join(map(str, ev.chunk_boundaries))} "
              "(dashed lines).</p>") if ev.chunk_boundaries else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recast report — frames {ev.frames[0]}-{ev.frames[-1]}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; background: #1d1d1f; color: #e8e8e8; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; }}
th, td {{ border: 1px solid #444; padding: 3px 8px; text-align: left; }}
td {{ font-variant-numeric: tabular-nums; }}
img {{ max-width: 100%; background: #fff; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
</style></head><body>
<h1>Recast report — frames {ev.frames[0]}-{ev.frames[-1]}</h1>
<p>Prompt: <q>{e(ev.prompt) or "(none)"}</q></p>
<p>Result: <code>{e(ev.result)}</code> · plate: <code>{e(ev.plate)}</code></p>
<h2>Shot means</h2><table>{means}</table>{chunks}
<h2>Contact sheet</h2><img src="contact_sheet.png" alt="plate, plate depth and result of sampled frames">
<h2>Per frame</h2><img src="metrics.png" alt="per-frame metrics over the shot">
<table><tr><th>frame</th>{"".join(f"<th>{e(m)}</th>" for m in METRICS)}</tr>{rows}</table>
{params}
</body></html>
"""
    with atomic_path(os.path.join(folder, "index.html")) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(page)
