"""Stand-in of FranticX.Processes: ManagedProcess and the event type Deadline's callbacks are."""

import re
import subprocess


class Event:
    """A .NET event as pythonnet shows it: ``+=`` adds a handler; calling it calls each."""

    def __init__(self):
        self.handlers = []

    def __iadd__(self, handler):
        self.handlers.append(handler)
        return self

    def __isub__(self, handler):
        self.handlers.remove(handler)
        return self

    def __call__(self, *args):
        result = None
        for handler in self.handlers:
            result = handler(*args)
        return result

    def __bool__(self):
        return bool(self.handlers)


class StdoutHandler:
    def __init__(self, regex):
        self.regex = re.compile(regex)  # .NET Regex.Match: searched anywhere in the line
        self.HandleCallback = Event()


def split_arguments(text):
    """The argv a process gets from one argument string, by Windows' rules (CommandLineToArgvW), which
    Deadline's process launcher follows on every OS."""
    args, cur, i, quoted, have = [], [], 0, False, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            n = 0
            while i < len(text) and text[i] == "\\":
                n, i = n + 1, i + 1
            if i < len(text) and text[i] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i += 1
                have = True
            else:
                cur.append("\\" * n)
                have = True
            continue
        if c == '"':
            quoted, have = not quoted, True
        elif c in " \t" and not quoted:
            if have:
                args.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


class ProcessBase:
    """What DeadlinePlugin (simple mode) and ManagedProcess share: the process callbacks and stdout handling."""

    def __init__(self):
        self.InitializeProcessCallback = Event()
        self.RenderExecutableCallback = Event()
        self.RenderArgumentCallback = Event()
        self.StartupDirectoryCallback = Event()
        self.CheckExitCodeCallback = Event()
        self.StdoutHandlers = []
        self.StdoutHandling = False
        self.PopupHandling = False
        self._match = None

    def AddStdoutHandlerCallback(self, regex):
        handler = StdoutHandler(regex)
        self.StdoutHandlers.append(handler)
        return handler

    def GetRegexMatch(self, index):
        return self._match.group(index)

    def _run(self, plugin):
        """Run the process the callbacks describe, feeding stdout to the handlers; its exit code."""
        self.InitializeProcessCallback()
        exe = self.RenderExecutableCallback()
        arguments = self.RenderArgumentCallback() or ""
        folder = self.StartupDirectoryCallback() if self.StartupDirectoryCallback else None
        plugin.LogInfo("Executable: %s" % exe)
        plugin.LogInfo("Argument: %s" % arguments)
        proc = subprocess.Popen([exe, *split_arguments(arguments)], cwd=folder or None, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                plugin.stdout.append(line)
                if not self.StdoutHandling:
                    continue
                for handler in self.StdoutHandlers:
                    match = handler.regex.search(line)
                    if match:
                        self._match = match
                        handler.HandleCallback()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        if self.CheckExitCodeCallback:
            self.CheckExitCodeCallback(code)
        elif code != 0:
            plugin.FailRender("Error: process exit code %d" % code)
        return code


class ManagedProcess(ProcessBase):
    """A process an advanced plugin runs with RunManagedProcess (its own callbacks and stdout handlers)."""
