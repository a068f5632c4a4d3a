"""The review folder (``recast review``): how long building it takes for a 2K shot with two versions, and whether
its player holds the shot's rate in headless Chromium.

No model is needed: the plate is the synthetic shot (:mod:`recast.core.shot.synthetic`, 2048x1080 ACEScg RGBA
half + depth) and the two versions are fake results — the plate's frames graded and written as the render and as
variant ``v001`` (each with the ``recast/job`` header a render writes), which is all the review reads. Building is
timed in-process, the default way (the default view baked once into a 3D lookup, proxies in a pool of threads)
against the exact display transform on every proxy (``--exact``) in the same run, then the baked build with one
thread (the pool's ratio) and a cheaper view; each ``--runs`` times, median and spread. Playback loads the page
in headless Chromium (Debian's ``chromium`` and ``chromium-driver``), plays for a few seconds in each mode and counts
the frames drawn against the frames due at the shot's rate.

    python bench/review.py                  # 100 frames
    python bench/review.py --frames 24 --seconds 4
    python bench/review.py --frames 24 --runs 3       # each build three times: median (± max - min)
    python bench/review.py --skip-one-thread          # no build with one thread (the pool's ratio)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

VIDEO = "sRGB - Display/Video (colorimetric)"  #: a cheaper view of the default config, for comparison


def _shot(folder: str, frames: int, width: int, height: int) -> str:
    """The plate, a render and a variant of it on disk; returns the job file."""
    import numpy as np
    import OpenImageIO as oiio

    from recast.core.shot.synthetic import write_synthetic_plate

    plate = os.path.join(folder, "plate", "sh010.####.exr")
    write_synthetic_plate(plate, 1001, frames, width=width, height=height)
    job = {"schema": "recast.job/1", "input": {"pattern": "plate/sh010.####.exr", "frames": f"1001-{1000 + frames}",
                                               "colorspace": "ACEScg"},
           "output": {"pattern": "render/sh010_recast.####.exr"}, "prompt": "bronze", "seed": 1, "model": "tiny"}
    job_file = os.path.join(folder, "job.json")
    with open(job_file, "w") as fh:
        json.dump(job, fh)
    variant_dir = os.path.join(folder, "render", "recast_variants", "v001")
    os.makedirs(variant_dir)
    with open(os.path.join(variant_dir, "job.json"), "w") as fh:
        json.dump({**job, "input": {**job["input"], "pattern": os.path.join(folder, "plate", "sh010.####.exr")},
                   "output": {"pattern": os.path.join(variant_dir, "sh010_recast.####.exr")}, "prompt": "chalk"}, fh)
    for f in range(1001, 1001 + frames):
        src = oiio.ImageBuf(plate.replace("####", str(f)))
        for out, grade, prompt in ((os.path.join(folder, "render"), (1.2, 0.9, 0.6), "bronze"),
                                   (variant_dir, (0.8, 0.8, 1.1), "chalk")):
            px = src.get_pixels(oiio.FLOAT)
            px[:, :, :3] *= np.asarray(grade, np.float32)
            buf = oiio.ImageBuf(src.spec())
            buf.set_pixels(oiio.ROI(), px)
            buf.specmod().attribute("recast/job", json.dumps({**job, "prompt": prompt}))
            buf.write(os.path.join(out, f"sh010_recast.{f}.exr"), oiio.HALF)
    return job_file


def _build(job_file: str, out: str, threads: int | None, view: str | None = None, exact: bool = False,
           runs: int = 1) -> tuple[float, float]:
    """Median and spread (max - min) of ``runs`` builds, in seconds."""
    import statistics

    from recast.core.review import build_review

    times = []
    for _ in range(runs):
        began = time.perf_counter()
        build_review(job_file, out=out, threads=threads, view=view, exact=exact)
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times) - min(times)


def _playback(page: str, seconds: float) -> list[tuple[str, dict]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    rows = []
    try:
        began = time.perf_counter()  # the page's load event waits for the preloaded frames: timed from here
        driver.get("file://" + page)
        while not driver.execute_script("return window.recastReview && window.recastReview.ready"):
            time.sleep(0.05)
        rows.append(("page loaded, every frame preloaded (s)", {"seconds": time.perf_counter() - began}))
        decoded = driver.execute_script("var r = window.recastReview; return r.decoded ? r.decoded() : 0")
        rows.append(("proxies drawn from decoded ImageBitmaps", {"count": decoded}))
        for mode in ("single", "wipe", "diff", "grid"):
            driver.execute_script("var r = window.recastReview; r.state.a = 'plate'; r.state.b = 'render';"
                                  "r.state.i = 0; r.setMode(arguments[0]); r.play(true);", mode)
            time.sleep(seconds)
            stats = driver.execute_script("var r = window.recastReview; r.play(false); return r.stats;")
            rows.append((mode, stats))
    finally:
        driver.quit()
    return rows


def _print_playback(rows, seconds) -> None:
    print(f"| playback ({seconds:g} s a mode, 24 fps) | frames due | frames drawn | dropped |\n|---|---:|---:|---:|")
    for name, stats in rows:
        if "seconds" in stats:
            print(f"| {name} | {stats['seconds']:.2f} | | |")
        elif "count" in stats:
            print(f"| {name} | {stats['count']} | | |")
        else:
            print(f"| {name} | {stats['expected']} | {stats['shown']} | {stats['dropped']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=float, default=5.0, help="playback per mode")
    parser.add_argument("--keep", help="build in this folder and keep it")
    parser.add_argument("--skip-one-thread", action="store_true", help="no build with one thread (the ratio)")
    parser.add_argument("--runs", type=int, default=1, help="builds of each kind (median and spread)")
    parser.add_argument("--exact-runs", type=int, default=None, help="builds with the exact transform (default --runs)")
    parser.add_argument("--skip-playback", action="store_true")
    parser.add_argument("--playback-of", metavar="DIR", help="only play the review in DIR (a kept folder's review/)")
    args = parser.parse_args()
    if args.playback_of:
        _print_playback(_playback(os.path.join(args.playback_of, "index.html"), args.seconds), args.seconds)
        return 0
    folder = args.keep or tempfile.mkdtemp(prefix="recast_bench_review.")
    try:
        began = time.perf_counter()
        job_file = _shot(folder, args.frames, args.width, args.height)
        made = time.perf_counter() - began
        from recast.core.review.proxies import default_view

        load = os.getloadavg()
        review = os.path.join(folder, "review")
        rows = [(f"default view (`{default_view()}`) baked, {min(8, os.cpu_count() or 2)} threads",
                 _build(job_file, review, None, runs=args.runs))]
        exact = _build(job_file, os.path.join(folder, "review_exact"), None, exact=True,
                       runs=args.exact_runs or args.runs)
        rows.append(("default view exact (`--exact`), same threads", exact))
        if not args.skip_one_thread:
            rows.append(("default view baked, one thread", _build(job_file, os.path.join(folder, "review_1"), 1,
                                                                  runs=args.runs)))
        rows.append((f"`--view '{VIDEO}'` (exact: not baked), same threads",
                     _build(job_file, os.path.join(folder, "review_video"), None, VIDEO, runs=args.runs)))
        proxies = 3 * args.frames
        print(f"{args.frames} frames of {args.width}x{args.height}, plate + 2 versions ({proxies} proxies of 1024 px); "
              f"{os.cpu_count()} CPU cores; shot written in {made:.1f} s; load average {load[0]:.2f} before the "
              f"builds, {os.getloadavg()[0]:.2f} after; median of {args.runs} (exact: {args.exact_runs or args.runs})\n")
        print("| build | seconds (± spread) | proxies/s | vs exact |\n|---|---:|---:|---:|")
        for name, (sec, spread) in rows:
            print(f"| {name} | {sec:.1f} (±{spread:.1f}) | {proxies / sec:.2f} | {exact[0] / sec:.1f}x |")
        print()
        if args.skip_playback:
            return 0
        _print_playback(_playback(os.path.join(folder, "review", "index.html"), args.seconds), args.seconds)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
