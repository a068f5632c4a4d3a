"""Recast for Thinkbox Deadline 10: the plugin that runs the jobs 'recast farm deadline' writes.

Each Deadline job is one step of a shot (plugin info ``Step``: Customize, Matte, Depth, Render or
Assemble) on the Recast job file ``JobFile``. A Render task is a chunk: Deadline's first and last frame
of the task become ``recast render --chunk A-B`` (handles from the job file; Assemble writes the seams).
It is an *advanced* plugin: StartJob starts one ``recast serve`` on the worker for a Render job, every
task renders through it (the models load once per worker, not once per chunk) and EndJob stops it.

The recast command speaks JSON lines (``--json``): ``progress`` and ``frame`` events become the task's
progress and status, an ``error`` event fails the task with Recast's own one-line message. Paths go
through the repository's path mapping on each worker: the job file, and the plate, matte, reference
image and output of the job (passed over the job file's own with ``--input``/``--output``/...).

Runs under Deadline 10's Python 3 with the standard library only (recast is not importable here).
"""

import json
import os

from Deadline.Plugins import DeadlinePlugin, PluginType
from Deadline.Scripting import RepositoryUtils
from FranticX.Processes import ManagedProcess

STEPS = {"Customize": "customize", "Matte": "matte", "Depth": "depth", "Render": "render", "Assemble": "assemble"}

#: the share of a command's whole progress each stage fills: recast.core.progress.events.STAGE_SHARES
#: (a test keeps the two the same)
STAGE_SHARES = {"load": (0.0, 0.01), "depth": (0.01, 0.1), "encode": (0.1, 0.15), "denoise": (0.15, 0.9),
                "write": (0.9, 1.0), "assemble": (0.0, 1.0), "read": (0.0, 0.3), "measure": (0.3, 1.0),
                "fetch": (0.0, 1.0), "train": (0.02, 1.0), "track": (0.02, 1.0), "proxies": (0.0, 1.0)}
STAGE_WORDS = {"load": "loading models", "depth": "depth", "encode": "encoding the plate", "denoise": "denoising",
               "write": "writing frames", "assemble": "assembling seams", "train": "training", "track": "tracking"}

#: job field -> (the flag that passes it over the job file's own, the steps that take it)
PATH_FLAGS = (("input.pattern", "--input", ("depth", "render", "assemble", "matte")),
              ("input.mask_pattern", "--mask-pattern", ("depth", "render", "assemble")),
              ("reference_image", "--reference-image", ("depth", "render", "assemble")),
              ("output.pattern", "--output", ("depth", "render", "assemble", "customize")),
              ("output.pattern", "--job-output", ("matte",)))


def GetDeadlinePlugin():
    return RecastPlugin()


def CleanupDeadlinePlugin(deadlinePlugin):
    deadlinePlugin.Cleanup()


def quote(arg):
    """One argument for the command line Deadline hands the OS (one string): double-quoted, with the
    quotes and the backslashes before them escaped, as Windows and Deadline's own argument parsing read it."""
    arg = str(arg)
    if arg and not any(c in arg for c in ' \t"\\'):
        return arg
    out, slashes = [], 0
    for c in arg:
        if c == "\\":
            slashes += 1
            continue
        if c == '"':
            out.append("\\" * (2 * slashes + 1) + '"')
        else:
            out.append("\\" * slashes + c)
        slashes = 0
    out.append("\\" * (2 * slashes))
    return '"' + "".join(out) + '"'


def job_field(data, field):
    value = data
    for key in field.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


