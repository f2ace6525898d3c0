"""The report frame's column names that have a meaning of their own, and its unit."""

SPLIT, REPLICATE = "dataset", "seed"
REGIME = "regime"  # an axis whose levels are separate protocols: contrasts never cross them
# The variance grid's axes (which seed stream varies, and its seed): replicates, not factors;
# kept as label columns for the seed-variance section.
STREAM_AXES = ("varied", "value")
POINTS = 100.0  # accuracies are reported in percentage points
