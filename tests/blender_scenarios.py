"""Scenarios run inside real Blender (``bpy`` as a module, in its own virtual environment).

``python blender_scenarios.py --batch BATCH_JSON RESULTS_JSONL`` installs the Recast extension zip into an
isolated user folder (``BLENDER_USER_RESOURCES``) once, then runs every scenario the batch file lists, each from
Blender's factory start-up file in its own folder and environment, and appends one JSON line per scenario to
RESULTS_JSONL as it ends (its result, or the traceback that stopped it): tests/test_blender.py starts one
Blender per version for all its tests. ``python blender_scenarios.py SCENARIO ARGS_JSON`` runs one scenario and
prints ``RESULT <json>`` (to try one by hand). Nothing here imports Recast directly: the add-on brings it in its
bundled wheel.
"""

import json
import os
import sys
import time

import bpy

ADDON = "bl_ext.user_default.recast"


def install(zip_path):
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert hasattr(bpy.types, "RECAST_OT_recast_strip"), "the extension did not register"


def editor():
    scene = bpy.context.scene
    return scene.sequence_editor or scene.sequence_editor_create()


def strips():
    ed = editor()
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def image_strip(plate_dir, names, channel=2, start=1, colorspace="ACEScg"):
    strip = strips().new_image("plate", os.path.join(plate_dir, names[0]), channel, start)
    for n in names[1:]:
        strip.elements.append(n)
    strip.colorspace_settings.name = colorspace
    editor().active_strip = strip
    return strip


def color_strip(name, channel, start, end):
    """A colour strip over frames start..end-1 (5.0 takes a length, 4.2 an end frame)."""
    try:
        return strips().new_effect(name, "COLOR", channel, start, length=end - start)
    except TypeError:
        return strips().new_effect(name, "COLOR", channel, start, frame_end=end)


def settings(args, **extra):
    s = bpy.context.scene.recast
    values = dict(prompt="a claymation street at dusk", model="tiny", device="cpu", steps=2, resolution=64,
                  window_length=4, window_overlap=1, handles=1, output_folder=args["out"])
    values.update(extra)
    for k, v in values.items():
        setattr(s, k, v)


def prefs():
    return bpy.context.preferences.addons[ADDON].preferences


def describe(strip):
    directory = bpy.path.abspath(strip.directory)
    files = [os.path.join(directory, e.filename) for e in strip.elements]
    return {"name": strip.name, "type": strip.type, "channel": strip.channel, "start": int(strip.frame_final_start),
            "length": int(strip.frame_final_duration), "files": files,
            "exist": all(os.path.isfile(f) for f in files), "colorspace": strip.colorspace_settings.name}


def run_operator():
    try:
        bpy.ops.recast.recast_strip()
        return None
    except RuntimeError as exc:
        return str(exc)


def new_strips(before):
    return [describe(s) for s in strips() if s.name not in before]


# --- scenarios ---------------------------------------------------------------------------

def render(args):
    source = image_strip(args["plate_dir"], args["names"], channel=2, start=10)
    color_strip("title", 3, 12, 14)  # occupies channel 3 where the result would go
    editor().active_strip = source
    settings(args)
    before = {s.name for s in strips()}
    error = run_operator()
    path = os.path.join(args["out"], "plate", "plate.recast.json")
    if not os.path.exists(path):  # the operator stopped before writing the job: say why, not 'no such file'
        raise AssertionError(f"no job written; the operator said {error!r}")
    job = json.load(open(path))
    return {"error": error, "new": new_strips(before), "job": job, "version": list(bpy.app.version)}


def modal_and_cancel(args):
    import importlib

    strip_render = importlib.import_module(ADDON + ".strip_render")
    image_strip(args["plate_dir"], args["names"])
    settings(args, steps=40)
    before = {s.name for s in strips()}
    run = strip_render.StripRender.start(bpy.context)
    polls, messages = 0, []
    while run.progress < 0.16 and not run.poll():  # what the modal operator's timer does, by hand
        polls += 1
        messages.append(run.message)
        time.sleep(0.1)
    run.cancel()  # what Esc does
    while not run.poll():
        time.sleep(0.1)
    after_cancel = new_strips(before)
    # then the same strip renders to the end through the poll loop
    settings(args, steps=2)
    again = strip_render.StripRender.start(bpy.context)
    while not again.poll():
        time.sleep(0.1)
    return {"state": run.state, "message": run.message, "polls": polls, "progress_messages": messages[-2:],
            "after_cancel": after_cancel, "again": again.state, "again_strip": again.result_strip}


