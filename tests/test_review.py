"""The review folder (``recast review``) driven in a real headless browser: Debian's ``chromium`` and
``chromium-driver`` through Selenium (installed by ``.ci/run``; the ``test`` extra brings selenium).

One tiny shot is rendered once for the module (64x40, 4 frames, the tiny preset): the render, two variants
(``recast variants``, which rebuilds the review itself), a compared job of the same plate, and a metrics file as
``recast eval`` writes it. One browser serves every test. Screenshots of each mode go to
``$RECAST_TEST_ARTIFACTS/review/`` (default: ``test-artifacts/review/`` in the repo).

Chrome treats every file:// file as its own origin: the page may draw its proxies but not read them back (it
never needs to). The test browser is started with ``--allow-file-access-from-files`` only so that the test can
read back what the page drew (``getImageData``).
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest

from tests.conftest import events, job_dict, run_cli

pytestmark = pytest.mark.usefixtures("recast_cache")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(os.environ.get("RECAST_TEST_ARTIFACTS", os.path.join(REPO, "test-artifacts")), "review")
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FRAMES = range(1001, 1005)


def _proxy(path) -> np.ndarray:
    import OpenImageIO as oiio

    return oiio.ImageBuf(str(path)).get_pixels(oiio.UINT8)[:, :, :3].astype(np.float32)


def _write_job(folder, name, **overrides) -> str:
    path = folder / name
    path.write_text(json.dumps(job_dict(**overrides)))
    return str(path)


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    """A rendered shot with two variants, a compared job and a metrics report; its review built by
    ``recast review --job J --compare J2 --json``: ``(folder, job file, done event, variants' events)``."""
    from recast.core.shot.synthetic import write_synthetic_plate

    root = tmp_path_factory.mktemp("review_shot")
    write_synthetic_plate(str(root / "plate" / "sh010.####.exr"), 1001, 4, width=64, height=40)
    job = _write_job(root, "job.json", input={"frames": "1001-1004", "mask_channel": "A"}, handles=0)
    r = run_cli("render", "--job", job, "--json")
    assert r.returncode == 0, r.stderr
    r = run_cli("variants", "--job", job, "--prompt", "chalk", "--prompt", "bronze", "--json")
    assert r.returncode == 0, r.stderr
    variant_events = events(r.stdout)
    # a compared job of the same plate: another output (its frames copied, not rendered: the review only reads them)
    other = _write_job(root, "job_b.json", input={"frames": "1001-1004"}, output={"pattern": "render_b/sh010_b.####.exr"},
                       seed=99)
    (root / "render_b").mkdir()
    for f in FRAMES:
        shutil.copyfile(root / "render" / "recast_variants" / "v002" / f"sh010_recast.{f}.exr",
                        root / "render_b" / f"sh010_b.{f}.exr")
    # a metrics report as recast eval writes it, for the render
    report = root / "recast_report" / "sh010_recast_v001"
    report.mkdir(parents=True)
    per_frame = [{"frame": f, "frame_consistency": 0.9 + 0.01 * k, "prompt_consistency": 0.2, "warp_error": 0.01 * k,
                  "structure_fidelity": None} for k, f in enumerate(FRAMES)]
    (report / "metrics.json").write_text(json.dumps({
        "frame_consistency": 0.91, "prompt_consistency": 0.2, "warp_error": 0.02, "structure_fidelity": None,
        "per_frame": per_frame, "frames": "1001-1004", "prompt": "x", "chunk_boundaries": [],
        "plate": str(root / "plate" / "sh010.####.exr"), "result": str(root / "render" / "sh010_recast.####.exr")}))
    r = run_cli("review", "--job", job, "--compare", other, "--json")
    assert r.returncode == 0, r.stderr
    seen = events(r.stdout)
    proxies = [e for e in seen if e["event"] == "progress"]
    assert proxies[-1] == {"event": "progress", "stage": "proxies", "done": 24, "total": 24}  # 5 versions + matte
    return root, job, seen[-1], variant_events


@pytest.fixture(scope="module")
def browser(shot, tmp_path_factory):
    """Headless Chromium through Selenium, with its network and console logs; the page of ``shot`` loaded."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1100,900", "--no-first-run"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.get("file://" + shot[2]["path"])
        _wait(driver, "return window.recastReview && window.recastReview.ready")
        driver.downloads = downloads
        yield driver
    finally:
        driver.quit()


def _wait(driver, script, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"the page never satisfied: {script}")


def _canvas(driver) -> np.ndarray:
    """The player's canvas as H×W×3 float (0-255), read back from the page."""
    w, h, data = driver.execute_script(
        "var c = document.getElementById('view');"
        "return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];")
    return np.asarray(data, np.float32).reshape(h, w, 4)[:, :, :3]


def _set(driver, mode, **state):
    """A mode and state fields set as the page's controls set them, the frame drawn."""
    driver.execute_script("var r = window.recastReview; Object.assign(r.state, arguments[1]); r.setMode(arguments[0]);",
                          mode, state)


def _shoot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))


