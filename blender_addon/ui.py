"""The Recast panel in the Sequencer's sidebar and the "Recast strip" operator.

The operator is modal on a window timer so the UI stays live: each tick calls
:meth:`StripRender.poll` (the tests call it directly: headless Blender has no timers),
shows progress in the window manager's progress and the status bar, and Esc cancels.
Without a window (``blender -b``, scripts) ``execute`` runs the same poll loop to the end.
"""

import bpy

from recast.plugin.common.farm import flamenco_manager_url
from recast.plugin.common.host_job import HostError, farm_report
from recast.plugin.common.params import JOB_PARAMS, LORA_SLOTS, MODEL_FILE

from . import compat, matte_ui, models_ui, review_ui, training
from .modal import ModalRun
from .models_ui import worker as _worker
from .cut_render import CUT, CutRender, cutting
from .strip_render import StripRender

__all__ = ["RECAST_OT_recast_strip", "RECAST_OT_recast_selected", "RECAST_OT_submit_strip", "RECAST_OT_submit_deadline",
           "RECAST_OT_submit_flamenco", "RECAST_OT_cancel", "RECAST_PT_panel", "classes", "running"]

running: dict = {}  # strip name → StripRender, for the panel's progress and Cancel


class _StripRun(ModalRun):
    """What the render, preview and variants operators share. Not itself a Blender type: an operator that
    subclasses another registered operator class loses its parent's methods in Blender ('could not find function
    execute'), so each operator is this mixin plus ``bpy.types.Operator``."""

    bl_options = {"REGISTER"}
    kind = "render"

    def _start(self, context):
        addon = context.preferences.addons.get(__package__)
        prefs = addon.preferences if addon is not None else None
        try:
            run = StripRender.start(context, _worker(context), self.kind, desk=getattr(prefs, "use_desk", True),
                                    live_previews=getattr(prefs, "live_previews", True))
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return None
        running[run.strip_name] = run
        return run

    def _end(self, run):
        running.pop(run.strip_name, None)
        if run.state == "done":
            self.report({"INFO"}, run.message)
            return {"FINISHED"}
        self.report({"ERROR"} if run.state == "failed" else {"WARNING"}, run.message)
        return {"CANCELLED"}


class RECAST_OT_recast_strip(_StripRun, bpy.types.Operator):
    """Render the active strip with Recast and add the result as a new strip above it"""

    bl_idname = "recast.recast_strip"
    bl_label = "Recast strip"
    kind = "render"


class RECAST_OT_preview_strip(_StripRun, bpy.types.Operator):
    """A quick look at the active strip in seconds (256 px, the fast tier, the first window), added as a strip
    above it; a new version in recast_previews/, never over a render"""

    bl_idname = "recast.preview_strip"
    bl_label = "Preview strip"
    kind = "preview"


class RECAST_OT_variants_strip(_StripRun, bpy.types.Operator):
    """A quick look per variant prompt ('|' between them), added as strips stacked above the active strip, muted
    but the first (Choose variant picks another)"""

    bl_idname = "recast.variants_strip"
    bl_label = "Variants"
    kind = "variants"


class _CutRun(ModalRun):
    """What "Recast selected strips" does (the mixin pattern of :class:`_StripRun`: never a registered operator's
    subclass): the selected strips as one cut, each result a versioned strip above its strip (.cut_render)."""

    bl_options = {"REGISTER"}

    def _start(self, context):
        addon = context.preferences.addons.get(__package__)
        prefs = addon.preferences if addon is not None else None
        try:
            return CutRender.start(context, _worker(context), desk=getattr(prefs, "use_desk", True))
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return None


class RECAST_OT_recast_selected(_CutRun, bpy.types.Operator):
    """Render the selected strips as a cut with Recast: each result is added as a new version strip above its strip"""

    bl_idname = "recast.recast_selected"
    bl_label = "Recast selected strips"


