"""Latent → RGB tables for live previews (:mod:`recast.core.pipeline.previews`): the published linear fits of each
VAE decoder's first-order response (the numbers every "latent preview" uses), as data.
"""

__all__ = ["SD15_LATENT_RGB", "WAN21_LATENT_RGB"]

#: (factors C×3, bias 3) for SD 1.5's 4-channel latents as the UNet sees them (scaled by 0.18215)
SD15_LATENT_RGB = ([[0.3512, 0.2297, 0.3227],
                    [0.3250, 0.4974, 0.2350],
                    [-0.2829, 0.1762, 0.2721],
                    [-0.2120, -0.2616, -0.7177]], [0.0, 0.0, 0.0])
#: Wan 2.1's 16-channel latents, normalised by the VAE's per-channel mean and std (as the transformer sees them)
WAN21_LATENT_RGB = ([[-0.1299, -0.1692, 0.2932], [0.0671, 0.0406, 0.0442], [0.3568, 0.2548, 0.1747],
                     [0.0372, 0.2344, 0.1420], [0.0313, 0.0189, -0.0328], [0.0296, -0.0956, -0.0665],
                     [-0.3477, -0.4059, -0.2925], [0.0166, 0.1902, 0.1975], [-0.0412, 0.0267, -0.1364],
                     [-0.1293, 0.0740, 0.1636], [0.0680, 0.3019, 0.1128], [0.0032, 0.0581, 0.0639],
                     [-0.1251, 0.0927, 0.1699], [0.0060, -0.0633, 0.0005], [0.3477, 0.2275, 0.2950],
                     [0.1984, 0.0913, 0.1861]], [-0.1835, -0.0868, -0.3360])