class RecastPlugin(DeadlinePlugin):
    def __init__(self):
        super().__init__()
        self.Process = None
        self.Server = None  # this worker's connection file of 'recast serve', for a Render job
        self.InitializeProcessCallback += self.InitializeProcess
        self.StartJobCallback += self.StartJob
        self.RenderTasksCallback += self.RenderTasks
        self.EndJobCallback += self.EndJob

    def Cleanup(self):
        del self.InitializeProcessCallback
        del self.StartJobCallback
        del self.RenderTasksCallback
        del self.EndJobCallback
        if self.Process:
            self.Process.Cleanup()
            del self.Process

    def InitializeProcess(self):
        self.PluginType = PluginType.Advanced
        self.SingleFramesOnly = False  # a task's frames are one chunk

    # --- what the job asks for -------------------------------------------------------------------

    def Executable(self):
        return self.GetRenderExecutable("Recast_Executable", "Recast")

    def Step(self):
        step = self.GetPluginInfoEntryWithDefault("Step", "Render").strip()
        if step not in STEPS:
            self.FailRender("Recast: plugin info Step=%s is not a step; expected one of %s"
                            % (step, ", ".join(STEPS)))
        return step

    def JobFile(self):
        path = RepositoryUtils.CheckPathMapping(self.GetPluginInfoEntry("JobFile").strip())
        if not os.path.isfile(path):
            self.FailRender("Recast: the job file %s is not on this worker; check the repository's path mapping"
                            % path)
        return path

    def PathArgs(self, command, job_file):
        """The job's plate, matte, reference and output paths as this worker sees them (path mapped), passed
        over the job file's own."""
        try:
            with open(job_file, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            self.FailRender("Recast: cannot read the job file %s: %s" % (job_file, exc))
        args = []
        for field, flag, commands in PATH_FLAGS:
            value = job_field(data, field)
            if value and command in commands:
                args += [flag, RepositoryUtils.CheckPathMapping(value)]
        return args

    def Arguments(self, args):
        return " ".join(quote(a) for a in args)

    # --- the job on this worker --------------------------------------------------------------------

    def StartJob(self):
        keep = (self.GetBooleanConfigEntryWithDefault("KeepServer", True)
                and self.GetBooleanPluginInfoEntryWithDefault("KeepServer", True))
        if self.Step() != "Render" or not keep:
            return
        server = os.path.join(self.GetJobsDataDirectory(), "recast-server-%d.json" % self.GetThreadNumber())
        args = ["serve", "--connection-file", server]
        idle = self.GetIntegerConfigEntryWithDefault("ServerIdleSeconds", 0)
        if idle > 0:
            args += ["--idle", str(idle)]
        self.SetStatusMessage("Recast: starting the model server on this worker")
        code = self.RunProcess(self.Executable(), self.Arguments(args), self.GetJobsDataDirectory(), -1)
        if code == 0:
            self.Server = server
            self.LogInfo("Recast: server started; every chunk of this job renders through " + server)
        else:  # the chunks still render, each loading the models itself
            self.LogWarning("Recast: the server did not start (exit code %d); each chunk loads the models itself"
                            % code)

    def RenderTasks(self):
        step = self.Step()
        command = STEPS[step]
        job_file = self.JobFile()
        args = [command, "--job", job_file, "--json"]
        if step == "Render":
            args += ["--chunk", "%d-%d" % (self.GetStartFrame(), self.GetEndFrame())]
        chunk_set = self.GetPluginInfoEntryWithDefault("ChunkSet", "").strip()
        if step in ("Render", "Assemble") and chunk_set:
            args += ["--chunk-set", chunk_set]
        if step == "Render" and self.Server:
            args += ["--server", self.Server]
        args += self.PathArgs(command, job_file)
        self.SetStatusMessage("Recast: %s" % step.lower())
        self.Process = RecastProcess(self, self.Executable(), self.Arguments(args), os.path.dirname(job_file))
        self.RunManagedProcess(self.Process)

    def EndJob(self):
        if self.Server:
            self.RunProcess(self.Executable(), self.Arguments(["serve", "--stop", "--connection-file", self.Server]),
                            self.GetJobsDataDirectory(), -1)
            self.Server = None


class RecastProcess(ManagedProcess):
    """One ``recast`` command of a task, its JSON lines read as they come."""

    def __init__(self, deadlinePlugin, executable, arguments, folder):
        super().__init__()
        self.deadlinePlugin = deadlinePlugin
        self.executable, self.arguments, self.folder = executable, arguments, folder
        self.total = 0  # frames the command writes (its start event)
        self.frames = 0
        self.failed = None  # the error event's message
        self.InitializeProcessCallback += self.InitializeProcess
        self.RenderExecutableCallback += self.RenderExecutable
        self.RenderArgumentCallback += self.RenderArgument
        self.StartupDirectoryCallback += self.StartupDirectory
        self.CheckExitCodeCallback += self.CheckExitCode

    def Cleanup(self):
        for handler in self.StdoutHandlers:
            del handler.HandleCallback
        del self.InitializeProcessCallback
        del self.RenderExecutableCallback
        del self.RenderArgumentCallback
        del self.StartupDirectoryCallback
        del self.CheckExitCodeCallback

    def InitializeProcess(self):
        self.PopupHandling = False
        self.StdoutHandling = True
        self.AddStdoutHandlerCallback(r'^\s*(\{"event":.*\})\s*$').HandleCallback += self.HandleEvent

    def RenderExecutable(self):
        return self.executable

    def RenderArgument(self):
        return self.arguments

    def StartupDirectory(self):
        return self.folder

    def HandleEvent(self):
        try:
            event = json.loads(self.GetRegexMatch(1))
        except ValueError:
            return
        plugin, kind = self.deadlinePlugin, event.get("event")
        if kind == "start":
            self.total = int(event.get("total") or 0)
            plugin.SetProgress(0.0)
        elif kind == "progress":
            stage, done, total = event.get("stage"), event.get("done") or 0, event.get("total") or 0
            if stage in STAGE_SHARES and total:
                lo, hi = STAGE_SHARES[stage]
                plugin.SetProgress(100.0 * (lo + (hi - lo) * min(done, total) / total))
            words = STAGE_WORDS.get(stage, stage)
            if stage == "denoise" and event.get("steps"):
                words += " step %s/%s" % (event.get("step"), event.get("steps"))
            plugin.SetStatusMessage("Recast: %s %s/%s" % (words, done, total))
        elif kind == "frame":
            self.frames += 1
            plugin.SetStatusMessage("Recast: frame %s written (%d/%s)" % (event.get("frame"), self.frames,
                                                                         self.total or "?"))
        elif kind == "warning":
            plugin.LogWarning("Recast: %s" % event.get("message"))
        elif kind == "done":
            plugin.SetProgress(100.0)
            plugin.SetStatusMessage("Recast: done, %s frame(s) written" % event.get("frames"))
        elif kind == "error":
            self.failed = str(event.get("message") or "the render failed")
            plugin.FailRender(self.failed)

    def CheckExitCode(self, exitCode):
        if exitCode != 0:
            self.deadlinePlugin.FailRender(self.failed or "recast stopped with exit code %d" % exitCode)
