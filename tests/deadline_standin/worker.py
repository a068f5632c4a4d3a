"""The Worker's side of the stand-in: load a plugin folder and run a Deadline job's tasks through it."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_job_file(path):
    """A Deadline ``.job`` info file (key=value lines) as a dict."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if "=" in line:
                key, _, value = line.rstrip("\n").partition("=")
                out[key] = value
    return out


def tasks(job_info):
    """The frames of each task, as Deadline splits Frames into ChunkSize frames a task."""
    from Deadline.Scripting import FrameUtils

    frames = FrameUtils.Parse(job_info["Frames"])
    size = int(job_info.get("ChunkSize", 1))
    return [frames[i:i + size] for i in range(0, len(frames), size)]


class Worker:
    def __init__(self, plugin_dir, config, jobs_data, thread=0):
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        self.plugin_dir, self.config, self.jobs_data, self.thread = plugin_dir, config, jobs_data, thread
        os.makedirs(jobs_data, exist_ok=True)  # the Worker's jobsData folder for the job
        self.plugin_info, self.task_frames = {}, []

    def load(self):
        name = os.path.basename(self.plugin_dir.rstrip("/"))
        spec = importlib.util.spec_from_file_location("deadline_plugin_" + name,
                                                      os.path.join(self.plugin_dir, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def run_job(self, job_info, plugin_info):
        """StartJob, every task's RenderTasks, EndJob (EndJob also after a failed task, as the Worker does when
        it leaves the job); returns the plugin, whose progress, status and log tell what happened. A failed
        task raises RenderFailed."""
        from Deadline.Plugins import PluginType

        module = self.load()
        self.plugin_info = plugin_info
        plugin = self.plugin = module.GetDeadlinePlugin()
        plugin.worker = self
        plugin.InitializeProcessCallback()
        assert plugin.PluginType == PluginType.Advanced
        try:
            plugin.StartJobCallback()
            for frames in tasks(job_info):
                self.task_frames = frames
                plugin.RenderTasksCallback()
        finally:
            plugin.EndJobCallback()
            module.CleanupDeadlinePlugin(plugin)
        return plugin