def errors(args):
    out = {}
    before = {s.name for s in strips()}
    settings(args)
    out["no strip"] = run_operator()
    color = color_strip("color", 1, 1, 5)
    editor().active_strip = color
    out["unsupported"] = run_operator()
    image_strip(args["plate_dir"], args["names"])
    prefs().worker = "/nowhere/recast"
    out["worker missing"] = run_operator()
    prefs().worker = ""
    settings(args, prompt="")
    out["no prompt"] = run_operator()
    settings(args, device="cuda")  # no GPU here: the worker fails
    out["worker failed"] = run_operator()
    settings(args, window_overlap=4)
    out["bad value"] = run_operator()
    settings(args, output_folder="//recast/")  # the .blend was never saved: '//' has no folder
    out["unsaved"] = run_operator()
    out["added"] = new_strips(before | {"color", "plate"})
    out["logs"] = sorted(os.listdir(os.path.join(args["out"], "plate", "logs")))
    return out


def save_and_reload(args):
    settings(args, prompt="ünïcode 'prompt' $x", negative_prompt="blur", seed=77, strength=0.5, structure_level=6,
             temporal_guidance=1.7, model="default", device="cuda", precision="bf16", window_length=12,
             reference_image="//ref.exr")
    path = os.path.join(args["out"], "shot.blend")
    os.makedirs(args["out"], exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.context.scene.recast.seed != 77
    bpy.ops.wm.open_mainfile(filepath=path)
    s = bpy.context.scene.recast
    return {k: getattr(s, k) for k in ("prompt", "negative_prompt", "seed", "strength", "structure_level",
                                       "temporal_guidance", "model", "device", "precision", "window_length",
                                       "reference_image")}


def scene_strip(args):
    cg = bpy.data.scenes.new("cg")
    cg.render.engine = "CYCLES"
    cg.cycles.samples = 1
    cg.cycles.use_denoising = False
    cg.render.resolution_x, cg.render.resolution_y, cg.render.resolution_percentage = 48, 32, 100
    cg.frame_start, cg.frame_end = 1, 4
    mesh = bpy.data.meshes.new("plane")
    mesh.from_pydata([(-2, -2, 0), (2, -2, 0), (2, 2, -3), (-2, 2, -3)], [], [(0, 1, 2, 3)])
    cg.collection.objects.link(bpy.data.objects.new("plane", mesh))
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.location = (0, 0, 6)
    cg.collection.objects.link(cam)
    cg.camera = cam
    strip = strips().new_scene("cg shot", cg, 1, 5)
    editor().active_strip = strip
    settings(args)
    before = {s.name for s in strips()}
    error = run_operator()
    job = json.load(open(os.path.join(args["out"], "cg_shot", "cg_shot.recast.json")))
    return {"error": error, "new": new_strips(before), "job": job}


def other_sources(args):
    """A PNG image strip (converted to EXR) and a movie strip (rendered to EXR), both recast."""
    folder = os.path.join(args["out"], "src")
    os.makedirs(folder)
    names = []
    for i in range(4):
        img = bpy.data.images.new(f"p{i}", 32, 24)
        img.pixels = [((x + i) % 8) / 8 if c < 3 else 1.0 for y in range(24) for x in range(32) for c in range(4)]
        img.filepath_raw = os.path.join(folder, f"frame_{i + 1:02d}.png")
        img.file_format = "PNG"
        img.save()
        names.append(f"frame_{i + 1:02d}.png")
    png = image_strip(folder, names, channel=1, start=1, colorspace="sRGB")
    png.name = "png shot"
    # a movie of the same frames, through a scene's sequencer
    scene = bpy.context.scene
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = 32, 24, 100
    scene.frame_start, scene.frame_end = 1, 4
    if hasattr(r.image_settings, "media_type"):
        r.image_settings.media_type = "VIDEO"
    r.image_settings.file_format = "FFMPEG"
    r.ffmpeg.format, r.ffmpeg.codec = "MPEG4", "H264"
    r.filepath = os.path.join(folder, "clip_")
    r.use_sequencer = True
    bpy.ops.render.render(animation=True)
    movie_path = next(os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("clip_"))
    blocker = os.path.join(args["out"], "a_file")
    open(blocker, "w").close()
    settings(args, output_folder=os.path.join(blocker, "renders"))  # a file where a folder should be
    out = {"unwritable": run_operator()}
    settings(args)
    before = {s.name for s in strips()}
    out["png error"] = run_operator()
    plate_dir = os.path.join(args["out"], "png_shot", "plate")
    stamps = {n: os.stat(os.path.join(plate_dir, n)).st_mtime_ns for n in os.listdir(plate_dir) if n.endswith(".exr")}
    out["png again"] = run_operator()  # the strip unchanged: the plate is reused (the worker skips its frames)
    out["plate kept"] = stamps == {n: os.stat(os.path.join(plate_dir, n)).st_mtime_ns for n in stamps}
    png.mute = True
    movie = strips().new_movie("movie shot", movie_path, 1, 20)
    editor().active_strip = movie
    out["movie error"] = run_operator()
    out["new"] = [s for s in new_strips(before | {"movie shot"}) if not s["name"].endswith(".001")]
    out["jobs"] = [json.load(open(os.path.join(args["out"], d, f"{d}.recast.json"))) for d in ("png_shot", "movie_shot")]
    return out


def submit(args):
    image_strip(args["plate_dir"], args["names"])
    settings(args, prompt="it's a \"dusk\" $SHOT", farm_chunk_size=5)
    before = {s.name for s in strips()}
    try:
        bpy.ops.recast.submit_strip()
        error = None
    except RuntimeError as exc:
        error = str(exc)
    bundle = os.path.join(args["out"], "plate", "farm_openjd")
    values = {v["name"]: v["value"] for v in json.load(open(os.path.join(bundle, "parameter_values.json")))
              ["parameterValues"]}
    out = {"error": error, "bundle": sorted(os.listdir(bundle)) if os.path.isdir(bundle) else [],
           "prompt": json.load(open(os.path.join(bundle, "job.json")))["prompt"], "added": new_strips(before),
           "chunk_size": values["ChunkSize"]}
    out.update(submit_onprem(args))
    return out


FAKE_FLAMENCO_ADDON = """bl_info = {"name": "Flamenco (test stand-in)", "blender": (4, 2, 0), "category": "System"}
import bpy


class FlamencoPreferences(bpy.types.AddonPreferences):
    bl_idname = __name__
    manager_url: bpy.props.StringProperty(name="Manager URL", default="")


def register():
    bpy.utils.register_class(FlamencoPreferences)


def unregister():
    bpy.utils.unregister_class(FlamencoPreferences)
"""


def _operator_error(op):
    try:
        op()
        return None
    except RuntimeError as exc:
        return str(exc)


def submit_onprem(args):
    """Submit to Deadline (no client, then a fake deadlinecommand on PATH) and to Flamenco (the Manager that a
    stand-in of Flamenco's add-on names: a loopback HTTP server)."""
    import addon_utils
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    s = bpy.context.scene.recast
    s.deadline_pool, s.deadline_priority = "gpu", 75
    here = os.path.dirname(args["out"])
    out = {"no deadline": _operator_error(bpy.ops.recast.submit_deadline)}
    bin_dir = os.path.join(here, "deadline_bin")
    os.makedirs(bin_dir, exist_ok=True)
    fake = os.path.join(bin_dir, "deadlinecommand")
    with open(fake, "w") as fh:
        fh.write(f"#!{sys.executable}\nimport json, sys\nopen({os.path.join(here, 'argv.json')!r}, 'w')"
                 ".write(json.dumps(sys.argv[1:]))\nfor i in range(sys.argv.count('-job')):\n"
                 "    print('Result=Success')\n    print('JobID=6600000000000000000000%02d' % i)\n")
    os.chmod(fake, 0o755)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]
    out["deadline error"] = _operator_error(bpy.ops.recast.submit_deadline)
    out["deadline argv"] = json.load(open(os.path.join(here, "argv.json")))
    folder = os.path.join(args["out"], "plate", "farm_deadline")
    info = dict(line.split("=", 1) for line in open(os.path.join(folder, "02_render_job_info.job")).read().splitlines())
    out["deadline render"] = {k: info.get(k) for k in ("Pool", "Priority", "ChunkSize", "Frames")}

    received = []

    class Manager(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append([self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))])
            data = json.dumps({"id": "flamenco-job-1", "status": "queued"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Manager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    addons_dir = bpy.utils.user_resource("SCRIPTS", path="addons", create=True)
    with open(os.path.join(addons_dir, "flamenco.py"), "w") as fh:
        fh.write(FAKE_FLAMENCO_ADDON)
    if addons_dir not in sys.path:  # bpy as a module has the user add-ons folder off its path
        sys.path.append(addons_dir)
    addon_utils.enable("flamenco", default_set=True)
    bpy.context.preferences.addons["flamenco"].preferences.manager_url = f"http://127.0.0.1:{server.server_address[1]}"
    out["flamenco error"] = _operator_error(bpy.ops.recast.submit_flamenco)
    server.shutdown()
    out["flamenco received"] = received
    return out


class _Layout:
    """Stands in for bpy's UILayout (none exists without a window): records what the panel draws."""

    def __init__(self, log, enabled=True):
        self.log, self.enabled = log, enabled

    def _child(self, **kw):
        child = _Layout(self.log)
        child.parent = self
        return child

    def _on(self):
        node, on = self, True
        while node is not None:
            on = on and node.enabled
            node = getattr(node, "parent", None)
        return on

    column = row = box = _child

    def prop(self, data, name, **kw):
        self.log.append(("prop", name, self._on()))

    def prop_search(self, data, name, search_data, search_name, **kw):
        self.log.append(("prop", name, self._on()))

    def operator(self, idname, **kw):
        self.log.append(("operator", idname, self._on()))
        return type("Op", (), {})()

    def label(self, **kw):
        self.log.append(("label", kw.get("text"), self._on()))


def panel_draw(args):
    import importlib

    import types

    ui = importlib.import_module(ADDON + ".ui")
    out = {}
    for case in ("no strip", "strip, no reference", "strip and reference"):
        if case != "no strip" and editor().active_strip is None:
            image_strip(args["plate_dir"], args["names"])
        settings(args, reference_image=os.path.join(args["plate_dir"], args["names"][0])
                 if case == "strip and reference" else "")
        log = []
        ui.RECAST_PT_panel.draw(types.SimpleNamespace(layout=_Layout(log)), bpy.context)
        out[case] = {f"{kind}:{name}": on for kind, name, on in log if kind in ("prop", "operator")}
    return out


def sequencer_scene(args):
    """5.0: the strips live in the workspace's sequencer scene, not in context.scene."""
    if not hasattr(bpy.context.workspace, "sequencer_scene"):
        return {"skipped": "this Blender has no sequencer scene"}
    edit = bpy.data.scenes.new("Edit")
    ed = edit.sequence_editor_create()
    coll = ed.strips
    strip = coll.new_image("plate", os.path.join(args["plate_dir"], args["names"][0]), 2, 1)
    for n in args["names"][1:]:
        strip.elements.append(n)
    strip.colorspace_settings.name = "ACEScg"
    ed.active_strip = strip
    bpy.context.workspace.sequencer_scene = edit
    s = edit.recast
    for k, v in dict(prompt="a claymation street at dusk", model="tiny", device="cpu", steps=2, resolution=64,
                     window_length=4, window_overlap=1, handles=1, output_folder=args["out"]).items():
        setattr(s, k, v)
    assert bpy.context.scene != edit and bpy.context.scene.sequence_editor is None or \
        not list(bpy.context.scene.sequence_editor.strips)
    error = run_operator()
    return {"error": error, "new": [describe(x) for x in ed.strips if x.name != "plate"]}


def versions(args):
    """Render a strip, change the prompt, render again: a second version and strip; the first keeps its frames."""
    source = image_strip(args["plate_dir"], args["names"], channel=2, start=1)
    settings(args)
    errors = [run_operator()]
    v1 = os.path.join(args["out"], "plate", "render", "v001")
    stamps = {n: os.stat(os.path.join(v1, n)).st_mtime_ns for n in os.listdir(v1)}
    settings(args, prompt="an oil painting")
    editor().active_strip = source
    errors.append(run_operator())
    unchanged = stamps == {n: os.stat(os.path.join(v1, n)).st_mtime_ns for n in os.listdir(v1)}
    return {"errors": errors, "strips": [describe(s) for s in strips() if s.name.startswith("plate recast")],
            "first_unchanged": unchanged}


def cut(args):
    """Two strips selected and recast as a cut; again unchanged (nothing new); again with another prompt (a new version
    strip above each, the first versions' frames kept); and with nothing selected (one line)."""
    left = image_strip(args["plate_dir"], args["names"], channel=2, start=1)
    left.name = "left"
    right = image_strip(args["plate_dir"], args["names"][:4], channel=2, start=20)
    right.name = "right"
    color_strip("title", 5, 1, 30)  # not selected: not part of the cut
    for strip in strips():
        strip.select = strip.name in ("left", "right")
    settings(args)

    def press():
        try:
            bpy.ops.recast.recast_selected()
            return None
        except RuntimeError as exc:
            return str(exc)

    def results():
        return sorted((describe(s) for s in strips() if " recast v" in s.name), key=lambda d: d["name"])

    def stamps():
        shots = os.path.join(args["out"], "recast_cut", "shots")
        return {os.path.join(d, n): os.stat(os.path.join(d, n)).st_mtime_ns for d, _, names in os.walk(shots)
                for n in names if n.endswith(".exr") and "recast_cache" not in d}

    out = {"first": [press(), results()]}
    before = stamps()
    out["again"] = [press(), results(), stamps() == before]
    settings(args, prompt="an oil painting")
    out["changed"] = [press(), results(), {k: v for k, v in stamps().items() if k in before} == before]
    for strip in strips():
        strip.select = False
    out["none"] = press()
    return out


def preview_live(args):
    """Preview strip through the desk, with live previews: what the timer shows while it runs, then the strip."""
    import importlib

    strip_render = importlib.import_module(ADDON + ".strip_render")
    image_strip(args["plate_dir"], args["names"], channel=2, start=1)
    settings(args)
    before = {s.name for s in strips()}
    assert prefs().use_desk and prefs().live_previews  # the defaults
    run = strip_render.StripRender.start(bpy.context, kind="preview")
    live = []
    while not run.poll():  # what the modal operator's timer does
        found = [describe(s) for s in strips() if s.name.endswith("recast live")]
        if found and found[0] not in live:
            live.append(found[0])
        time.sleep(0.1)
    return {"state": run.state, "message": run.message, "note": run.note, "live": live, "new": new_strips(before),
            "kinds": [e["event"] for e in run.process.events]}


def variants(args):
    """Variants operator: strips stacked above the plate, muted but the first; Choose variant picks another."""
    image_strip(args["plate_dir"], args["names"], channel=2, start=1)
    settings(args, variant_prompts="chalk | bronze statue")
    prefs().use_desk = False
    prefs().live_previews = False
    before = {s.name for s in strips()}
    error = None
    try:
        bpy.ops.recast.variants_strip()
    except RuntimeError as exc:
        error = str(exc)
    made = [s for s in strips() if s.name not in before]
    first = [dict(describe(s), mute=s.mute) for s in made]
    second = next(s for s in made if "bronze" in s.name)
    editor().active_strip = second
    bpy.ops.recast.choose_variant()
    chosen = {s.name: s.mute for s in made}
    return {"error": error, "first": first, "chosen": chosen, **_review_and_approve(args, made)}


def _review_and_approve(args, made):
    """Review (from a variant strip: its source's work), the page's URL caught instead of a browser; then Use
    approved with a decision file as the page exports it approving v001, and with one that approves none."""
    import recast.plugin.common.review as host_review  # the add-on's own module (from its bundled wheel)

    opened = []
    host_review.OPEN = opened.append
    review_error = None
    try:
        bpy.ops.recast.review_strip()  # no window: the operator runs the worker to the end
    except RuntimeError as exc:
        review_error = str(exc)
    out = {"review_error": review_error, "opened": opened}
    page = os.path.join(args["out"], "plate", "review", "index.html")
    with open(os.path.join(os.path.dirname(page), "data.js"), encoding="utf-8") as fh:
        data = json.loads(fh.read().split("=", 1)[1].rstrip().rstrip(";"))
    out["keys"] = [v["key"] for v in data["versions"]]

    def picks(name, approve):
        path = os.path.join(args["out"], name)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"schema": "recast.review-decisions/1", "job": data["job"], "plate": data["plate"],
                       "exported": "2026-12-06T05:00:00Z",
                       "decisions": [{"version": v["key"], "title": v["title"], "job": v["job"], "output": v["pattern"],
                                      "labels": v["labels"], "decision": "approved" if v["key"] in approve else None,
                                      "note": "keep the grain"} for v in data["versions"] if v["kind"] != "plate"]}, fh)
        return path

    bpy.ops.recast.use_approved(filepath=picks("picks.json", ("v001",)))
    out["approved"] = {s.name: s.mute for s in made}
    out["active"] = editor().active_strip.name
    try:
        bpy.ops.recast.use_approved(filepath=picks("none.json", ()))
        out["none_error"] = None
    except RuntimeError as exc:
        out["none_error"] = str(exc)
    return out


