"""How a grid's progress is shown: a tqdm bar on a terminal, one plain line per run elsewhere.

`progress_for(stream, log)` returns a factory; the runner calls it once with the number of runs
to train and then calls the result with each finished record, and `.close()` at the end.
"""
import shutil
import time

from tqdm import tqdm


def describe_result(record):
    """'ok test_acc=0.9712', 'diverged' or 'error (ValueError: ...)'."""
    result = record["status"]
    if record.get("test_acc") is not None:
        result += f" test_acc={record['test_acc']:.4f}"
    if record["status"] == "error":
        result += f" ({record['error']})"
    return result


def run_name(record):
    return "/".join(map(str, record["labels"].values()))


class PlainLines:
    """One line per finished run, for logs: `[done/total] elapsed, ETA | labels: result (s)`."""

    def __init__(self, total, log):
        self.total, self.log, self.done = total, log, 0
        self.start = time.perf_counter()

    def __call__(self, record):
        self.done += 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        self.log(f"[{self.done}/{self.total}] {elapsed:6.0f}s elapsed, ETA {eta:5.0f}s | "
                 f"{run_name(record)}: {describe_result(record)} ({record['wall_time_s']:.1f}s)")

    def close(self):
        pass


class Bar:
    """A tqdm bar on `stream`: runs done/total, elapsed and ETA, and the last result."""

    def __init__(self, total, stream):
        # the width from shutil: it falls back to 80 columns where a terminal reports 0
        self.bar = tqdm(total=total, file=stream, unit="run",
                        ncols=shutil.get_terminal_size().columns,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
                                   "{postfix}")

    def __call__(self, record):
        self.bar.set_postfix_str(f"{run_name(record)}: {describe_result(record)}", refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def plain_lines(log):
    """The factory of PlainLines through `log` (the runner's default)."""
    return lambda total: PlainLines(total, log)


def progress_for(stream, log):
    """A bar when `stream` is a terminal, plain lines through `log` otherwise (CI logs)."""
    if stream.isatty():
        return lambda total: Bar(total, stream)
    return plain_lines(log)
