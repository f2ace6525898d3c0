"""The Dask backend: connect to a scheduler (or start a local cluster), check it, run a grid on it.

`connect(address)` returns a `DaskBackend` only once the scheduler answered, a worker joined and
every node reports scratchbench at this client's version and this client's numpy; otherwise a
GridError in one line naming what is missing and the fix. Every wait has a timeout. Workers
resolve the dataset cache on their own host ($SCRATCHBENCH_DATA_DIR there) and fetch into it;
only the client writes records. A run in flight on a worker that dies is rescheduled by the
scheduler on another one (up to distributed's `allowed-failures`, 3 by default); a run whose
workers died that often (KilledWorker) is submitted once more, as loky's lost runs are, and if it
is lost again it is recorded as an error naming the exit signals the nannies saw.
"""

import contextlib
import logging
import re
import signal
import socket
import struct
import threading
import time
import uuid

import numpy as np

from ablations import __version__, plugins
from ablations.grid import loaded
from ablations.grid.config import GridError

DISTRIBUTION = "scratchbench"
LOCAL_PREFIX = "local:"
SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")  # distributed's comm backends
CONNECT_TIMEOUT_S = 30.0
HANDSHAKE_MAX_BYTES = 1 << 20  # a scheduler's handshake is a small msgpack dict
SIGNAL_POLL_S = 0.2  # the longest a held Ctrl-C waits for its delivery (HeldSignals)
DEATH_LOG_WAIT_S = 5.0  # how long a lost run waits for a nanny to log its worker's exit signal
INSTALL_HINT = f"pip install '.[dask]' from a scratchbench {__version__} checkout"


