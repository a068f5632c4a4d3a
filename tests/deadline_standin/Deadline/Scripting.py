"""Stand-in of Deadline.Scripting: RepositoryUtils.CheckPathMapping with the repository's mapping rules."""


class RepositoryUtils:
    #: the repository's path mapping: (replace, with) pairs, as Configure Repository Options sets them
    PathMappings = []

    @staticmethod
    def CheckPathMapping(path, *_):
        for src, dst in RepositoryUtils.PathMappings:
            if path.startswith(src):
                return dst + path[len(src):]
        return path


class FrameUtils:
    @staticmethod
    def Parse(frames):
        out = []
        for part in str(frames).split(","):
            a, _, b = part.strip().partition("-")
            out += list(range(int(a), int(b or a) + 1))
        return out