def desk_fallback(args):
    """A desk that cannot start (another account's folder): the render runs here and says so in one line."""
    image_strip(args["plate_dir"], args["names"], channel=2, start=1)
    settings(args)
    import importlib

    strip_render = importlib.import_module(ADDON + ".strip_render")
    before = {s.name for s in strips()}
    run = strip_render.StripRender.start(bpy.context)  # with the preferences' defaults: through the desk
    while not run.poll():
        time.sleep(0.1)
    return {"state": run.state, "message": run.message, "note": run.note, "new": new_strips(before)}


def fetch_models(args):
    """A preset whose parts are on a hub (tests/fake_hub.py) and not here: the render says what to press; Check
    models says what is missing; Fetch models cancelled from the panel, then to the end; then it renders."""
    import importlib
    import types

    ui = importlib.import_module(ADDON + ".ui")
    models_ui = importlib.import_module(ADDON + ".models_ui")

    def panel():
        log = []
        ui.RECAST_PT_panel.draw(types.SimpleNamespace(layout=_Layout(log)), bpy.context)
        return [text for kind, text, _ in log if kind == "label" and text and "model" in text]

    out = {}
    image_strip(args["plate_dir"], args["names"])
    settings(args, model="preset file", model_file=args["preset"])
    out["before"] = panel()
    out["render"] = run_operator()
    bpy.ops.recast.check_models()
    out["checked"] = panel()
    run = models_ui.Fetch.start(bpy.context)
    while not run.process.frames_done and not run.poll():
        time.sleep(0.05)
    out["during"] = panel()
    bpy.ops.recast.cancel_fetch()  # the panel's Cancel while it fetches
    while not run.poll():
        time.sleep(0.1)
    out["cancelled"] = [run.level, run.message]
    out["fetch"] = str(bpy.ops.recast.fetch_models())  # no window: runs to the end
    out["fetched"] = panel()
    out["render again"] = run_operator()
    out["strips"] = [s.name for s in strips()]
    return out


