"""``recast farm deadline|flamenco``: the on-prem farms, Thinkbox Deadline 10 and Flamenco 3, for a job file or
for every shot of a planned cut (``--cut DIR``)."""

from __future__ import annotations

import argparse
import json
import os
import shlex

__all__ = ["add_onprem_options", "run_onprem"]


def add_onprem_options(p) -> None:
    dl = p.add_argument_group("Deadline 10 (the Recast plugin in the repository's custom/plugins)")
    dl.add_argument("--pool", help="the Deadline pool (default: the repository's)")
    dl.add_argument("--group", help="the Deadline group (default: the repository's)")
    dl.add_argument("--priority", type=int, help="job priority, 0-100 (default: Deadline's 50; Flamenco's 50)")
    dl.add_argument("--submit", action="store_true", help="submit with deadlinecommand -SubmitMultipleJobs -dependent")
    dl.add_argument("--install-plugin", metavar="PLUGINS_DIR",
                    help="copy the Recast plugin folder into this folder (<repository>/custom/plugins)")
    fl = p.add_argument_group("Flamenco 3 (the recast job type in the Manager's scripts folder)")
    fl.add_argument("--manager", metavar="URL", help="submit to this Flamenco Manager (POST <URL>/api/v3/jobs)")
    fl.add_argument("--install-job-type", metavar="MANAGER_SCRIPTS_DIR",
                    help="copy recast.js into the Manager's scripts folder (restart the Manager to load it)")


def _shots(args) -> list[tuple[str, object]]:
    """``[(folder name, job with its range), …]``: the job file's, or each shot's of the cut in cut order."""
    from .farm import farm_job

    if args.job:
        return [("", farm_job(args))]
    from ..cut.manifest import read_manifest

    shots = []
    for shot in read_manifest(args.cut):
        one = argparse.Namespace(**{**vars(args), "job": shot.job, "frames": f"{shot.frames[0]}-{shot.frames[1]}"})
        shots.append((f"{shot.index:03d}_{shot.name}", farm_job(one)))
    return shots


def run_onprem(args) -> int:
    from ..errors import JobError
    from ..farm.openjd import check_chunk_size

    check_chunk_size(args.chunk_size)  # before a cut's jobs are loaded or anything is written
    if args.format == "flamenco" and (args.pool or args.group or args.submit or args.install_plugin):
        raise JobError("--pool, --group, --submit and --install-plugin are Deadline's; Flamenco takes --manager, "
                       "--install-job-type and --priority")
    if args.format == "deadline" and (args.manager or args.install_job_type):
        raise JobError("--manager and --install-job-type are Flamenco's; Deadline takes --pool, --group, "
                       "--priority, --submit and --install-plugin")
    shots = _shots(args)
    base = args.out or (os.path.join(args.cut, f"farm_{args.format}") if args.cut else
                        os.path.splitext(os.path.abspath(args.job))[0] + f"_{args.format}")
    written = []
    if args.format == "deadline":
        from ..farm.deadline import check_farm_settings, require_deadlinecommand, write_deadline_jobs
        from ..farm.deadline_plugin import check_plugin_folder, install_plugin, plugin_source

        check_farm_settings(args.pool, args.group, args.priority)
        check_plugin_folder(plugin_source())
        if args.submit:
            require_deadlinecommand()
        if args.install_plugin:
            print(f"Deadline plugin installed: {install_plugin(args.install_plugin)}")
        for name, job in shots:
            written.append(write_deadline_jobs(job, os.path.join(base, name), args.chunk_size, args.pool,
                                               args.group, args.priority, args.submit))
    else:
        from ..farm.flamenco import check_manager, check_scripts_folder, write_flamenco_job

        manager = check_manager(args.manager)
        check_scripts_folder(args.install_job_type)
        for i, (name, job) in enumerate(shots):
            written.append(write_flamenco_job(job, os.path.join(base, name), args.chunk_size, manager,
                                              args.install_job_type if i == 0 else None,
                                              50 if args.priority is None else args.priority))
    if args.json:
        print(json.dumps(written if args.cut else written[0]))
        return 0
    for out in written:
        if args.format == "deadline":
            print(f"Deadline jobs: {out['folder']} ({', '.join(out['jobs'])})")
            if out.get("job_ids"):
                print(f"submitted: {', '.join(out['job_ids'])}")
            else:
                print(f"submit them: {out['submit']}")
        else:
            print(f"Flamenco job: {out['submission']} (job type {out['job_type']})")
            if out.get("installed"):
                print(f"job type installed: {out['installed']} (restart the Manager to load it)")
            if out.get("job"):
                print(f"submitted: job {out['job']['id']} ({out['job'].get('status') or 'queued'})")
    if args.cut:  # these farms get a job per shot and no Conform step (OpenJD's and OpenCue's have one)
        print("when every shot has rendered, conform the timeline on the renders: "
              + shlex.join(["recast", "cut", "--conform-only", "--out", os.path.abspath(args.cut)]))
    return 0