class DaskBackend:
    """Runs `execute` on a dask.distributed cluster through `client`.

    data_dir : the dataset cache the workers use; None lets each worker pick its own
        (`default_data_dir()` on its host), as a remote cluster must.
    cluster : a LocalCluster this backend started and closes, or None.
    """

    def __init__(
        self,
        client,
        data_dir=None,
        cluster=None,
        poll_s=30.0,
        no_worker_timeout_s=120.0,
        plugin_set=None,
    ):
        self.client, self.data_dir, self.cluster = client, data_dir, cluster
        self.poll_s, self.no_worker_timeout_s = poll_s, no_worker_timeout_s
        self.plugin_set = loaded.current() if plugin_set is None else plugin_set

    @property
    def fetches_on_client(self):
        """The client fetches the data only when the workers share its cache (a local cluster)."""
        return self.data_dir is not None

    def threads(self):
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())

    def describe(self):
        return f"{self.threads()} dask worker threads"

    def check_workers(self, configs):
        """PluginError unless every connected worker loaded the plugins (their files travel with
        the call) and has every component and setting of `configs`. A worker that joins later
        loads them in its first run (plugins.run_checked)."""
        reports = self.client.run(plugins.probe, self.plugin_set, *plugins.needs(configs))
        problem = next(filter(None, (reports[w] for w in sorted(reports))), None)
        if problem:
            raise plugins.PluginError(f"--backend dask: {problem}")

    def records(self, runs, execute, log):
        """Yield `execute(run, data_dir)` for each run of the iterator `runs`, in the order they
        finish. Runs are taken from `runs` (claimed) only as workers free up: at most two per
        worker thread are in flight."""
        from concurrent.futures import CancelledError

        from distributed import KilledWorker, wait

        in_flight = {}  # future -> run
        runs = iter(runs)
        retries, lost_before = [], set()  # runs to submit again; run ids lost once already
        last_news = time.monotonic()
        no_workers_since = None
        held = HeldSignals()
        try:
            held.start()
            while True:
                held.deliver()  # a Ctrl-C or SIGTERM that came meanwhile acts here
                while len(in_flight) < 2 * max(1, self.threads()):
                    run = retries.pop(0) if retries else next(runs, None)
                    if run is None:
                        break
                    future = self.client.submit(
                        plugins.run_checked,
                        self.plugin_set,
                        execute,
                        run,
                        self.data_dir,
                        pure=False,
                        key=f"{run.run_id}-{uuid.uuid4().hex[:8]}",
                    )
                    in_flight[future] = run
                if not in_flight:
                    return
                done = ()
                deadline = time.monotonic() + self.poll_s
                while not done and time.monotonic() < deadline:
                    try:  # in short waits, so that a held signal is delivered promptly
                        done, _ = wait(
                            list(in_flight),
                            timeout=min(SIGNAL_POLL_S, max(0.0, deadline - time.monotonic())),
                            return_when="FIRST_COMPLETED",
                        )
                    except TimeoutError:
                        held.deliver()
                for future in done:
                    run = in_flight.pop(future)
                    if future.status == "finished":
                        yield future.result()
                        continue
                    error = future.exception()
                    if isinstance(error, plugins.PluginError):
                        raise plugins.PluginError(f"--backend dask: {error}")
                    if not isinstance(error, KilledWorker):
                        yield failed_record(run, error)
                    elif run.run_id in lost_before:
                        yield failed_record(run, error, self.worker_deaths())
                    else:  # its workers died allowed-failures + 1 times: once more, as loky
                        lost_before.add(run.run_id)
                        retries.append(run)
                        log(
                            f"the dask workers running {run.run_id} died "
                            f"({self.worker_deaths()}); retrying it once"
                        )
                if done:
                    last_news, no_workers_since = time.monotonic(), None
                    continue
                workers = len(self.client.scheduler_info()["workers"])
                if workers:
                    no_workers_since = None
                    log(
                        f"waiting: {len(in_flight)} runs in flight on {workers} dask workers, "
                        f"none finished in the last {time.monotonic() - last_news:.0f} s"
                    )
                    continue
                no_workers_since = no_workers_since or time.monotonic()
                if time.monotonic() - no_workers_since > self.no_worker_timeout_s:
                    raise GridError(
                        f"--backend dask: no worker left on the scheduler for "
                        f"{self.no_worker_timeout_s:.0f} s with {len(in_flight)} "
                        f"runs unfinished; start workers and run the same command"
                    )
                log(f"waiting: no dask worker connected, {len(in_flight)} runs unfinished")
        except (CancelledError, OSError) as err:  # futures cancelled, comm closed: scheduler gone
            raise GridError(
                f"--backend dask: lost the scheduler ({type(err).__name__}); "
                f"finished runs are saved, run the same command to resume"
            ) from None
        finally:
            held.stop()
            if in_flight:
                self.client.cancel(list(in_flight))
            held.deliver()  # one that came after the last wait (the grid ended) still acts

    def worker_deaths(self):
        """'killed by SIGKILL' (the exit signals or codes of dead worker processes in the
        nannies' logs, every worker's), or what is known when no nanny saw one (workers
        started with --no-nanny die unobserved)."""
        deadline = time.monotonic() + DEATH_LOG_WAIT_S
        while True:  # the scheduler may report the death before the nanny has logged it
            try:
                logs = self.client.get_worker_logs(nanny=True)
            except Exception:  # a nanny gone or not answering: the cause stays unknown
                logs = {}
            cause = death_causes(message for lines in logs.values() for _, message in lines)
            if cause.startswith("killed by") or time.monotonic() > deadline:
                return cause
            time.sleep(0.2)

    def close(self):
        """The client first, then the cluster this backend started (its nannies stop the
        worker processes, then its scheduler closes): the order `with LocalCluster() as cluster,
        Client(cluster) as client` closes them in."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class HeldSignals:
    """Ctrl-C (SIGINT) and SIGTERM held while this thread waits in distributed, and delivered
    by `deliver()` where the caller can take them.

    distributed's sync() (under Client.submit's futures' `wait`, `cancel`, ...) answers a
    KeyboardInterrupt that lands before its coroutine has started on the client's loop with a
    `cancel` callback that raises NameError on a variable not yet bound, which tornado logs as
    an ERROR traceback (test_dask_cluster's Ctrl-C test saw it under load). Here the signal only
    marks itself; `deliver()` puts the previous handlers back and raises the first held signal
    again, so that it acts as it would have (cli's handlers: KeyboardInterrupt), in our code.
    Outside the main thread (where no handler can be set) it holds nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.previous, self.caught = {}, []

    def start(self):
        """Hold the SIGNALS from now on (in the main thread only); return self."""
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                previous = signal.getsignal(signum)
                if previous not in (None, signal.SIG_IGN):  # None: not set from Python
                    self.previous[signum] = signal.signal(signum, self.hold)
        return self

    def hold(self, signum, frame):
        self.caught.append(signum)

    def deliver(self):
        """Where a signal was held: stop holding, then raise the first one again."""
        if self.caught:
            self.stop()
            signal.raise_signal(self.caught[0])

    def stop(self):
        """Put the previous handlers back."""
        while self.previous:
            signum, handler = self.previous.popitem()
            signal.signal(signum, handler)


HEARTBEAT_FAILED = "Failed to communicate with scheduler during heartbeat."


def quiet_heartbeat_at_close():
    """A worker plugin for a local cluster's workers: drops distributed's HEARTBEAT_FAILED
    record (an ERROR with a traceback) when the worker logging it is itself closing.

    distributed's Worker.close stops the heartbeat's periodic callback, then closes the worker's
    connections: a heartbeat already in flight (likelier under load, when the round trip is
    slow) fails on its own closed comm and logs that traceback, whatever order the client and
    the cluster close in. That is no fault: the worker is going away on purpose. The same
    failure while the worker runs (a scheduler lost mid-grid) is still logged, and so is every
    other record."""
    from distributed import WorkerPlugin

    class QuietHeartbeatAtClose(WorkerPlugin):
        name = "scratchbench-quiet-heartbeat-at-close"

        def setup(self, worker):
            logging.getLogger("distributed.worker").addFilter(HeartbeatAtClose(worker))

        # no teardown: Worker.close tears its plugins down before it closes its connections

    return QuietHeartbeatAtClose()


class HeartbeatAtClose(logging.Filter):
    """Drops HEARTBEAT_FAILED while `worker` is closing or closed; passes every other record."""

    def __init__(self, worker):
        super().__init__()
        self.worker = worker

    def filter(self, record):
        from distributed.core import Status

        closing = self.worker.status in (Status.closing, Status.closed)
        return not (closing and record.getMessage() == HEARTBEAT_FAILED)


def death_causes(messages):
    """'killed by SIGKILL, exit code 3' from nanny log lines ('Worker process 123 was killed by
    signal 9', '... exited with status 3'); 'no nanny logged an exit signal' without one."""
    named = set()
    for message in messages:
        found = re.search(
            r"Worker process \d+ (?:was killed by signal (\d+)|exited with status (\d+))",
            str(message),
        )
        if found and found.group(1):
            number = int(found.group(1))
            named.add(
                signal.Signals(number).name
                if number in signal.valid_signals()
                else f"signal {number}"
            )
        elif found:
            named.add(f"exit code {found.group(2)}")
    return "killed by " + ", ".join(sorted(named)) if named else "no nanny logged an exit signal"


def failed_record(run, error, deaths=None):
    """The record of a run that never returned: `error` (KilledWorker after its workers died,
    twice over when `deaths`, their causes, is given) or what else its future raised."""
    from .runner import error_record

    if deaths is None:
        return error_record(run, f"{type(error).__name__}: {error}")
    return error_record(run, f"WorkerDied: its dask workers died twice over ({deaths}); {error}")


def connect(address, data_dir=None, timeout_s=None):
    """A checked DaskBackend for `address` ("tcp://host:8786", or "local:N" for a LocalCluster of
    N single-threaded worker processes on this machine, which share `data_dir`); each wait
    gives up after `timeout_s` (default CONNECT_TIMEOUT_S)."""
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise GridError(
            "--backend dask needs dask.distributed: pip install "
            "'scratchbench[dask]' (or make setup)"
        ) from None
    cluster = None
    n_workers = check_address(address)
    if n_workers is None and scheme_of(address) == "tcp":
        probe_handshake(address, timeout_s)
    try:
        if n_workers:
            with ctrl_c_ignored():  # inherited by the worker processes: Ctrl-C is the client's
                cluster = LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    timeout=timeout_s,
                    silence_logs=logging.ERROR,
                )
            client = Client(cluster, timeout=timeout_s)
            client.register_plugin(quiet_heartbeat_at_close())
        else:
            client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError, MemoryError) as err:  # MemoryError: not Dask
        if cluster is not None:
            cluster.close()
        raise GridError(
            f"--backend dask: no scheduler reachable at {address!r} ({type(err).__name__})"
        ) from None
    backend = DaskBackend(client, data_dir if cluster is not None else None, cluster)
    try:
        check_cluster(client, address, timeout_s)
    except BaseException:
        backend.close()
        raise
    return backend


