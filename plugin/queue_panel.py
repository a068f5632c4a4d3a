"""The render queue panel's registered name: Nuke keeps ``recast.plugin.queue_panel.QueuePanel`` in its panel
registration and saved window layouts. The widget lives in :mod:`recast.plugin.common.queue_panel`."""

from .common.queue_panel import QueuePanel, RenderRow, open_folder

__all__ = ["QueuePanel", "RenderRow", "open_folder"]