def train_lora(args):
    """Train LoRA on the active strip: the LoRA lands in slot 1 and the next render uses it; a second training
    cancelled from the panel's Cancel leaves the first LoRA as it was."""
    import importlib

    training = importlib.import_module(ADDON + ".training")
    strip = image_strip(args["plate_dir"], args["names"])
    settings(args, train_token="sks clay", train_steps=3)
    run = training.Training.start(bpy.context)
    messages = []
    while not run.poll():
        messages.append(run.message)
        time.sleep(0.1)
    s = bpy.context.scene.recast
    out = {"message": run.message, "level": run.level, "lora_1": s.lora_1, "weight": s.lora_1_weight,
           "progress_messages": messages[-2:]}
    editor().active_strip = strip
    out["render"] = run_operator()
    out["result"] = [describe(x) for x in strips() if x.name.startswith("plate recast")]
    s.train_steps = 400
    editor().active_strip = strip
    again = training.Training.start(bpy.context)
    while not again.process.frames_done and not again.poll():
        time.sleep(0.05)
    bpy.ops.recast.cancel(strip=strip.name)  # the panel's Cancel while it trains
    while not again.poll():
        time.sleep(0.1)
    out["cancelled"] = [again.level, again.message]
    out["lora_1_after"] = s.lora_1
    return out


