import os
import subprocess
import sys

import numpy as np
import pytest

from recast.core.io.colour import (DEFAULT_PLATE_SPACE, MODEL_SPACE, from_model, model_input, plate_colorspace,
                                resolve_colorspace, to_model)
from recast.core.errors import ColourError


def _half(x):
    return x.astype(np.float16).astype(np.float32)


@pytest.mark.parametrize("space", ["ACEScg", "Linear Rec.709 (sRGB)", "lin_rec709", "sRGB Encoded Rec.709 (sRGB)"])
def test_round_trip_within_half_precision(space):
    rng = np.random.default_rng(3)
    # values the model space can hold: encoded sRGB in [0, 1]
    model = rng.uniform(0.0, 1.0, (32, 32, 3)).astype(np.float32)
    plate = _half(from_model(model, space))  # a plate as a half EXR would store it
    back = from_model(to_model(plate, space), space)
    np.testing.assert_allclose(back, plate, rtol=2e-3, atol=2e-4)


def test_acescg_and_rec709_are_different_spaces():
    grey = np.full((1, 1, 3), 0.18, np.float32)
    red = np.array([[[0.5, 0.05, 0.05]]], np.float32)
    # a neutral stays neutral in both, a saturated colour does not map the same
    assert to_model(grey, "ACEScg") == pytest.approx(to_model(grey, "Linear Rec.709 (sRGB)"), abs=1e-3)
    assert not np.allclose(to_model(red, "ACEScg"), to_model(red, "Linear Rec.709 (sRGB)"), atol=1e-2)
    # middle grey linear 0.18 is about 0.46 encoded
    assert to_model(grey, DEFAULT_PLATE_SPACE)[0, 0, 0] == pytest.approx(0.4614, abs=1e-3)


def test_out_of_range_values_are_kept_by_to_model_and_clipped_for_the_network():
    hot = np.array([[[8.0, -0.25, 1.0]]], np.float32)
    m = to_model(hot, "Linear Rec.709 (sRGB)")
    assert m[0, 0, 0] > 1.0 and m[0, 0, 1] < 0.0  # unclipped
    back = from_model(m, "Linear Rec.709 (sRGB)")
    np.testing.assert_allclose(back, hot, rtol=1e-3, atol=1e-4)
    net = model_input(m)
    assert net.min() >= 0.0 and net.max() <= 1.0


def test_nan_and_inf_do_not_spread_across_channels():
    px = np.array([[[np.nan, 0.5, 0.5], [np.inf, 0.2, 0.2], [-np.inf, 0.2, 0.2]]], np.float32)
    m = model_input(to_model(px, "ACEScg"))
    assert np.isfinite(m).all()
    assert m[0, 0, 1] > 0.5  # G of the NaN pixel still carries its value
    assert m[0, 1, 0] == 1.0 and m[0, 2, 0] == 0.0


def test_unknown_colourspace_is_one_clear_line():
    with pytest.raises(ColourError, match="'ACES cg' is not in the OCIO config") as exc:
        resolve_colorspace("ACES cg")
    assert "known spaces include" in str(exc.value) and "\n" not in str(exc.value)


def test_plate_colourspace_precedence():
    assert plate_colorspace("ACEScg", "Linear Rec.709 (sRGB)") == "ACEScg"
    assert plate_colorspace(None, "lin_rec709") == "Linear Rec.709 (sRGB)"
    assert plate_colorspace(None, "some studio space") == "Linear Rec.709 (sRGB)"
    assert plate_colorspace(None, None) == "Linear Rec.709 (sRGB)"
    assert resolve_colorspace(MODEL_SPACE) == MODEL_SPACE


def test_ocio_environment_variable_is_honoured(tmp_path):
    """A studio config named by $OCIO replaces the built-in one."""
    config = tmp_path / "studio.ocio"
    config.write_text(
        "ocio_profile_version: 2\n"
        "roles:\n  default: plate_lin\n  scene_linear: plate_lin\n"
        "displays:\n  sRGB:\n    - !<View> {name: Raw, colorspace: plate_lin}\n"
        "colorspaces:\n"
        "  - !<ColorSpace>\n    name: plate_lin\n    isdata: false\n"
        "  - !<ColorSpace>\n    name: sRGB Encoded Rec.709 (sRGB)\n    isdata: false\n"
        "    from_scene_reference: !<ExponentTransform> {value: [2.0, 2.0, 2.0, 1.0], direction: inverse}\n"
    )
    code = ("from recast.core.io.colour import to_model, resolve_colorspace; import numpy as np;"
            "resolve_colorspace('plate_lin');"
            "print(float(to_model(np.full((1,1,3),0.25,np.float32),'plate_lin')[0,0,0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OCIO": str(config)})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(0.5, abs=1e-3)  # the studio's gamma 2.0, not sRGB
