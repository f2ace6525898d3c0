"""The IDX reader: round trips, and one clear error per kind of damage (plus a fuzz test)."""

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablations.data.idx import IdxFormatError, parse_idx, read_idx, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_round_trip(tmp_path, suffix, dtype, rng):
    array = (rng.standard_normal((5, 4, 3)) * 50).astype(dtype)
    path = tmp_path / f"x-idx3{suffix}"
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_truncated_file_names_file_and_sizes(tmp_path):
    path = tmp_path / "images"
    data = write_idx(path, np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(data[:-100])
    with pytest.raises(IdxFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "7856" in message and "7756" in message
    assert "truncated" in message and "\n" not in message


def test_wrong_magic(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(IdxFormatError, match="bad IDX magic 12340801"):
        read_idx(path)


def test_unexpected_shape(tmp_path):
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(5, np.uint8))
    with pytest.raises(IdxFormatError, match=r"expected shape \(6,\), found \(5,\)"):
        read_idx(path, expected_shape=(6,))


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 5)[:-6])
    with pytest.raises(IdxFormatError, match="corrupt gzip"):
        read_idx(path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_fail_cleanly(data):
    try:
        array = parse_idx(data)
    except IdxFormatError as err:
        assert "\n" not in str(err)
    else:
        assert array.nbytes <= len(data)
