"""A corpus of damaged EXRs for the fuzz test: real files of every kind written with OpenImageIO
(scanline and tiled in all ten compressions, a multi-part stereo file, a deep file), then damaged
by flipping bits (mostly in the header), truncating, and swapping blocks. Seeded: the same corpus
every run."""

import os
import random
import sys

import numpy as np
import OpenImageIO as oiio

COMPRESSIONS = ["none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab"]


def sources(folder):
    """The undamaged files (22): every compression scanline and tiled, multi-part stereo, deep."""
    rng = np.random.default_rng(0)
    px = rng.random((24, 40, 4), np.float32) * 4
    out = []
    for comp in COMPRESSIONS:
        for tiled in (False, True):
            spec = oiio.ImageSpec(40, 24, 4, oiio.HALF)
            spec.attribute("compression", comp)
            if tiled:
                spec.tile_width = spec.tile_height = 16
            p = os.path.join(folder, f"src_{comp}_{'tiled' if tiled else 'scan'}.exr")
            o = oiio.ImageOutput.create(p)
            o.open(p, spec)
            o.write_image(px)
            o.close()
            out.append(p)
    # multi-part with views
    p = os.path.join(folder, "src_multipart.exr")
    specs = []
    for name, view in (("rgba_left", "left"), ("rgba_right", "right")):
        s = oiio.ImageSpec(40, 24, 4, oiio.HALF)
        s.attribute("oiio:subimagename", name)
        s.attribute("view", view)
        s.attribute("compression", "zip")
        specs.append(s)
    o = oiio.ImageOutput.create(p)
    o.open(p, specs)
    o.write_image(px)
    o.open(p, specs[1], "AppendSubimage")
    o.write_image(px)
    o.close()
    out.append(p)
    # deep
    p = os.path.join(folder, "src_deep.exr")
    s = oiio.ImageSpec(8, 6, 2, oiio.FLOAT)
    s.channelnames = ("A", "Z")
    s.deep = True
    buf = oiio.ImageBuf(s)
    for y in range(6):
        for x in range(8):
            buf.set_deep_samples(x, y, 0, 1)
            buf.set_deep_value(x, y, 0, 0, 0, 0.5)
            buf.set_deep_value(x, y, 0, 1, 0, 2.0)
    buf.write(p)
    out.append(p)
    return out


def damage(srcs, folder, count, seed=1):
    """``count`` damaged copies, each as frame 1001 of its own sequence ``fNNN/plate.####.exr``."""
    rnd = random.Random(seed)
    made = []
    for i in range(count):
        src = srcs[i % len(srcs)]
        data = bytearray(open(src, "rb").read())
        kind = i % 3
        if kind == 0:  # flip bytes (header more often than not)
            for _ in range(rnd.randint(1, 12)):
                pos = rnd.randrange(0, min(len(data), 400)) if rnd.random() < 0.6 else rnd.randrange(len(data))
                data[pos] ^= 1 << rnd.randrange(8)
        elif kind == 1:  # truncate
            data = data[: rnd.randrange(1, len(data))]
        else:  # rearrange: swap two blocks
            a, b = sorted(rnd.sample(range(len(data)), 2))
            n = rnd.randint(1, max(1, min(64, b - a)))
            data[a:a + n], data[b:b + n] = data[b:b + n], data[a:a + n]
        d = os.path.join(folder, f"f{i:03d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "plate.1001.exr")
        open(p, "wb").write(bytes(data))
        made.append(p)
    return made


if __name__ == "__main__":
    folder = sys.argv[1]
    srcs = sources(folder)
    print(len(srcs), len(damage(srcs, folder, int(sys.argv[2]))))
