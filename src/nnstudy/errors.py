"""The one exception users see as a clean error.

Anything raised as `UsageError` (bad flags, config values, data files, names) is printed by the
command line as one line, `nnstudy: error: ...`, with exit status 2 and no traceback. Any other
exception is a bug and exits 1 with its traceback.
"""


class UsageError(Exception):
    """Bad usage, config or data: the message says what, where, and how to fix it."""


class DataError(UsageError):
    """A dataset is missing, truncated, corrupt or inconsistent."""


class Diverged(Exception):
    """The loss became NaN or infinite; the run is recorded with status `diverged`."""

    def __init__(self, step: int, loss: float):
        super().__init__(f"loss became {loss} at step {step}: the run diverged "
                         "(try a smaller --lr, or gradient clipping)")
        self.step = step
        self.loss = loss
