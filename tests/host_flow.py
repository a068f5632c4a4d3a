"""The host side of a Recast render as an older host Python runs it (Nuke 14: 3.9, Nuke 15: 3.10), for
``python3.X -S host_flow.py ARGS_JSON``: no site-packages (no numpy, torch or OpenImageIO), Recast from the
checkout through ``nuke_path/init.py``, the fake ``nuke``. It builds a Recast node from the toolbar, turns its
knobs into a job file (validated by the job schema), and runs the real worker (``$RECAST_WORKER``, a Python
3.11 with torch) through ``RenderProcess`` until it is done. Prints ``RESULT {json}``."""

import json
import os
import runpy
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "fake_nuke"))


def main(args):
    import nuke

    runpy.run_path(os.path.join(REPO, "nuke_path", "init.py"), run_name="__main__")
    runpy.run_path(os.path.join(REPO, "nuke_path", "menu.py"), run_name="__main__")
    from recast.plugin.common import host_job
    from recast.plugin.nuke import knobs as nuke_knobs
    from recast.plugin.common.worker import RenderProcess

    nuke.menu("Nodes").findItem("Recast/Recast").invoke()
    node = nuke.selectedNode()
    for name, value in args["knobs"].items():
        node[name].setValue(value)
    values = nuke_knobs.knob_values(node)
    folder = args["out"]
    paths = nuke_knobs.Paths(folder=folder, plate=args["plate"], result=os.path.join(folder, "render", "r.####.exr"),
                             job=os.path.join(folder, "r.recast.json"), logs=os.path.join(folder, "logs"))
    data = nuke_knobs.job_data(values, paths, 1001, 1006, "ACEScg")
    job = host_job.validate(data, folder)
    host_job.save_job(job, paths.job)
    events = []
    process = RenderProcess(paths.job, log_dir=paths.logs, on_event=events.append)
    end = time.monotonic() + 300
    while not process.finished and time.monotonic() < end:
        time.sleep(0.1)
    print("RESULT " + json.dumps({"python": sys.version.split()[0], "state": process.state, "error": process.error,
                                  "frames": process.frames_done, "text": host_job.progress_text(process),
                                  "kinds": sorted({e.get("event") for e in events}),
                                  "modules": sorted(m for m in ("numpy", "torch", "OpenImageIO") if m in sys.modules),
                                  "model_view": job.model_view}))


if __name__ == "__main__":
    main(json.loads(sys.argv[-1]))
