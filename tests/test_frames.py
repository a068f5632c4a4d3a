import pytest

from recast.core.errors import SequenceError
from recast.core.io.frames import FrameRange, SequencePattern, compress_frames


@pytest.mark.parametrize("text, first, last", [
    ("1001-1100", 1001, 1100), ("1001", 1001, 1001), (" 5 - 7 ", 5, 7),
    ("-10--1", -10, -1), ("-5-5", -5, 5), ("0-0", 0, 0),
])
def test_range_parse(text, first, last):
    r = FrameRange.parse(text)
    assert (r.first, r.last) == (first, last)
    assert len(r) == last - first + 1
    assert list(r) == list(range(first, last + 1))


@pytest.mark.parametrize("text", ["", "abc", "10-1", "1-2-3", "1,2", "1..5", "1.5-3", "--1"])
def test_range_bad(text):
    with pytest.raises(SequenceError) as exc:
        FrameRange.parse(text)
    assert repr(text) in str(exc.value) or "ends before" in str(exc.value)


@pytest.mark.parametrize("pattern, frame, expected", [
    ("plate/sh010.####.exr", 1001, "plate/sh010.1001.exr"),
    ("plate/sh010.####.exr", 7, "plate/sh010.0007.exr"),
    ("plate/sh010.####.exr", -1, "plate/sh010.-001.exr"),
    ("plate/sh010.####.exr", 12345, "plate/sh010.12345.exr"),
    ("sh010.%04d.exr", 42, "sh010.0042.exr"),
    ("sh010.%d.exr", 42, "sh010.42.exr"),
    ("sh010.$F4.exr", 3, "sh010.0003.exr"),
    ("sh010.$F.exr", 3, "sh010.3.exr"),
    ("sh010_#.exr", -3, "sh010_-3.exr"),
    ("/abs/v001/sh010.##.exr", 5, "/abs/v001/sh010.05.exr"),
])
def test_pattern_path(pattern, frame, expected):
    assert SequencePattern.parse(pattern).path(frame) == expected


@pytest.mark.parametrize("pattern, message", [
    ("plate/sh010.exr", "no frame number"),
    ("", "empty"),
    ("sh010.####.%04d.exr", "more than one"),
    ("shot.#############.exr", "at most 12"),
])
def test_pattern_bad(pattern, message):
    with pytest.raises(SequenceError, match=message):
        SequencePattern.parse(pattern)


def test_pattern_token_in_folder_is_not_a_frame_number():
    # '#' in a folder name is not where the frame goes; only the file name counts
    with pytest.raises(SequenceError, match="no frame number"):
        SequencePattern.parse("shots/#1/plate.exr")


def test_scan_finds_negative_and_unpadded_frames(tmp_path):
    for name in ["a.-002.exr", "a.-001.exr", "a.0000.exr", "a.0001.exr", "a.12345.exr", "a.01.exr", "b.0003.exr"]:
        (tmp_path / name).write_bytes(b"")
    seq = SequencePattern.parse(str(tmp_path / "a.####.exr"))
    assert sorted(seq.scan()) == [-2, -1, 0, 1, 12345]  # 'a.01.exr' has the wrong padding
    unpadded = SequencePattern.parse(str(tmp_path / "a.%d.exr"))
    assert sorted(unpadded.scan()) == [12345]


def test_compress_frames():
    assert compress_frames([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert compress_frames([-2, -1, 5]) == "-2--1, 5"
    assert compress_frames([]) == ""