@contextlib.contextmanager
def ctrl_c_ignored():
    """SIGINT ignored while processes start: they keep ignoring it (an ignored signal stays
    ignored across exec), so Ctrl-C, which reaches the whole process group, stops only the
    client, which saves what finished and then closes the cluster."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def scheme_of(address):
    return address.split("://", 1)[0] if "://" in address else "tcp"


def check_address(address):
    """The number of local workers for "local:N", else None for a scheduler address
    ([scheme://]host:port, scheme one of SCHEMES; tls:// only with TLS settings in the Dask
    config). GridError in one line otherwise; nothing is contacted."""
    if address.startswith(LOCAL_PREFIX):
        return local_workers(address)
    scheme, rest = address.split("://", 1) if "://" in address else ("tcp", address)
    if scheme not in SCHEMES:
        raise GridError(
            f"--scheduler {address!r}: unknown scheme {scheme!r}; expected "
            f"local:N or {'|'.join(SCHEMES)}://host:port"
        )
    host, _, port = rest.rpartition(":")
    if scheme in ("tcp", "tls") and not (host and port.isdigit()):
        raise GridError(
            f"--scheduler {address!r}: expected {scheme}://host:port "
            f"(e.g. {scheme}://10.0.0.5:8786) or local:N"
        )
    if scheme == "tls" and not tls_configured():
        raise GridError(
            f"--scheduler {address!r}: tls:// needs TLS settings: set "
            f"distributed.comm.tls.ca-file and .client.cert (and .client.key) in the "
            f"Dask config (e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE), or use tcp://"
        )
    return None


def tls_configured():
    """Whether the Dask config gives this client what distributed needs for tls://: a
    certificate authority and a client certificate (distributed.security)."""
    import dask.config

    return all(
        dask.config.get(f"distributed.comm.tls.{key}", None) for key in ("ca-file", "client.cert")
    )


def probe_handshake(address, timeout_s):
    """GridError unless `address` (tcp) accepts a connection and starts a Dask handshake within
    `timeout_s`: a Dask server writes its handshake first, an 8-byte frame length (uint64,
    little-endian) then the frames; a port that never answers, or answers anything else (an
    HTTP server, SSH's banner), is not a scheduler."""
    host, port = address.split("://", 1)[-1].rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as sock:
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise GridError(
            f"--backend dask: {address!r} accepted the connection but sent no Dask "
            f"handshake within {timeout_s:.0f} s; is it a Dask scheduler's "
            f"address (dask scheduler prints it)?"
        ) from None
    except OSError as err:
        raise GridError(
            f"--backend dask: no scheduler reachable at {address!r} ({type(err).__name__})"
        ) from None
    nbytes = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
    if not 0 < nbytes <= HANDSHAKE_MAX_BYTES:
        raise GridError(
            f"--backend dask: {address!r} answered, but not as a Dask scheduler "
            f"(its first bytes: {head[:8]!r}); is it a Dask scheduler's address "
            f"(dask scheduler prints it)?"
        )


def local_workers(address):
    count = address[len(LOCAL_PREFIX) :]
    if not count.isdigit() or int(count) < 1:
        raise GridError(f"--scheduler {address!r}: expected local:N with N >= 1 worker processes")
    return int(count)


def check_cluster(client, address, timeout_s):
    """GridError unless a worker is connected and the scheduler and every worker have
    scratchbench at this client's version and this client's numpy. Uses distributed's own
    version report (package metadata), so no code of ours is sent to a node that may lack it."""
    from distributed.core import CommClosedError

    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError:
        raise GridError(
            f"--backend dask: no worker joined the scheduler at {address!r} within "
            f"{timeout_s:.0f} s; start one: dask worker {address} --nthreads 1 "
            f"--nworkers N"
        ) from None
    try:
        versions = client.sync(
            client._get_versions, packages=[DISTRIBUTION], callback_timeout=timeout_s
        )
    except (TimeoutError, OSError, CommClosedError) as err:
        raise GridError(
            f"--backend dask: the scheduler at {address!r} did not report its "
            f"versions within {timeout_s:.0f} s ({type(err).__name__})"
        ) from None
    problem = version_problem("the scheduler", versions["scheduler"])
    for worker, info in sorted(versions["workers"].items()):
        problem = problem or version_problem(f"worker {worker}", info)
    if problem:
        raise GridError(f"--backend dask: {problem}")


def version_problem(node, info):
    """What `node` lacks, with the fix, or None. `info` is distributed's versions dict."""
    packages = (info or {}).get("packages", {})
    theirs = packages.get(DISTRIBUTION)
    if theirs is None:
        return (
            f"{node} cannot import {DISTRIBUTION}; install it there ({INSTALL_HINT}) and restart it"
        )
    if theirs != __version__:
        return (
            f"{node} has {DISTRIBUTION} {theirs}, this client {__version__}; install "
            f"{__version__} there ({INSTALL_HINT}) and restart it"
        )
    if packages.get("numpy") != np.__version__:
        return (
            f"{node} has numpy {packages.get('numpy')}, this client {np.__version__} (records "
            f"would differ); pip install numpy=={np.__version__} there and restart it"
        )
    return None
