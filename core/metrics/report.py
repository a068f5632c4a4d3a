"""The review report: one HTML page a person opens, with PNGs beside it.

``<folder>/index.html`` shows the shot-mean metrics, a contact sheet (``contact_sheet.png``:
plate / plate depth / result for sampled frames, labelled with frame numbers), a plot of the
per-frame metrics over the shot (``metrics.png``: frame numbers on the axis, chunk boundaries
as dashed lines when the render was chunked), the per-frame table and the job's parameters;
``metrics.json`` holds the numbers. Plots are drawn with matplotlib (Agg, no display).
"""

from __future__ import annotations

import html
import json
import os

from .contact_sheet import write_contact_sheet
from .evaluate import METRICS, Evaluation

__all__ = ["write_report"]

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


def write_report(folder: str, ev: Evaluation, job=None) -> str:
    """Write the report into ``folder``; returns the path of its index.html."""
    from ..io.atomic import atomic_path

    os.makedirs(folder, exist_ok=True)
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
<h2>Shot means</h2><table>{means}</table>{chunks}
<h2>Contact sheet</h2><img src="contact_sheet.png" alt="plate, plate depth and result of sampled frames">
<h2>Per frame</h2><img src="metrics.png" alt="per-frame metrics over the shot">
<table><tr><th>frame</th>{"".join(f"<th>{e(m)}</th>" for m in METRICS)}</tr>{rows}</table>
{params}
</body></html>
"""
    path = os.path.join(folder, "index.html")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path