def matte(args):
    """Matte strip from one point, then a Recast render that keeps the clicked object (the mask strip, inverted);
    and the bad points, each one line."""
    strip = image_strip(args["plate_dir"], args["names"], channel=2, start=10)
    settings(args)
    s = bpy.context.scene.recast
    bpy.context.scene.frame_current = 12  # the strip's third frame: plate frame 1003
    bpy.ops.recast.matte_point_add()
    s.matte_points[0].x, s.matte_points[0].y = 30.0, 28.0
    out = {}
    try:
        bpy.ops.recast.matte_strip()
        out["matte"] = None
    except RuntimeError as exc:
        out["matte"] = str(exc)
    out["strips"] = [describe(x) for x in strips() if x.name.startswith("plate matte")]
    out["mask_strip"] = s.mask_strip
    out["recast_matte"] = next(x for x in strips() if x.name.startswith("plate matte")).get("recast_matte")
    s.mask_invert = True
    editor().active_strip = strip
    out["render"] = run_operator()
    out["job_input"] = json.load(open(os.path.join(args["out"], "plate", "plate.recast.json")))["input"]
    out["result"] = [describe(x) for x in strips() if x.name.startswith("plate recast")]

    def attempt():
        editor().active_strip = strip
        try:
            bpy.ops.recast.matte_strip()
            return None
        except RuntimeError as exc:
            return str(exc)

    s.matte_points.clear()
    out["no point"] = attempt()
    p = s.matte_points.add()
    p.frame, p.x, p.y = 40, 5.0, 5.0
    out["outside the strip"] = attempt()
    p.frame, p.x = 11, 500.0
    out["outside the image"] = attempt()
    s.mask_strip = "nothing here"
    editor().active_strip = strip
    out["no mask strip"] = run_operator()
    return out


