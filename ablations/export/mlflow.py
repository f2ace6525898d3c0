"""MLflow: one experiment per grid (named after it), one MLflow run per record.

A run holds the record's settings that differ from their defaults (grid.config.SCHEMA, the
settings its run id hashes) as params, dicts flattened with dots (`optimizer_params.momentum`),
values as JSON text (strings as they are); as tags its run id, code version, dataset, grid,
status (and error), its axis labels (`axis.regime`, `axis.optimizer`, ...) and the SHA-256 of the
whole record; as metrics every numeric field of the record (records/schema.py) that is not None,
and each per-epoch curve of its history as `history.<curve>` at steps 1..epochs.

Exporting again is idempotent: a record whose run (found by its run-id tag) carries the same
record hash is left alone; a record with no run gets one; a record that changed (retrained) has
its run deleted (MLflow's soft delete: `mlflow gc` purges it) and made again, since a metric's
steps cannot be taken back. The record hash is the run's last tag, so a run cut off mid-export
is made again next time. Runs of the experiment that no record names are left as they are.
Needs the `mlflow` extra (mlflow-skinny); imported only here, only when exporting.
"""

import hashlib
import json
import os
from datetime import datetime
from urllib.parse import urlparse

from ablations.grid.config import non_default
from ablations.records.schema import FIELDS, numeric

EXTRA = "mlflow"
DEFAULT_STORE = "mlruns"  # under the root: the current folder, run_all.py's checkout
RUN_ID_TAG, RECORD_HASH_TAG = "scratchbench.run_id", "scratchbench.record_sha256"
FINAL_METRICS = tuple(name for name in numeric(FIELDS) if name != "schema")
MAX_PARAMS_TAGS, MAX_METRICS = 100, 1000  # MLflow's log_batch limits per call
STATUS = {"ok": "FINISHED", "diverged": "FINISHED", "error": "FAILED"}  # MLflow's run status


class MissingExtra(ImportError):
    """mlflow is not installed."""


class StoreError(ValueError):
    """The tracking store refused the URI or the experiment; one line."""