class RECAST_OT_choose_variant(bpy.types.Operator):
    """Show the active variant strip: it is unmuted and the other variants of its strip are muted"""

    bl_idname = "recast.choose_variant"
    bl_label = "Choose variant"

    def execute(self, context):
        chosen = compat.active_strip(context)
        if chosen is None or " variant v" not in chosen.name:
            self.report({"ERROR"}, "Recast: select a variant strip (named '<strip> variant vNNN ...') first")
            return {"CANCELLED"}
        source = chosen.name.split(" variant v", 1)[0]
        editor = compat.editing_scene(context).sequence_editor
        for strip in compat.all_strips(editor):
            if strip.name.startswith(f"{source} variant v"):
                strip.mute = strip.name != chosen.name
        self.report({"INFO"}, f"Recast: showing '{chosen.name}'")
        return {"FINISHED"}


class RECAST_OT_submit_strip(bpy.types.Operator):
    """Write the active strip's plate, its job and an OpenJD bundle for the render farm (Deadline Cloud)"""

    bl_idname = "recast.submit_strip"
    bl_label = "Submit strip to farm"

    def execute(self, context):
        try:
            bundle = StripRender.submit(context, _worker(context))
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Recast: {farm_report(bundle)}")
        return {"FINISHED"}


class _FarmSubmit:
    """What Submit to Deadline and Submit to Flamenco share (a mixin, as :class:`_StripRun`)."""

    farm = "deadline"

    def execute(self, context):
        manager = flamenco_manager_url(context.preferences.addons) if self.farm == "flamenco" else ""
        try:
            said = StripRender.submit_onprem(context, self.farm, _worker(context), manager)
        except HostError as exc:
            self.report({"ERROR"}, f"Recast: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Recast: {said}")
        return {"FINISHED"}


class RECAST_OT_submit_deadline(_FarmSubmit, bpy.types.Operator):
    """Write the active strip's plate and job and submit them to Deadline 10 (the Recast plugin), with the pool,
    group, priority and chunk size under Advanced"""

    bl_idname = "recast.submit_deadline"
    bl_label = "Submit to Deadline"
    farm = "deadline"


class RECAST_OT_submit_flamenco(_FarmSubmit, bpy.types.Operator):
    """Write the active strip's plate and job and submit them to the Flamenco Manager set in Flamenco's own
    add-on (the 'recast' job type must be installed there)"""

    bl_idname = "recast.submit_flamenco"
    bl_label = "Submit to Flamenco"
    farm = "flamenco"


class RECAST_OT_cancel(bpy.types.Operator):
    """Stop the Recast render of this strip"""

    bl_idname = "recast.cancel"
    bl_label = "Cancel Recast render"

    strip: bpy.props.StringProperty()

    def execute(self, context):
        run = (running.get(self.strip) or training.training.get(self.strip) or matte_ui.matting.get(self.strip)
               or review_ui.reviewing.get(self.strip) or cutting.get(self.strip))
        if run is None:
            self.report({"WARNING"}, f"Recast: strip '{self.strip}' is not rendering")
            return {"CANCELLED"}
        run.cancel()
        return {"FINISHED"}


