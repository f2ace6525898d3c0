"""Augmentation: shape and dtype kept, deterministic per seed, pixels moved as they should."""

import numpy as np
import pytest

from nn_core.augment import RandomShiftRotateFlip


def one_pixel_images(n, h, w, r, c):
    batch = np.zeros((n, h * w), np.float32)
    batch[:, r * w + c] = 1.0
    return batch


@pytest.mark.parametrize("max_degrees", [0.0, 15.0])
def test_keeps_shape_dtype_and_is_deterministic(max_degrees, rng):
    batch = rng.random((16, 28 * 28)).astype(np.float32)
    augment = RandomShiftRotateFlip((28, 28), max_shift=2, max_degrees=max_degrees)
    a = augment(batch.copy(), np.random.default_rng(5))
    b = augment(batch.copy(), np.random.default_rng(5))
    c = augment(batch.copy(), np.random.default_rng(6))
    assert a.shape == batch.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shifts_move_each_pixel_by_at_most_max_shift():
    batch = one_pixel_images(500, 9, 9, 4, 4)
    out = RandomShiftRotateFlip((9, 9), max_shift=2)(batch, np.random.default_rng(0))
    assert np.all(out.sum(axis=1) == 1.0)  # the pixel survives: centre +/- 2 stays inside
    rows, cols = np.divmod(out.argmax(axis=1), 9)
    assert set(rows - 4) == set(cols - 4) == {-2, -1, 0, 1, 2}  # every shift is drawn


def test_pixels_shifted_out_are_dropped_and_zeros_come_in():
    batch = one_pixel_images(200, 5, 5, 0, 0)
    out = RandomShiftRotateFlip((5, 5), max_shift=2)(batch, np.random.default_rng(0))
    kept = out.sum(axis=1) == 1.0
    assert 0 < kept.sum() < 200 and set(np.unique(out)) == {0.0, 1.0}


def test_rotation_turns_a_bar():
    image = np.zeros((11, 11), np.float32)
    image[5, 1:10] = 1.0  # horizontal bar through the centre
    augment = RandomShiftRotateFlip((11, 11), max_shift=0, max_degrees=90.0)
    outs = augment(np.tile(image.reshape(1, -1), (50, 1)), np.random.default_rng(1))
    assert not np.all(outs == image.reshape(1, -1))
    assert outs.reshape(50, 11, 11)[:, 5, 5].min() == 1.0  # the centre pixel stays put


def test_standardized_batches_move_in_pixel_space(rng):
    """Augmenting standardized features = standardizing the augmented pixels: values keep their
    own pixel's statistics and the border fills with background, not with the mean image."""
    pixels = rng.random((32, 10 * 10)).astype(np.float32)
    mean = rng.random(100).astype(np.float32)
    std = rng.uniform(0.1, 2.0, 100).astype(np.float32)
    plain = RandomShiftRotateFlip((10, 10), max_shift=3, max_degrees=20.0)
    aware = RandomShiftRotateFlip(
        (10, 10), max_shift=3, max_degrees=20.0, pixel_mean=mean, pixel_std=std
    )
    expected = (plain(pixels.copy(), np.random.default_rng(3)) - mean) / std
    got = aware((pixels - mean) / std, np.random.default_rng(3))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain((pixels - mean) / std, np.random.default_rng(3)), expected)


def test_flip_mirrors_about_half_the_images_left_right():
    batch = one_pixel_images(400, 6, 7, 2, 1)
    out = RandomShiftRotateFlip((6, 7), max_shift=0, flip=True)(batch, np.random.default_rng(0))
    rows, cols = np.divmod(out.argmax(axis=1), 7)
    assert np.all(out.sum(axis=1) == 1.0) and set(rows) == {2}
    assert set(cols) == {1, 5} and 150 < (cols == 5).sum() < 250


def test_without_flip_the_random_stream_is_unchanged(rng):
    """Adding the flip option left earlier (seeded) runs' augmentations as they were."""
    batch = rng.random((8, 100)).astype(np.float32)
    augment = RandomShiftRotateFlip((10, 10), max_shift=2, max_degrees=10.0)
    generator = np.random.default_rng(4)
    augment(batch, generator)
    reference = np.random.default_rng(4)
    reference.integers(-2, 3, size=(2, 8, 1, 1))
    reference.uniform(-10.0, 10.0, size=(8, 1, 1))
    assert generator.random() == reference.random()


@pytest.mark.parametrize("normalize", ["global", "per_pixel"])
def test_every_normalization_augments_in_pixel_space(normalize):
    """With the statistics load_splits reports (scalars for global, (d,) for per_pixel), an
    augmented normalized batch is the normalized augmented pixels; the border is background."""
    from ablations.data.datasets import load_splits

    pixels = load_splits("digits").X_train[:64]
    s = load_splits("digits", normalize=normalize)
    plain = RandomShiftRotateFlip((8, 8), max_shift=2, flip=True)
    aware = RandomShiftRotateFlip(
        (8, 8), max_shift=2, flip=True, pixel_mean=s.pixel_mean, pixel_std=s.pixel_std
    )
    expected = (plain(pixels.copy(), np.random.default_rng(5)) - s.pixel_mean) / s.pixel_std
    got = aware(s.X_train[:64], np.random.default_rng(5))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)  # std floor 1e-3
