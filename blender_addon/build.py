"""Build the Recast Blender extension zip: ``python blender_addon/build.py [--out dist]``.

The zip holds the add-on's modules, its manifest and Recast's own pure-Python wheel (the job
file and worker runner the add-on shares with the CLI and the Nuke node). Install it in
Blender with Edit > Preferences > Get Extensions > Install from Disk, or
``blender --command extension install-file -r user_default -e recast-0.1.0.zip``.
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODULES = ["__init__.py", "compat.py", "plates.py", "props.py", "strip_render.py", "ui.py"]


def build(out: str) -> str:
    with open(os.path.join(HERE, "blender_manifest.toml"), "rb") as fh:
        manifest = tomllib.load(fh)
    (wheel_rel,) = manifest["wheels"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp,
                        REPO], check=True)
        built = glob.glob(os.path.join(tmp, "recast-*.whl"))
        if [os.path.basename(b) for b in built] != [os.path.basename(wheel_rel)]:
            sys.exit(f"build.py: the wheel built is {[os.path.basename(b) for b in built]} but "
                     f"blender_manifest.toml lists {wheel_rel}; make their versions agree")
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f"recast-{manifest['version']}.zip")
        with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
            z.write(os.path.join(HERE, "blender_manifest.toml"), "blender_manifest.toml")
            for name in MODULES:
                z.write(os.path.join(HERE, name), name)
            z.write(built[0], wheel_rel.lstrip("./"))
        os.replace(path + ".tmp", path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "dist"), help="folder for the zip (default: dist/)")
    print(build(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
