"""Learning-rate schedules: `multiplier(step, steps_per_epoch, total_steps)` scales the base lr.

`step` counts optimizer steps from 0. Every schedule takes `warmup_epochs`: a linear ramp
(step + 1) / warmup_steps over the first warmup_steps = warmup_epochs * steps_per_epoch steps,
multiplied into the decay below.
"""

import math

from .registry import Registry

SCHEDULES = Registry("schedule")


class Schedule:
    def __init__(self, warmup_epochs=0.0):
        self.warmup_epochs = warmup_epochs

    def decay(self, step, steps_per_epoch, total_steps):
        return 1.0

    def multiplier(self, step, steps_per_epoch, total_steps):
        warmup_steps = self.warmup_epochs * steps_per_epoch
        ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
        return ramp * self.decay(step, steps_per_epoch, total_steps)


@SCHEDULES.register("constant")
class Constant(Schedule):
    """lr_t = lr."""


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """lr_t = lr * gamma ** floor(epoch / step_epochs), as torch's StepLR."""

    def __init__(self, step_epochs=10, gamma=0.1, warmup_epochs=0.0):
        super().__init__(warmup_epochs)
        self.step_epochs, self.gamma = step_epochs, gamma

    def decay(self, step, steps_per_epoch, total_steps):
        return self.gamma ** (step // (self.step_epochs * steps_per_epoch))


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """lr_t = lr * (min_factor + (1 - min_factor) (1 + cos(pi t / T)) / 2) over the whole run
    (Loshchilov & Hutter 2017, without restarts)."""

    def __init__(self, min_factor=0.0, warmup_epochs=0.0):
        super().__init__(warmup_epochs)
        self.min_factor = min_factor

    def decay(self, step, steps_per_epoch, total_steps):
        cos = 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
        return self.min_factor + (1.0 - self.min_factor) * cos
