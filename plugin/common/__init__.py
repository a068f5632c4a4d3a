"""What every Recast host shares: checking, writing and submitting a job (:mod:`.host_job`), the controls
(:mod:`.params`), running and following the worker (:mod:`.worker`, :mod:`.queue`), versions, model parts,
Train LoRA, Matte, the farm bundle, the messages the artist reads (:mod:`.messages`) and the Qt queue panel.

No host module and no torch is imported here: the Nuke node (:mod:`recast.plugin.nuke`) and the Blender
extension (``blender_addon/``) translate their own objects into the plain values these take.
"""
