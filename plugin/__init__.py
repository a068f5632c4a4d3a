"""Recast's host side, by host: :mod:`.common` (what Nuke and Blender share: job preparation, the worker and its
queue, parameters, messages, the Qt queue panel) and :mod:`.nuke` (the Recast and RecastMatte nodes). The Blender
extension (``blender_addon/``) builds on :mod:`.common`.

Nothing here imports torch: hosts run their own Python and start the ``recast`` worker as a separate process.
``nuke_node``, ``nuke_matte`` and ``queue_panel`` are the names saved Nuke scripts and layouts call.
"""
