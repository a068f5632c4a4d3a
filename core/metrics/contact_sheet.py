"""The contact sheet: sampled frames side by side, one row per kind (plate, depth, result), titled.

The one writer of contact sheets (the review report and ``recast demo`` both use it). Drawn
with matplotlib (Agg, no display), written as an RGB PNG (atomically, through OIIO).
"""

from __future__ import annotations

import numpy as np

__all__ = ["write_contact_sheet"]


def write_contact_sheet(path: str, rows: list[tuple[str, list[tuple[str, np.ndarray]]]]) -> None:
    """Write ``rows`` — ``(row label, [(title, display RGB H×W×3 in [0, 1]), ...])`` — as a PNG at ``path``;
    titles go over the first row's images, labels beside each row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.exrio import write_image

    columns = max(len(images) for _, images in rows)
    h, w = rows[0][1][0][1].shape[:2]
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.2 * columns * w / h + 0.6, 2.4 * len(rows)),
                             squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                title, img = images[c]
                ax.imshow(np.clip(img[:, :, :3], 0, 1), interpolation="nearest")
                if r == 0:
                    ax.set_title(title, fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout()
    fig.set_dpi(100)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(np.float32) / 255.0  # PNG as RGB, no alpha
    plt.close(fig)
    write_image(path, rgb)
