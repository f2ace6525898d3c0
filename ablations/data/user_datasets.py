"""A user's own dataset: arrays from a .npz file holding x_train, y_train, x_test, y_test (the
convention of Keras' mnist.npz), or from a folder of the four IDX files MNIST is published as.

`array_dataset(name, path, sha256, ...)` declares one (in a study file or a plugin) and registers
it in DATASETS. Fetching checks the SHA-256 of the file (of each file of a folder) and then the
arrays (keys, shapes, dtypes, pixel and label ranges) before anything is written, and caches them
as .npy files under `<data_dir>/<name>/` with a manifest holding each array's SHA-256; loading
memory-maps the cache and checks it against the manifest, as IdxDataset does with its pins. The
splits come from datasets.load_splits: the same seeded, stratified validation split as MNIST.
"""

import hashlib
import json
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ablations.files import save_npy_atomic, write_json_atomic
from .datasets import DATASETS, SPLIT_KEYS, DatasetError, fetch_lock
from .idx import IdxFormatError, parse_idx, read_idx_bytes
from .sources import _find

NPZ_KEYS = dict(zip(SPLIT_KEYS, ("x_train", "y_train", "x_test", "y_test")))
IDX_FILES = dict(
    zip(
        SPLIT_KEYS,
        (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ),
    )
)
MANIFEST = "manifest.json"
HEX64 = re.compile(r"[0-9a-f]{64}")
VAL_SHARE = 1 / 6  # MNIST holds out 10,000 of its 60,000 training images


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def array_sha256(array):
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


