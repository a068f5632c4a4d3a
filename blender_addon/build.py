"""Build the Recast Blender extension zip: ``python blender_addon/build.py [--out dist]``.

The zip holds the add-on's modules, its manifest and Recast's own pure-Python wheel (the job
file and worker runner the add-on shares with the CLI and the Nuke node). The manifest's
version and wheel name are written from ``recast.core.__version__``, the one place the version
lives. Install it in Blender with Edit > Preferences > Get Extensions > Install from Disk, or
``blender --command extension install-file -r user_default -e recast-VERSION.zip``.
"""

import argparse
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
#: every module of the add-on (all but this build script), so a new one cannot be left out of the zip
MODULES = sorted(n for n in os.listdir(HERE) if n.endswith(".py") and n != "build.py")


def version() -> str:
    """``recast.core.__version__``, read from the source (nothing imported)."""
    tree = ast.parse(open(os.path.join(REPO, "core", "__init__.py"), encoding="utf-8").read())
    return next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", "") == "__version__" for t in n.targets))


#: what a wheel of the repository never takes: a copy of the sources without these builds the same wheel
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "test-artifacts",
                                     "recast_demo", ".pytest_cache")


def source_copy(dest: str) -> str:
    """The repository's sources copied to ``dest`` (returned), to build a wheel from.

    setuptools builds in ``./build`` of the source folder: two builds of one checkout at once (a
    test building this zip beside one installing the package) delete each other's files, and a
    stale ``build/`` from an earlier run can carry modules the sources no longer have. A copy per
    build has neither problem; pip has no option that moves setuptools' build folder.
    """
    shutil.copytree(REPO, dest, ignore=_NOT_SOURCE)
    return dest


def manifest(text: str, ver: str) -> str:
    """The manifest with its version and wheel name set to ``ver``."""
    text = re.sub(r'^version = "[^"]*".*$', f'version = "{ver}"', text, count=1, flags=re.M)
    return re.sub(r'^wheels = \[.*\].*$', f'wheels = ["./wheels/recast-{ver}-py3-none-any.whl"]', text, count=1,
                  flags=re.M)


def build(out: str) -> str:
    ver = version()
    with open(os.path.join(HERE, "blender_manifest.toml"), encoding="utf-8") as fh:
        text = manifest(fh.read(), ver)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp,
                        source_copy(os.path.join(tmp, "src"))], check=True)
        built = glob.glob(os.path.join(tmp, "recast-*.whl"))
        wheel = f"recast-{ver}-py3-none-any.whl"
        if [os.path.basename(b) for b in built] != [wheel]:
            sys.exit(f"build.py: the wheel built is {[os.path.basename(b) for b in built]}, expected {wheel}")
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f"recast-{ver}.zip")
        with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("blender_manifest.toml", text)
            for name in MODULES:
                z.write(os.path.join(HERE, name), name)
            z.write(built[0], f"wheels/{wheel}")
        os.replace(path + ".tmp", path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "dist"), help="folder for the zip (default: dist/)")
    print(build(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