def text(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def params(record):
    """{name: text} of the record's settings that differ from their SCHEMA default (any setting
    SCHEMA does not know, e.g. of an older schema, too); a dict setting gives one param per key."""
    found = {}
    for key, value in sorted(non_default(record["config"]).items()):
        if isinstance(value, dict):
            found.update({f"{key}.{k}": text(v) for k, v in sorted(value.items())})
        else:
            found[key] = text(value)
    return found


def record_sha256(record):
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def tags(record, grid):
    """{name: text}: the record's identity and outcome, and its axis labels (without the record
    hash, which the exporter sets last)."""
    found = {
        RUN_ID_TAG: record["run_id"],
        "scratchbench.grid": record.get("grid", grid),
        "scratchbench.code_version": record.get("code_version", "unknown"),
        "scratchbench.schema": text(record["schema"]),
        "scratchbench.dataset": record["config"].get("dataset", ""),
        "scratchbench.status": record["status"],
        **{f"axis.{axis}": text(level) for axis, level in record.get("labels", {}).items()},
    }
    if record.get("error"):
        found["scratchbench.error"] = record["error"]
    return found


def final_metrics(record):
    """{field: value} of the record's numeric fields (FIELDS) that it holds and are not None."""
    return {
        name: float(record[name])
        for name in FINAL_METRICS
        if isinstance(record.get(name), (int, float)) and not isinstance(record[name], bool)
    }


def curves(record):
    """{`history.<curve>`: [(epoch, value), ...]} for each per-epoch list of the record's
    history (epochs from 1; None entries left out)."""
    return {
        f"history.{name}": [
            (epoch, float(v)) for epoch, v in enumerate(values, start=1) if v is not None
        ]
        for name, values in sorted(record.get("history", {}).items())
        if isinstance(values, list)
    }


def times_ms(record):
    """(start, end) of the run in ms since the epoch: finished_at, less its wall time."""
    try:
        end = datetime.fromisoformat(record["finished_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None, None
    return int(1000 * (end - (record.get("wall_time_s") or 0))), int(1000 * end)


def client_for(tracking_uri):
    """An MlflowClient on `tracking_uri`; MissingExtra without mlflow, StoreError if refused."""
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as err:
        raise MissingExtra(str(err)) from None
    if urlparse(tracking_uri).scheme in ("", "file"):
        # MLflow 3 refuses its file store unless this is set; a store with no server is this
        # command's point. A user's explicit MLFLOW_ALLOW_FILE_STORE=false is kept (StoreError).
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        return MlflowClient(tracking_uri=tracking_uri), MlflowException
    except MlflowException as err:
        raise StoreError(str(err).splitlines()[0]) from None


def experiment_id(client, grid):
    experiment = client.get_experiment_by_name(grid)
    if experiment is None:
        return client.create_experiment(grid, tags={"scratchbench.grid": grid})
    if experiment.lifecycle_stage != "active":
        raise StoreError(
            f"experiment {grid!r} is deleted; restore it (mlflow experiments "
            f"restore --experiment-id {experiment.experiment_id}) or purge it "
            f"(mlflow gc) first"
        )
    return experiment.experiment_id


def exported_runs(client, experiment):
    """{record run id: [MLflow runs carrying it]} among the experiment's active runs."""
    found, token = {}, None
    while True:
        page = client.search_runs([experiment], max_results=1000, page_token=token)
        for run in page:
            if RUN_ID_TAG in run.data.tags:
                found.setdefault(run.data.tags[RUN_ID_TAG], []).append(run)
        token = page.token
        if not token:
            return found


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def log_record(client, experiment, record, grid):
    """One MLflow run made from `record`, terminated with its status."""
    from mlflow.entities import Metric, Param, RunTag

    start, end = times_ms(record)
    labels = record.get("labels") or {}
    run = client.create_run(
        experiment,
        start_time=start,
        tags={RUN_ID_TAG: record["run_id"]},
        run_name=" ".join(f"{k}={v}" for k, v in labels.items()) or record["run_id"],
    )
    stamp = end or 0
    metrics = [Metric(name, value, stamp, 0) for name, value in final_metrics(record).items()]
    metrics += [
        Metric(name, value, stamp, step)
        for name, points in curves(record).items()
        for step, value in points
    ]
    entries = [Param(k, v) for k, v in params(record).items()] + [
        RunTag(k, v) for k, v in tags(record, grid).items()
    ]
    for part in chunks(entries, MAX_PARAMS_TAGS):
        client.log_batch(
            run.info.run_id,
            params=[e for e in part if isinstance(e, Param)],
            tags=[e for e in part if isinstance(e, RunTag)],
        )
    for part in chunks(metrics, MAX_METRICS):
        client.log_batch(run.info.run_id, metrics=part)
    client.set_tag(run.info.run_id, RECORD_HASH_TAG, record_sha256(record))
    client.set_terminated(run.info.run_id, STATUS[record["status"]], end_time=end)


def export(grid, records, tracking_uri):
    """Export `records` ({run_id: record}) of `grid` to the experiment named `grid` at
    `tracking_uri`; {"added": n, "updated": n, "unchanged": n} (runs of records that had none,
    that changed, that did not)."""
    client, MlflowException = client_for(tracking_uri)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    try:
        experiment = experiment_id(client, grid)
        existing = exported_runs(client, experiment)
        for run_id, record in records.items():
            runs = existing.get(run_id, [])
            if len(runs) == 1 and runs[0].data.tags.get(RECORD_HASH_TAG) == record_sha256(record):
                counts["unchanged"] += 1
                continue
            for stale in runs:  # retrained, cut off mid-export, or exported twice at once
                client.delete_run(stale.info.run_id)
            log_record(client, experiment, record, grid)
            counts["updated" if runs else "added"] += 1
    except MlflowException as err:  # what was exported stays; the same command goes on from it
        raise StoreError(
            str(err).splitlines()[0]
            + (
                f" (after {counts['added'] + counts['updated']} runs written)"
                if counts["added"] + counts["updated"]
                else ""
            )
        ) from None
    return counts
