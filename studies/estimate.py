"""`python -m studies.estimate`: the showcase's runs and wall time, estimated from the per-epoch
rates measured on the committed default records (ablations/run/budget.py); rerun it after any
edit of the showcase grids."""

from pathlib import Path

from ablations.records.store import read_records
from ablations.run.budget import estimate, measured_rates

from . import GRIDS, SHOWCASE

RECORDS = Path(__file__).resolve().parents[1] / "results" / "default"


def main():
    rates = measured_rates(read_records(RECORDS, log=lambda line: None, set_aside=False).values())
    print(
        f"measured on {rates.n_records} records of {RECORDS}: {rates.train_s:.3f} s train and "
        f"{rates.eval_s:.3f} s eval per epoch, {rates.overhead_s:.2f} s per run besides"
    )
    rows, minutes = estimate({name: GRIDS[name] for name in SHOWCASE}, rates)
    for name, runs, seconds in rows:
        print(f"{name}: {runs} runs, {seconds / 60:.1f} worker min")
    print(f"showcase: {sum(r[1] for r in rows)} runs, about {minutes:.0f} min wall with 2 workers")


if __name__ == "__main__":
    main()