class RECAST_PT_panel(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Recast"
    bl_label = "Recast"

    def draw(self, context):
        layout = self.layout
        s = compat.editing_scene(context).recast
        strip = compat.active_strip(context)
        layout.label(text=f"Strip: {strip.name}" if strip else "Select a strip", icon="SEQUENCE")
        col = layout.column()
        grouped = {"reference_weight"} | {n for slot in LORA_SLOTS for n in slot}  # drawn in their boxes below
        for p in JOB_PARAMS:
            if p.name in grouped:
                continue
            if not p.advanced and (p.name != "model_file" or s.model == MODEL_FILE):
                col.prop(s, p.name)
        ref = layout.box()  # the reference image and how much it weighs, together
        ref.prop(s, "reference_image")
        weight = ref.row()
        weight.enabled = bool(s.reference_image)
        weight.prop(s, "reference_weight")
        loras = layout.box()  # each LoRA with its weight (greyed while the slot is empty)
        loras.label(text="LoRAs", icon="MODIFIER")
        for path, weight_name in LORA_SLOTS:
            row = loras.row()
            row.prop(s, path, text="")
            weight = row.row()
            weight.enabled = bool(getattr(s, path).strip())
            weight.prop(s, weight_name, text="weight")
        train = loras.column()
        train.enabled = strip is not None  # trains on the strip's frames
        settings = train.row()
        settings.prop(s, "train_token", text="token")
        settings.prop(s, "train_steps", text="steps")
        train.operator(training.RECAST_OT_train_lora.bl_idname, icon="SHADERFX")
        matte_ui.draw(layout, context, strip)
        models_ui.draw(layout, context)
        layout.prop(s, "output_folder")
        layout.prop(s, "show_advanced", icon="TRIA_DOWN" if s.show_advanced else "TRIA_RIGHT", emboss=False)
        if s.show_advanced:
            box = layout.box()
            for p in JOB_PARAMS:
                if p.advanced and p.name != "mask_invert":  # drawn in the Matte box, with the mask strip
                    box.prop(s, p.name)
            for name in ("farm_chunk_size", "deadline_pool", "deadline_group", "deadline_priority"):
                box.prop(s, name)
        run = (running.get(strip.name) or training.training.get(strip.name) or review_ui.reviewing.get(strip.name)) \
            if strip else None
        if run is not None:
            row = layout.row()
            row.label(text=run.message)
            if getattr(run, "note", ""):
                layout.label(text=run.note, icon="INFO")  # e.g. the desk could not start: rendering here
            row.operator(RECAST_OT_cancel.bl_idname, text="Cancel", icon="CANCEL").strip = run.strip_name
        else:
            buttons = layout.column()
            buttons.enabled = strip is not None  # nothing to render without a strip
            buttons.operator(RECAST_OT_recast_strip.bl_idname, icon="RENDER_ANIMATION")
            buttons.operator(RECAST_OT_preview_strip.bl_idname, icon="HIDE_OFF")
            buttons.prop(s, "variant_prompts")
            buttons.operator(RECAST_OT_variants_strip.bl_idname, icon="IMGDISPLAY")
            buttons.operator(RECAST_OT_choose_variant.bl_idname, icon="CHECKMARK")
            review = buttons.row()
            review.operator(review_ui.RECAST_OT_review_strip.bl_idname, icon="SEQ_PREVIEW")
            review.operator(review_ui.RECAST_OT_use_approved.bl_idname, icon="CHECKBOX_HLT")
            buttons.operator(RECAST_OT_submit_strip.bl_idname, icon="NETWORK_DRIVE")
            buttons.operator(RECAST_OT_submit_deadline.bl_idname, icon="NETWORK_DRIVE")
            buttons.operator(RECAST_OT_submit_flamenco.bl_idname, icon="NETWORK_DRIVE")
        cut = cutting.get(CUT)
        if cut is not None:
            row = layout.row()
            row.label(text=cut.message)
            row.operator(RECAST_OT_cancel.bl_idname, text="Cancel", icon="CANCEL").strip = CUT
        else:
            layout.operator(RECAST_OT_recast_selected.bl_idname, icon="SEQ_STRIP_DUPLICATE")


classes = (RECAST_OT_recast_strip, RECAST_OT_recast_selected, RECAST_OT_preview_strip, RECAST_OT_variants_strip,
           RECAST_OT_choose_variant, RECAST_OT_submit_strip, RECAST_OT_submit_deadline, RECAST_OT_submit_flamenco,
           RECAST_OT_cancel, *models_ui.classes, *training.classes, *matte_ui.classes, *review_ui.classes,
           RECAST_PT_panel)
