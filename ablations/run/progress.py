"""How progress is shown: a tqdm bar on a terminal, one plain line per run elsewhere.

The runner takes a factory: it calls it once per phase with the number of runs to train, then
calls the result with each finished record, and `.close()` at the end of the phase.
`plain_lines(log)` (the runner's default) counts one phase; `Session` (the command line's) counts
a whole session: every grid and tuning phase share one count, one ETA (the plan's estimate,
rescaled by how the finished runs went) and, on a terminal, one bar.
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


def failures_line(counts):
    """The command's closing line, from {status: runs trained}: what failed. An error fails the
    command (exit 1; its run trains again next time); a diverged run is a result (a setting
    that diverges), counted but not a failure. With nothing trained it says so, rather than
    counting zeros."""
    if not sum(counts.values()):  # every run had a record (or another runner had claimed it)
        return "no run trained in this session, so none failed"
    errors, diverged = counts.get("error", 0), counts.get("diverged", 0)
    line = f"{sum(counts.values())} runs trained: {errors} errors, {diverged} diverged"
    if errors:
        line += " (exit 1; runs with errors train again when the same command runs again)"
    return line


def run_name(record):
    return "/".join(map(str, record["labels"].values()))


def plain_lines(log):
    """The runner's default: one line per finished run through `log`, counting one phase."""
    return lambda total: SessionPhase(
        Session(total, float(total), lambda config: 1.0, None, log, scope="")
    )


def clock(seconds):
    """'1:02:03' or '2:03' for a number of seconds."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Session:
    """Progress of every run a session trains, across grids and tuning phases.

    total : runs the plan expects to train (grown if a phase trains more).
    wall_s : the plan's estimated wall seconds for them.
    estimate : config -> that run's share of `wall_s` (its seconds / workers).
    stream : a bar there when it is a terminal; else (or None) one line per run through `log`,
        `[done/total] elapsed, ETA (all grids) | labels: result (s)`.
    scope : what the ETA covers, shown after it.
    note : said beside the runs on every line (a sequential grid's "12 of 40 tests undecided"),
        set by whoever knows it; "" for none.
    The ETA is the estimate left times the speed so far, elapsed / (estimate of the runs done),
    so that short tuning rungs and long finals each count for what they cost.
    """

    def __init__(self, total, wall_s, estimate, stream, log, scope=" (all grids)"):
        self.total, self.wall_s, self.estimate, self.log = total, wall_s, estimate, log
        self.scope = scope  # what the ETA covers, after it
        self.note = ""  # beside the runs: e.g. a sequential grid's undecided tests
        self.done, self.done_s = 0, 0.0
        self.start = time.perf_counter()
        self.bar = None
        if stream is not None and stream.isatty():
            self.bar = tqdm(
                total=total,
                file=stream,
                unit="run",
                ncols=shutil.get_terminal_size().columns,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
            )

    def eta_s(self):
        left = max(self.wall_s - self.done_s, 0.0)
        return left * (time.perf_counter() - self.start) / self.done_s if self.done_s else left

    def __call__(self, n_to_train):
        """The runner's progress for one phase: a view of this session."""
        return SessionPhase(self)

    def show(self, record):
        self.done += 1
        self.done_s += self.estimate(record["config"])
        self.total = max(self.total, self.done)
        result = f"{run_name(record)}: {describe_result(record)}"
        note = f" | {self.note}" if self.note else ""
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.set_postfix_str(
                f"ETA {clock(self.eta_s())}{self.scope}{note} | {result}", refresh=False
            )
            self.bar.update(1)
        else:
            elapsed = time.perf_counter() - self.start
            self.log(
                f"[{self.done}/{self.total}] {elapsed:6.0f}s elapsed, ETA {self.eta_s():5.0f}s"
                f"{self.scope}{note} | {result} ({record['wall_time_s']:.1f}s)"
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


class SessionPhase:
    """What the runner gets for one phase: records go to the session; closing leaves it open."""

    def __init__(self, session):
        self.session = session

    def __call__(self, record):
        self.session.show(record)

    def close(self):
        pass
