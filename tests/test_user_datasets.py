"""A user's own dataset (ablations/user_datasets.py): a .npz file or a folder of IDX files, pinned
by SHA-256, verified into the memory-mapped cache, split like MNIST; every bad file one line."""

import hashlib

import numpy as np
import pytest

from ablations.data.datasets import DATASETS, DatasetError, load_splits
from ablations.data.idx import write_idx
from ablations.data.user_datasets import IDX_FILES, array_dataset

from test_plugins import assert_one_line_exit_2, cli

NAME = "user_arrays"


def arrays(n_train=120, n_test=40, shape=(4, 4), classes=3):
    rng = np.random.default_rng(5)
    return {
        "x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % classes,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % classes,
    }


def save_npz(path, content):
    np.savez(path, **content)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def declared():
    """Datasets a test declares are taken out of DATASETS again afterwards."""
    yield
    DATASETS.pop(NAME, None)


def test_an_npz_dataset_is_cached_verified_and_split_like_mnist(tmp_path, data_dir, declared):
    sha = save_npz(tmp_path / "a.npz", arrays())
    dataset = array_dataset(NAME, tmp_path / "a.npz", sha, class_names=["a", "b", "c"])
    assert (dataset.image_shape, dataset.n_classes, dataset.val_size) == ((4, 4), 3, 20)
    assert dataset.fetch(data_dir, log=print) == str(tmp_path / "a.npz")
    assert dataset.fetch(data_dir, log=print) == "cache"
    raw = dataset.load_raw(data_dir)
    assert isinstance(raw["train_images"], np.memmap)
    np.testing.assert_array_equal(raw["test_images"], arrays()["x_test"])
    splits = load_splits(NAME, data_dir, split_seed=3)
    assert (len(splits.y_val), len(splits.y_train), splits.n_classes) == (20, 100, 3)
    assert sorted(np.bincount(splits.y_val)) == [6, 7, 7]  # stratified
    again = load_splits(NAME, data_dir, split_seed=3)
    np.testing.assert_array_equal(splits.X_val, again.X_val)
    assert splits.X_train.max() <= 1.0 and splits.X_train.dtype == np.float32


def test_a_corrupt_cache_is_refetched(tmp_path, data_dir, declared):
    dataset = array_dataset(NAME, tmp_path / "a.npz", save_npz(tmp_path / "a.npz", arrays()))
    dataset.fetch(data_dir, log=print)
    cached = data_dir / NAME / "test_labels.npy"
    np.save(cached, np.zeros(40, np.int64))
    with pytest.raises(DatasetError, match="does not match"):
        dataset.load_raw(data_dir)
    assert dataset.fetch(data_dir, log=print) != "cache"
    np.testing.assert_array_equal(dataset.load_raw(data_dir)["test_labels"], arrays()["y_test"])


