"""The IDX format of MNIST and Fashion-MNIST, read and written with full validation.

Layout: 2 zero bytes, a dtype code, the number of dimensions d, then d big-endian uint32 sizes,
then the payload in C order. Files may be gzip-compressed; `read_idx` detects gzip by its magic.
"""

import gzip
import math
import struct
from pathlib import Path

import numpy as np

DTYPE_CODES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODE_OF = {(dtype.kind, dtype.itemsize): code for code, dtype in DTYPE_CODES.items()}
GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """A file is not the IDX data it should be; the message names the file and the mismatch."""


def idx_header(shape, dtype=np.uint8):
    """The header bytes of an IDX file holding an array of `shape` and `dtype`."""
    dtype = np.dtype(dtype)
    code = CODE_OF[dtype.kind, dtype.itemsize]
    return struct.pack(">HBB", 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def read_idx_bytes(path):
    """The decompressed bytes of an IDX file, raw or gzip."""
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise IdxFormatError(f"{path}: corrupt gzip stream ({err})") from None
    return data


def parse_idx(data, name="<bytes>", expected_shape=None):
    """Decode IDX bytes into an array, validating magic, dtype, dimensions and payload size."""
    if len(data) < 4:
        raise IdxFormatError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zeros, code, ndim = struct.unpack(">HBB", data[:4])
    if zeros != 0 or code not in DTYPE_CODES or ndim == 0:
        raise IdxFormatError(
            f"{name}: bad IDX magic {data[:4].hex()} "
            f"(expected 0000 + dtype code 08/09/0b/0c/0d/0e + ndim >= 1)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxFormatError(f"{name}: header truncated ({len(data)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    if expected_shape is not None and tuple(shape) != tuple(expected_shape):
        raise IdxFormatError(f"{name}: expected shape {tuple(expected_shape)}, found {shape}")
    dtype = DTYPE_CODES[code]
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise IdxFormatError(
            f"{name}: expected {expected} bytes for shape {shape}, found {len(data)}"
            f" ({'truncated' if len(data) < expected else 'trailing data'})"
        )
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path, expected_shape=None):
    """Read a raw or gzipped IDX file into an array (native byte order)."""
    return parse_idx(read_idx_bytes(path), str(path), expected_shape)


def write_idx(path, array, compress=None):
    """Write `array` as IDX; gzip it when `compress` is True or the name ends in .gz."""
    array = np.asarray(array)
    big_endian = array.astype(array.dtype.newbyteorder(">"), copy=False)
    data = idx_header(array.shape, array.dtype) + big_endian.tobytes()
    compress = str(path).endswith(".gz") if compress is None else compress
    Path(path).write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return data
