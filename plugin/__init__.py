"""Host-side pieces shared by Recast's host adapters (Nuke, Blender, Qt).

Nothing here imports torch: hosts run their own Python and start the ``recast`` worker
as a separate process (:mod:`.worker` starts it, follows its events and cancels it).
:mod:`.params` and :mod:`.host_job` are what the Nuke node (:mod:`.nuke_node`) and the Blender
extension (``blender_addon/``) share: the controls, and checking, writing and submitting a job.
"""
