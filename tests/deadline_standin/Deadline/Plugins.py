"""Stand-in of Deadline.Plugins: DeadlinePlugin and PluginType, as Deadline 10's plugin docs show them."""

import os
import subprocess

from FranticX.Processes import Event, ProcessBase, split_arguments


class RenderFailed(Exception):
    """What FailRender raises (Deadline: the task fails with the message as its error report)."""


class PluginType:
    Simple = 0
    Advanced = 1


class DeadlinePlugin(ProcessBase):
    def __init__(self):
        super().__init__()
        self.StartJobCallback = Event()
        self.RenderTasksCallback = Event()
        self.EndJobCallback = Event()
        self.PreRenderTasksCallback = Event()
        self.PostRenderTasksCallback = Event()
        self.PluginType = PluginType.Simple
        self.SingleFramesOnly = False
        # what the Worker (tests/deadline_standin/worker.py) sets for a task, and what it records
        self.worker = None
        self.progress, self.status, self.log, self.stdout = [], [], [], []

    # the job's settings
    def GetPluginInfoEntry(self, key):
        if key not in self.worker.plugin_info:
            self.FailRender("Plugin info entry %s does not exist" % key)  # Deadline throws on a missing key
        return self.worker.plugin_info[key]

    def GetPluginInfoEntryWithDefault(self, key, default):
        return self.worker.plugin_info.get(key, default)

    def GetBooleanPluginInfoEntryWithDefault(self, key, default):
        value = self.worker.plugin_info.get(key)
        return default if value is None else value.strip().lower() in ("true", "1")

    def GetConfigEntry(self, key):
        if key not in self.worker.config:
            self.FailRender("Config entry %s does not exist" % key)
        return self.worker.config[key]

    def GetConfigEntryWithDefault(self, key, default):
        return self.worker.config.get(key, default)

    def GetBooleanConfigEntryWithDefault(self, key, default):
        value = self.worker.config.get(key)
        return default if value is None else value.strip().lower() in ("true", "1")

    def GetIntegerConfigEntryWithDefault(self, key, default):
        value = self.worker.config.get(key)
        return default if value in (None, "") else int(value)

    def GetRenderExecutable(self, configKey, executableName):
        for path in self.GetConfigEntry(configKey).split(";"):
            if path.strip() and os.path.isfile(path.strip()):
                return path.strip()
        self.FailRender('%s render executable was not found in the semicolon separated list "%s". The path to '
                        'the render executable can be configured from the Plugin Configuration in the Deadline '
                        'Monitor.' % (executableName, self.GetConfigEntry(configKey)))

    # the task
    def GetStartFrame(self):
        return self.worker.task_frames[0]

    def GetEndFrame(self):
        return self.worker.task_frames[-1]

    def GetJobsDataDirectory(self):
        return self.worker.jobs_data

    def GetThreadNumber(self):
        return self.worker.thread

    # what the task reports
    def SetProgress(self, progress):
        self.progress.append(float(progress))

    def SetStatusMessage(self, message):
        self.status.append(str(message))

    def LogInfo(self, message):
        self.log.append(("INFO", str(message)))

    def LogWarning(self, message):
        self.log.append(("WARNING", str(message)))

    def FailRender(self, message):
        raise RenderFailed(message)

    # processes
    def RunProcess(self, executable, arguments, startupDirectory, timeoutMilliseconds):
        done = subprocess.run([executable, *split_arguments(arguments)], cwd=startupDirectory or None,
                              capture_output=True, text=True,
                              timeout=None if timeoutMilliseconds < 0 else timeoutMilliseconds / 1000)
        self.stdout += (done.stdout + done.stderr).splitlines()
        return done.returncode

    def RunManagedProcess(self, process):
        if self.PluginType != PluginType.Advanced:
            raise RuntimeError("RunManagedProcess is for advanced plugins")
        return process._run(self)
