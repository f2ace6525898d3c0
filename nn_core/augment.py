"""Batch augmentation, the DATA regularizer "augment" (fit's `batch_transform` hook): random
shifts, small rotations, mirroring.

Each image in a batch (n, h*w) gets its own integer shift (dy, dx) in [-max_shift, max_shift] and,
optionally, a rotation angle in [-max_degrees, max_degrees] about its centre and a left-right
mirror with probability 1/2 (`flip`). Pixels are resampled by nearest neighbour through one
vectorized gather; pixels shifted in from outside are 0.
All randomness comes from the Generator passed by fit, so a seeded run is reproducible.

Images move in pixel space: for normalized features, pass the `pixel_mean` and `pixel_std` they
were normalized with (scalars for global normalization, (h*w,) per pixel), and the batch is
turned back into pixels, moved, and normalized again. (Moving normalized values would carry each
pixel's statistics to another position and fill the border with the mean image instead of
background.)
"""

from dataclasses import dataclass

import numpy as np

from .regularizers import DATA, REGULARIZERS, Regularizer
from .settings import Setting, number


@REGULARIZERS.register("augment")
@dataclass(frozen=True)
class RandomShiftRotateFlip(Regularizer):
    into = DATA
    settings = {
        "augment_shift": Setting(
            0, (int,), number(0, 10), argument="max_shift", help="max random shift in pixels"
        ),
        "augment_degrees": Setting(
            0.0, (float,), number(0, 180), argument="max_degrees", help="max random rotation"
        ),
        "augment_flip": Setting(
            False, (bool,), argument="flip", help="mirror left-right with probability 1/2"
        ),
    }

    image_shape: tuple  # (h, w)
    max_shift: int = 2
    max_degrees: float = 0.0
    flip: bool = False
    pixel_mean: np.ndarray = None  # () or (h*w,): features = (pixels - pixel_mean) / pixel_std
    pixel_std: np.ndarray = None

    @classmethod
    def from_settings(cls, config, data=None):
        return cls(
            data.image_shape,
            pixel_mean=data.pixel_mean,
            pixel_std=data.pixel_std,
            **cls.arguments(config),
        )

    def __call__(self, batch, rng):
        """batch (n, h*w) -> augmented copy (n, h*w), same dtype."""
        if self.pixel_std is not None:
            batch = batch * self.pixel_std + self.pixel_mean
        n = len(batch)
        h, w = self.image_shape
        dy, dx = rng.integers(-self.max_shift, self.max_shift + 1, size=(2, n, 1, 1))
        rows, cols = np.mgrid[0:h, 0:w]  # (h, w) output pixel coordinates
        src_r, src_c = rows[None] - dy, cols[None] - dx  # (n, h, w): where each pixel comes from
        if self.max_degrees:
            theta = np.deg2rad(rng.uniform(-self.max_degrees, self.max_degrees, size=(n, 1, 1)))
            cy, cx = (h - 1) / 2, (w - 1) / 2
            r, c = src_r - cy, src_c - cx  # rotate the sampling grid by -theta about the centre
            src_r = np.rint(np.cos(theta) * r + np.sin(theta) * c + cy).astype(np.intp)
            src_c = np.rint(-np.sin(theta) * r + np.cos(theta) * c + cx).astype(np.intp)
        if self.flip:  # a mirrored image's column c takes what its column w-1-c would have
            mirrored = rng.random(n) < 0.5
            src_r[mirrored], src_c[mirrored] = src_r[mirrored, :, ::-1], src_c[mirrored, :, ::-1]
        inside = (src_r >= 0) & (src_r < h) & (src_c >= 0) & (src_c < w)
        flat_src = np.clip(src_r, 0, h - 1) * w + np.clip(src_c, 0, w - 1)  # (n, h, w)
        out = np.take_along_axis(batch, flat_src.reshape(n, h * w), axis=1)
        out *= inside.reshape(n, h * w)
        if self.pixel_std is not None:
            out -= self.pixel_mean
            out /= self.pixel_std
        return out