def test_a_folder_of_idx_files_raw_or_gzipped(tmp_path, data_dir, declared):
    folder = tmp_path / "idx"
    folder.mkdir()
    pins = {}
    for (key, name), content in zip(IDX_FILES.items(), arrays().values()):
        path = folder / (name + (".gz" if "images" in key else ""))
        write_idx(path, content)
        pins[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    dataset = array_dataset(NAME, folder, pins)
    assert (dataset.image_shape, dataset.class_names) == ((4, 4), ("0", "1", "2"))
    dataset.fetch(data_dir, log=print)
    np.testing.assert_array_equal(dataset.load_raw(data_dir)["train_labels"], arrays()["y_train"])


def bad_npz(tmp_path, change):
    content = arrays()
    change(content)
    return tmp_path / "bad.npz", save_npz(tmp_path / "bad.npz", content)


BAD_FILES = {
    "a missing key": (lambda a: a.pop("y_test"), "has no 'y_test'"),
    "wrong shapes": (lambda a: a.update(x_test=a["x_test"][:, :3]), "x_test has shape (40, 3, 4)"),
    "a label out of range": (lambda a: a["y_test"].__setitem__(0, 3), "outside 0..2"),
    "labels not per image": (lambda a: a.update(y_train=a["y_train"][:-1]), "one label per image"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_one_line_and_nothing_is_cached(tmp_path, data_dir, declared, name):
    change, fragment = BAD_FILES[name]
    path, sha = bad_npz(tmp_path, change)
    dataset = array_dataset(NAME, path, sha, class_names="abc", image_shape=(4, 4), val_size=20)
    with pytest.raises(DatasetError, match="^dataset 'user_arrays': ") as err:
        dataset.fetch(data_dir, log=print)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert list(data_dir.iterdir()) == []


def test_a_wrong_hash_is_refused_before_anything_is_read(tmp_path, data_dir, declared):
    save_npz(tmp_path / "a.npz", arrays())
    dataset = array_dataset(
        NAME, tmp_path / "a.npz", "0" * 64, class_names="abc", image_shape=(4, 4), val_size=20
    )
    with pytest.raises(DatasetError, match="SHA-256 .* does not match the declared 0000"):
        dataset.fetch(data_dir, log=print)
    assert list(data_dir.iterdir()) == []


STUDY = """\
from ablations.data.user_datasets import array_dataset

array_dataset("user_arrays", "{path}", "{sha}", class_names="abc", image_shape=(4, 4),
              val_size=20)
GRIDS = {{"mine": [{{"base": {{"dataset": "user_arrays", "hidden": [8], "epochs": 2}},
                   "axes": {{"seed": [0, 1]}}}}]}}
"""


def test_a_study_with_a_bad_dataset_stops_before_writing_and_a_good_one_trains(tmp_path):
    path, sha = bad_npz(tmp_path, lambda a: a["y_train"].__setitem__(0, 7))
    (tmp_path / "study.py").write_text(STUDY.format(path=path, sha=sha))
    assert_one_line_exit_2(
        cli(["--study", "study.py", "--jobs", "2"], tmp_path),
        "error: dataset 'user_arrays'",
        "outside 0..2",
    )
    assert not (tmp_path / "results").exists() and not (tmp_path / "data" / "user_arrays").exists()
    (tmp_path / "study.py").write_text(STUDY.format(path=path, sha="1" * 64))
    assert_one_line_exit_2(cli(["--study", "study.py"], tmp_path), "does not match the declared")
    sha = save_npz(tmp_path / "good.npz", arrays())
    (tmp_path / "study.py").write_text(STUDY.format(path=tmp_path / "good.npz", sha=sha))
    result = cli(["--study", "study.py", "--jobs", "2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "results" / "mine").glob("*.json"))) == 3  # 2 runs + grid.json
    assert (tmp_path / "reports" / "mine.md").is_file()


def test_a_malformed_declaration_is_one_line(tmp_path):
    (tmp_path / "study.py").write_text(STUDY.format(path=tmp_path / "a.npz", sha="abc"))
    assert_one_line_exit_2(
        cli(["--study", "study.py", "--list"], tmp_path),
        "sha256 must be the 64 lowercase hex digits of a.npz",
    )


def with_float_pixel(value):
    def change(a):
        a["x_train"] = a["x_train"].astype(np.float32)
        a["x_train"][3, 1, 2] = value

    return change


# (what is wrong with the file, the line expected); each is refused before the cache is touched
BAD_INPUTS = {
    "a NaN pixel": (with_float_pixel(np.nan), "x_train holds nan values; every pixel must be"),
    "an +Inf pixel": (with_float_pixel(np.inf), "x_train holds inf values"),
    "a -Inf pixel": (with_float_pixel(-np.inf), "x_train holds -inf values"),
    "an empty test split": (
        lambda a: a.update(x_test=a["x_test"][:0], y_test=a["y_test"][:0]),
        "x_test is empty; each split needs images",
    ),
    "an empty training split": (
        lambda a: a.update(x_train=a["x_train"][:0], y_train=a["y_train"][:0]),
        "x_train is empty; each split needs images",
    ),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_a_bad_study_dataset_is_one_line_exit_2_and_writes_nothing(tmp_path, name):
    change, fragment = BAD_INPUTS[name]
    path, sha = bad_npz(tmp_path, change)
    (tmp_path / "study.py").write_text(STUDY.format(path=path, sha=sha))
    assert_one_line_exit_2(
        cli(["--study", "study.py", "--jobs", "1"], tmp_path),
        "error: dataset 'user_arrays'",
        fragment,
    )
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()
    assert not (tmp_path / "reports").exists()


FLAT_STUDY = STUDY.replace("image_shape=(4, 4)", "image_shape=(30,)")


def test_flat_features_train_and_the_report_draws_no_image_grid(tmp_path):
    sha = save_npz(tmp_path / "flat.npz", arrays(shape=(30,)))
    (tmp_path / "study.py").write_text(FLAT_STUDY.format(path=tmp_path / "flat.npz", sha=sha))
    result = cli(["--study", "study.py", "--jobs", "1"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "reports" / "mine.md").read_text()
    assert "_not drawn: the inputs are not images (shape (30,))_" in report
    assert not list((tmp_path / "reports").rglob("misclassified_*.png"))
    again = cli(["--study", "study.py", "--report-only"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "reports" / "mine.md").read_text() == report


def test_a_bad_scheduler_is_one_line_before_the_dataset_cache_is_written(tmp_path):
    sha = save_npz(tmp_path / "good.npz", arrays())
    (tmp_path / "study.py").write_text(STUDY.format(path=tmp_path / "good.npz", sha=sha))
    assert_one_line_exit_2(
        cli(["--study", "study.py", "--scheduler", "local:abc"], tmp_path),
        "--scheduler 'local:abc': expected local:N with N >= 1",
    )
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()