def fast(args):
    """The fast tier from the panel: model tiny-fast, steps and guidance left at 0 (the preset's)."""
    image_strip(args["plate_dir"], args["names"])
    settings(args, model="tiny-fast", steps=0, guidance_scale=0.0)
    error = run_operator()
    job = json.load(open(os.path.join(args["out"], "plate", "plate.recast.json")))
    return {"error": error, "model": job["model"], "steps": job["steps"], "guidance": job["guidance_scale"],
            "result": [describe(x) for x in strips() if x.name.startswith("plate recast")]}


def wan(args):
    """The Wan backend from the panel: model tiny-wan, windows on its latent grid."""
    image_strip(args["plate_dir"], args["names"])
    settings(args, model="tiny-wan", window_length=9, window_overlap=4)
    error = run_operator()
    return {"error": error, "result": [describe(x) for x in strips() if x.name.startswith("plate recast")]}


def batch(batch_path, results_path):
    """Every run of the batch file in this one Blender: each from the factory start-up file (as a fresh Blender
    starts), in its own folder (the working directory) with its own environment variables (None: unset)."""
    import traceback

    with open(batch_path, encoding="utf-8") as fh:
        todo = json.load(fh)
    install(todo["zip"])
    for i, run in enumerate(todo["runs"]):
        if i:
            bpy.ops.wm.read_homefile(use_empty=False)
            prefs().worker = ""
        saved = {k: os.environ.get(k) for k in run.get("env", {})}
        for k, v in run.get("env", {}).items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        os.makedirs(run["cwd"], exist_ok=True)
        os.chdir(run["cwd"])
        try:
            record = {"name": run["name"], "result": globals()[run["scenario"]](run["args"])}
        except BaseException:  # noqa: B036 (an assert, an operator's error, a KeyboardInterrupt: its test fails)
            record = {"name": run["name"], "error": traceback.format_exc()}
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        with open(results_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"RAN {run['name']}: {'ok' if 'result' in record else 'failed'}", flush=True)


def main():
    if "--batch" in sys.argv:
        return batch(sys.argv[-2], sys.argv[-1])
    scenario, args = sys.argv[-2], json.loads(sys.argv[-1])
    install(args["zip"])
    result = globals()[scenario](args)
    print("RESULT " + json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