def test_the_review_is_a_self_contained_folder_of_every_version(shot):
    root, job, done, variant_events = shot
    folder = root / "render" / "review"
    assert done == {"event": "done", "path": str(folder / "index.html")}
    assert [e for e in variant_events if e["event"] == "review"] == [{"event": "review", "path": done["path"]}]
    assert sorted(os.listdir(folder)) == ["data.js", "frames", "index.html", "player.css", "player.js"]
    assert sorted(os.listdir(folder / "frames")) == ["c1", "matte", "plate", "render", "v001", "v002"]
    for key in ("plate", "render", "v001", "v002", "c1"):
        assert sorted(os.listdir(folder / "frames" / key)) == [f"{f}.jpg" for f in FRAMES]
        assert _proxy(folder / "frames" / key / "1001.jpg").shape == (40, 64, 3)
    assert not [n for n in os.listdir(root / "render") if n.startswith(".recast_review")]  # nothing left aside
    text = "".join((folder / n).read_text() for n in ("index.html", "data.js", "player.js", "player.css"))
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    data = json.loads((folder / "data.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    versions = {v["key"]: v for v in data["versions"]}
    assert list(versions) == ["plate", "render", "v001", "v002", "c1"]
    assert versions["v001"]["labels"]["prompt"] == "chalk" and versions["v002"]["labels"]["prompt"] == "bronze"
    assert versions["render"]["labels"]["seed"] == 1234 and versions["render"]["labels"]["model"] == "tiny"
    assert versions["c1"]["labels"]["seed"] == 1234  # the header's job: the frames were copied from a variant
    assert versions["render"]["metrics"]["frame_consistency"]["1002"] == pytest.approx(0.91)
    assert versions["v001"]["metrics"] is None and data["fps"] == 24 and data["frames"] == list(FRAMES)


def test_the_page_loads_from_disk_with_no_request_and_no_error(browser):
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert requests and all(u.startswith("file://") or u.startswith("data:") for u in requests), requests
    assert any(u.endswith("/frames/v002/1004.jpg") for u in requests)  # every frame preloaded
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    _set(browser, "single", a="plate", i=0)
    _shoot(browser, "single")


def test_stepping_frames_changes_the_picture_and_the_timecode(browser):
    _set(browser, "single", a="plate", i=0)
    first = _canvas(browser)
    browser.find_element("tag name", "body").send_keys("\ue014")  # the right arrow key
    assert browser.execute_script("return window.recastReview.state.i") == 1
    assert np.abs(_canvas(browser) - first).mean() > 0.5  # the ball rolled
    where = browser.find_element("id", "where").text
    assert "frame 1002" in where and "00:00:41:18" in where  # 1002 frames at 24 fps
    browser.find_element("tag name", "body").send_keys("\ue012")
    assert np.abs(_canvas(browser) - first).max() == 0


def test_the_wipe_shows_plate_pixels_on_one_side_and_result_pixels_on_the_other(browser, shot):
    frames = shot[0] / "render" / "review" / "frames"
    plate, result = _proxy(frames / "plate" / "1001.jpg"), _proxy(frames / "render" / "1001.jpg")
    _set(browser, "wipe", a="plate", b="render", i=0, wipe=0.5)
    seen = _canvas(browser)
    left, right = np.s_[:, :30], np.s_[:, 34:]  # the wipe's line at x = 32
    assert np.abs(seen[left] - plate[left]).mean() < 3 and np.abs(seen[right] - result[right]).mean() < 3
    assert np.abs(plate - result).mean() > 10  # the two differ: the comparison above tells them apart
    _shoot(browser, "wipe")


def test_the_grid_shows_every_version_in_sync(browser, shot):
    frames = shot[0] / "render" / "review" / "frames"
    _set(browser, "grid", i=2)
    cols, rows = browser.execute_script("return window.recastReview.gridShape()")
    assert (cols, rows) == (3, 2)
    seen = _canvas(browser)
    assert seen.shape == (80, 192, 3)
    for k, key in enumerate(["plate", "render", "v001", "v002", "c1"]):
        x, y = (k % cols) * 64, (k // cols) * 40
        cell = seen[y:y + 22, x:x + 64]  # above the label strip
        assert np.abs(cell - _proxy(frames / key / "1003.jpg")[:22]).mean() < 3, key
    _shoot(browser, "grid")


def test_the_other_compare_modes_and_the_matte_draw_what_they_say(browser, shot):
    frames = shot[0] / "render" / "review" / "frames"
    plate, result = _proxy(frames / "plate" / "1001.jpg"), _proxy(frames / "render" / "1001.jpg")
    _set(browser, "diff", a="plate", b="render", i=0)
    assert np.abs(_canvas(browser) - np.abs(plate - result)).mean() < 3
    _shoot(browser, "difference")
    _set(browser, "blend", a="plate", b="render", i=0, blend=0.5)
    assert np.abs(_canvas(browser) - (plate + result) / 2).mean() < 3
    _shoot(browser, "blend")
    _set(browser, "side", a="plate", b="v001", i=0)
    side = _canvas(browser)
    assert side.shape == (40, 128, 3) and np.abs(side[:, :64] - plate).mean() < 3
    _shoot(browser, "side_by_side")
    _set(browser, "ab", a="plate", b="render", i=0, showB=False)
    assert np.abs(_canvas(browser) - plate).mean() < 3
    browser.find_element("tag name", "body").send_keys("t")
    assert np.abs(_canvas(browser) - result).mean() < 3
    _shoot(browser, "ab")
    _set(browser, "single", a="plate", i=0, matte=True)  # the render's matte (its alpha: all 1) tints it red
    tinted = _canvas(browser)
    assert tinted[:, :, 0].mean() > plate[:, :, 0].mean() + 20
    _shoot(browser, "matte")
    _set(browser, "single", matte=False)
    assert browser.find_element("id", "metrics").size["height"] > 0  # the render's metrics under the timeline
    _set(browser, "wipe", a="plate", b="render")
    _shoot(browser, "metrics")


def test_playback_holds_the_rate_and_loops_between_in_and_out(browser):
    _set(browser, "single", a="plate", i=1)
    body = browser.find_element("tag name", "body")
    body.send_keys("[")
    browser.execute_script("window.recastReview.state.i = 2")
    body.send_keys("]")
    assert "loop 1002-1003" in browser.find_element("id", "loop").text
    body.send_keys(" ")
    time.sleep(0.6)
    body.send_keys(" ")
    state, stats = browser.execute_script("var r = window.recastReview; return [r.state, r.stats]")
    assert not state["playing"] and state["i"] in (1, 2)
    assert stats["shown"] >= 8 and stats["dropped"] <= 3, stats  # ~14 frames at 24 fps in 0.6 s
    body.send_keys("\\")


def test_decisions_are_kept_exported_and_shown_by_import(browser, shot, tmp_path):
    browser.find_element("css selector", "[data-decide='v001:approved']").click()
    browser.find_element("css selector", "[data-decide='v002:rejected']").click()
    note = browser.find_element("css selector", "[data-note='v001']")
    note.send_keys("warmer, keep the chalk grain\n")  # Enter commits the note (its change event)
    browser.refresh()  # kept in the browser (localStorage)
    _wait(browser, "return window.recastReview && window.recastReview.ready")
    assert "on" in browser.find_element("css selector", "[data-decide='v001:approved']").get_attribute("class")
    _shoot(browser, "decisions")
    browser.find_element("id", "export").click()
    picks = browser.downloads / "recast_picks.json"
    end = time.monotonic() + 10
    while not picks.exists() and time.monotonic() < end:
        time.sleep(0.05)
    data = json.loads(picks.read_text())
    assert [(d["version"], d["decision"]) for d in data["decisions"]] == [
        ("render", None), ("v001", "approved"), ("v002", "rejected"), ("c1", None)]
    v001 = data["decisions"][1]  # what renders the approved version again
    assert data["decisions"][0]["job"] == shot[1] and v001["note"] == "warmer, keep the chalk grain"
    assert v001["job"] == str(shot[0] / "render" / "recast_variants" / "v001" / "job.json")
    r = run_cli("review", "--import", picks)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.split()[:2] == ["v001", "approved"] and "warmer, keep the chalk grain" in line for line in lines)
    assert lines[-1] == "approved: v001"
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "other"}')
    r = run_cli("review", "--import", bad)
    assert r.returncode == 1 and "is not a review decision file" in r.stderr and len(r.stderr.splitlines()) == 1


def test_handles_are_marked_and_skipped_when_asked(browser, shot, tmp_path):
    """A plate with a handle each side of the job's range: the review shows them, marked, and with 'skip handles'
    on (h) stepping and playback stay within the shot, stepping from its last frame to its first."""
    from recast.core.review import build_review
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1000, 6, width=64, height=40)
    job = _write_job(tmp_path, "job.json", input={"frames": "1001-1004"})
    (tmp_path / "render").mkdir()
    for f in FRAMES:  # the render's frames (the review only reads them)
        shutil.copyfile(shot[0] / "render" / f"sh010_recast.{f}.exr", tmp_path / "render" / f"sh010_recast.{f}.exr")
    page = build_review(job)
    data = json.loads((tmp_path / "render" / "review" / "data.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert data["frames"] == list(range(1000, 1006)) and data["shot"] == [1001, 1004]
    assert sorted(os.listdir(tmp_path / "render" / "review" / "frames" / "plate")) == [
        f"{f}.jpg" for f in range(1000, 1006)]
    try:
        browser.get("file://" + page)
        _wait(browser, "return window.recastReview && window.recastReview.ready")
        body = browser.find_element("tag name", "body")
        assert len(browser.find_elements("css selector", "#handles-bar .handles")) == 2  # head and tail tinted
        _set(browser, "single", a="plate", i=0)
        assert "HANDLE" in browser.find_element("id", "handle").text
        _shoot(browser, "handles")
        _set(browser, "single", a="plate", i=1)
        assert browser.find_element("id", "handle").text == ""
        body.send_keys("h")  # skip handles
        assert "on" in browser.find_element("id", "skip").get_attribute("class")
        body.send_keys("\ue010")  # End: the shot's last frame, not the tail handle
        assert browser.execute_script("return window.recastReview.state.i") == 4
        body.send_keys("\ue014")  # the right arrow from the last shot frame: the first shot frame
        assert browser.execute_script("return window.recastReview.state.i") == 1
        assert np.abs(_canvas(browser) - _proxy(tmp_path / "render" / "review" / "frames" / "plate" / "1001.jpg")).mean() < 3
        seen = []
        for key in ["\ue014"] * 6 + ["\ue012"] * 6:
            body.send_keys(key)
            seen.append(browser.execute_script("return [window.recastReview.state.i, "
                                               "document.getElementById('handle').textContent]"))
        assert {i for i, _ in seen} == {1, 2, 3, 4} and not any(text for _, text in seen), seen
        body.send_keys(" ")  # playback with handles skipped: never a handle frame
        shown = set()
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            shown.add(browser.execute_script("return window.recastReview.state.i"))
        body.send_keys(" ")
        assert shown <= {1, 2, 3, 4} and len(shown) >= 3, shown
        body.send_keys("h")  # handles shown again: stepping reaches the tail handle
        body.send_keys("\ue010")
        assert browser.execute_script("return window.recastReview.state.i") == 5
    finally:
        browser.get("file://" + shot[2]["path"])
        _wait(browser, "return window.recastReview && window.recastReview.ready")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, shot):
    from recast.core.shot.synthetic import write_synthetic_plate

    write_synthetic_plate(str(tmp_path / "plate" / "sh010.####.exr"), 1001, 4, width=64, height=40)
    never = _write_job(tmp_path, "never.json", input={"frames": "1001-1004"})
    root, job = shot[0], shot[1]
    other_shot = _write_job(tmp_path, "other.json", input={"frames": "1001-1004"},
                            output={"pattern": str(root / "render" / "sh010_recast.####.exr")})
    (tmp_path / "a_file").write_text("")
    before = sorted(os.listdir(root / "render"))
    for args, message in [(("--job", never), "was never rendered"),
                          (("--job", job, "--compare", other_shot), "is another shot"),
                          (("--job", job, "--out", tmp_path / "a_file" / "review"), "cannot be written"),
                          (("--job", job, "--view", "nosuch/view"), "is not a display/view"),
                          (("--job", job, "--out", tmp_path), "holds other files")]:
        r = run_cli("review", *args)
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert not (tmp_path / "render").exists() and sorted(os.listdir(root / "render")) == before
    assert sorted(os.listdir(tmp_path)) == ["a_file", "never.json", "other.json", "plate"]