@dataclass(frozen=True)
class ArrayDataset:
    """A dataset from a user's file (`path` ends in .npz) or folder of IDX files, pinned by
    `sha256`: the file's hex digest, or for a folder ((file name, hex digest), ...) of its files
    as they are stored (raw or .gz). Label i is class_names[i]; pixels lie in [0, max_value]."""

    name: str
    path: Path
    sha256: object
    image_shape: tuple
    class_names: tuple
    val_size: int
    max_value: float = 255.0
    target_val_acc: float = 0.9  # for time-to-target

    @property
    def n_classes(self):
        return len(self.class_names)

    @property
    def content_sha256(self):
        """What the runs on it carry in their id (grid/loaded.py's stamp): the SHA-256 of the
        file, which fetch and load_raw hold the data to; of a folder, of its files' names and
        digests. Whatever the study computes its pin from, a new file means new run ids."""
        if isinstance(self.sha256, str):
            return self.sha256
        return hashlib.sha256(
            "".join(f"{name} {digest}\n" for name, digest in self.sha256).encode()
        ).hexdigest()

    def cache_dir(self, data_dir):
        return Path(data_dir) / self.name

    def where(self, detail=""):
        return f"dataset {self.name!r}: {self.path}{detail}"

    def read_source(self):
        """The four arrays from `path`, verified; DatasetError (one line) otherwise."""
        if self.path.suffix == ".npz":
            return self.check(read_npz(self))
        return self.check(read_idx_folder(self))

    def check(self, arrays):
        """`arrays` (split key -> array) as cached: images uint8 (or float32), labels int64;
        DatasetError for a wrong shape, dtype or range (NaN and +-Inf included), an empty split,
        or too few rows to split."""
        out = {}
        for split in ("train", "test"):
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
            x, y = NPZ_KEYS[f"{split}_images"], NPZ_KEYS[f"{split}_labels"]
            if images.ndim < 2 or images.shape[1:] != tuple(self.image_shape):
                raise DatasetError(
                    self.where(
                        f": {x} has shape {images.shape}, expected "
                        f"(n, {', '.join(map(str, self.image_shape))})"
                    )
                )
            if images.dtype.kind not in "uif" or labels.dtype.kind not in "iu":
                raise DatasetError(
                    self.where(
                        f": {x} must hold numbers and {y} integers, found "
                        f"{images.dtype} and {labels.dtype}"
                    )
                )
            if labels.shape != images.shape[:1]:
                raise DatasetError(
                    self.where(
                        f": {y} has shape {labels.shape}, expected "
                        f"({len(images)},), one label per image of {x}"
                    )
                )
            if not len(images):
                raise DatasetError(self.where(f": {x} is empty; each split needs images"))
            if images.dtype.kind == "f" and not np.isfinite(images).all():
                bad = images[~np.isfinite(images)].flat[0]
                raise DatasetError(
                    self.where(
                        f": {x} holds {bad} values; every pixel must be a "
                        f"finite number in [0, {self.max_value:g}]"
                    )
                )
            if images.min() < 0 or images.max() > self.max_value:
                raise DatasetError(
                    self.where(
                        f": {x} has values in [{images.min()}, "
                        f"{images.max()}], outside [0, {self.max_value:g}] "
                        f"(declare max_value)"
                    )
                )
            if labels.min() < 0 or labels.max() >= self.n_classes:
                raise DatasetError(
                    self.where(
                        f": {y} has labels in [{labels.min()}, "
                        f"{labels.max()}], outside 0..{self.n_classes - 1} "
                        f"({self.n_classes} classes)"
                    )
                )
            out[f"{split}_images"] = (
                images if images.dtype == np.uint8 else images.astype(np.float32)
            )
            out[f"{split}_labels"] = labels.astype(np.int64)
        n_train, counts = len(out["train_labels"]), np.bincount(out["train_labels"])
        present = np.count_nonzero(counts)
        if (
            not present <= self.val_size <= n_train - present
            or counts[counts > 0].min(initial=2) < 2
        ):
            raise DatasetError(
                self.where(
                    f": cannot hold out {self.val_size} of {n_train} "
                    f"training images stratified over {present} classes "
                    f"(each class needs 2 images; set val_size)"
                )
            )
        return out

    def load_raw(self, data_dir):
        """The cached arrays, memory-mapped and checked against the manifest; DatasetError if the
        cache is missing, holds another version of the file, or is corrupt."""
        cache = self.cache_dir(data_dir)
        try:
            manifest = json.loads((cache / MANIFEST).read_text())
        except (OSError, ValueError):
            raise DatasetError(f"dataset {self.name!r}: not in the cache {cache}") from None
        if manifest.get("sha256") != pin_json(self.sha256):
            raise DatasetError(f"dataset {self.name!r}: the cache {cache} holds another version")
        arrays = {}
        for key in SPLIT_KEYS:
            path = cache / f"{key}.npy"
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as err:
                raise DatasetError(f"{path}: unreadable ({err})") from None
            if array_sha256(array) != manifest["arrays"].get(key):
                raise DatasetError(f"{path}: SHA-256 does not match {cache / MANIFEST}")
            arrays[key] = array
        return arrays

    def fetch(self, data_dir, log=print, progress=None):
        """Make sure the verified cache exists; return "cache" or the file it was read from.
        Nothing is written unless the file and its arrays pass every check."""
        try:
            self.load_raw(data_dir)
            return "cache"
        except DatasetError:
            pass
        arrays = self.read_source()
        with fetch_lock(data_dir, self.name, log):
            cache = self.cache_dir(data_dir)
            cache.mkdir(parents=True, exist_ok=True)
            for key, array in arrays.items():
                save_npy_atomic(cache / f"{key}.npy", array)
            write_json_atomic(
                cache / MANIFEST,
                {
                    "source": str(self.path),
                    "sha256": pin_json(self.sha256),
                    "arrays": {key: array_sha256(array) for key, array in arrays.items()},
                    "fetched": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
            )
        return str(self.path)

    def provenance(self, data_dir):
        path = self.cache_dir(data_dir) / MANIFEST
        return json.loads(path.read_text())["source"] if path.is_file() else "unknown"


def pin_json(sha256):
    return sha256 if isinstance(sha256, str) else dict(sha256)


def verify_file(dataset, path, expected):
    if not Path(path).is_file():
        raise DatasetError(
            dataset.where(f": {Path(path).name} is missing")
            if Path(path) != dataset.path
            else dataset.where(" is missing")
        )
    digest = file_sha256(path)
    if digest != expected:
        raise DatasetError(
            f"dataset {dataset.name!r}: {path}: SHA-256 {digest[:16]}... does not "
            f"match the declared {expected[:16]}..."
        )


def read_npz(dataset):
    """The arrays of a verified .npz file, by split key."""
    verify_file(dataset, dataset.path, dataset.sha256)
    try:
        with np.load(dataset.path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS.values() if k not in npz.files]
            if missing:
                raise DatasetError(
                    dataset.where(
                        f" has no {missing[0]!r} (it holds "
                        f"{', '.join(npz.files) or 'nothing'}; expected "
                        f"{', '.join(NPZ_KEYS.values())})"
                    )
                )
            return {key: npz[name] for key, name in NPZ_KEYS.items()}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DatasetError(dataset.where(f": not a readable .npz ({err})")) from None


def read_idx_folder(dataset):
    """The arrays of a folder's four IDX files (raw or .gz), each verified, by split key."""
    pins = dict(dataset.sha256)
    arrays = {}
    for key, name in IDX_FILES.items():
        path = _find(dataset.path, name)
        if path is None:
            raise DatasetError(dataset.where(f" has no {name}[.gz]"))
        if path.name not in pins:
            raise DatasetError(
                dataset.where(
                    f": no SHA-256 declared for {path.name} (declared: {', '.join(sorted(pins))})"
                )
            )
        verify_file(dataset, path, pins[path.name])
        try:
            arrays[key] = parse_idx(read_idx_bytes(path), str(path))
        except IdxFormatError as err:
            raise DatasetError(f"dataset {dataset.name!r}: {err}") from None
    return arrays


def check_pins(name, path, sha256):
    """The pin(s) as ArrayDataset keeps them; DatasetError for a malformed one."""
    if path.suffix == ".npz":
        if not isinstance(sha256, str) or not HEX64.fullmatch(sha256):
            raise DatasetError(
                f"dataset {name!r}: sha256 must be the 64 lowercase hex digits "
                f"of {path.name}, got {sha256!r}"
            )
        return sha256
    if not isinstance(sha256, dict) or not all(
        isinstance(v, str) and HEX64.fullmatch(v) for v in sha256.values()
    ):
        raise DatasetError(
            f"dataset {name!r}: a folder of IDX files needs sha256 = {{file name: "
            f"64 lowercase hex digits}} for each of its files"
        )
    return tuple(sorted(sha256.items()))


def peek(name, dataset_path, pins):
    """(image shape, training labels) of the file or folder, for what a declaration leaves out."""
    probe = ArrayDataset(name, dataset_path, pins, (), (), 0)
    arrays = read_npz(probe) if dataset_path.suffix == ".npz" else read_idx_folder(probe)
    return arrays["train_images"].shape[1:], np.asarray(arrays["train_labels"])


def array_dataset(
    name,
    path,
    sha256,
    class_names=None,
    image_shape=None,
    val_size=None,
    max_value=255.0,
    target_val_acc=0.9,
):
    """Declare and register (DATASETS) the dataset `name` from `path`: a .npz file, or a folder
    of IDX files, pinned by `sha256` (a hex digest; for a folder, {file name: hex digest}).
    A relative path is taken from the current folder. Left out, `image_shape` is x_train's,
    `class_names` are "0", "1", ... up to the largest training label, and `val_size` is a sixth
    of the training images (MNIST's 10,000 of 60,000); finding them reads the file here."""
    path = Path(path).expanduser().resolve()
    pins = check_pins(name, path, sha256)
    if image_shape is None or class_names is None or val_size is None:
        shape, labels = peek(name, path, pins)
        image_shape = shape if image_shape is None else image_shape
        n_classes = int(labels.max()) + 1 if len(labels) else 0
        class_names = tuple(map(str, range(n_classes))) if class_names is None else class_names
        val_size = (
            max(len(class_names), round(VAL_SHARE * len(labels))) if val_size is None else val_size
        )
    dataset = ArrayDataset(
        name,
        path,
        pins,
        tuple(image_shape),
        tuple(map(str, class_names)),
        int(val_size),
        float(max_value),
        float(target_val_acc),
    )
    return DATASETS.register(name)(dataset)
