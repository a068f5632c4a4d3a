"""Recast in Nuke: the Recast node (:mod:`.node`, :mod:`.render`, :mod:`.models`, :mod:`.training`), the
RecastMatte node (:mod:`.matte`), their knobs (:mod:`.knobs`) and the worker-following runs both share
(:mod:`.runs`, :mod:`.base`).

Saved scripts call ``recast.plugin.nuke_node`` and ``recast.plugin.nuke_matte`` (their knobs' scripts);
those modules stay, as the script-facing names of what lives here. ``nuke`` is imported inside functions,
so every module here imports without Nuke.
"""
