"""Host-side pieces shared by Recast's host adapters (Nuke, Blender, Qt).

Nothing here imports torch: hosts run their own Python and start the ``recast`` worker
as a separate process (:mod:`.worker` starts it, follows its events and cancels it). The
adapters land with issues #5 (Nuke) and #6 (Blender).
"""
