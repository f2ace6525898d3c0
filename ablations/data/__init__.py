"""The data room: datasets by name (DATASETS), their sources, IDX files and caching.

Contract: `DATASETS[name].fetch(data_dir)` leaves verified arrays in the cache (SHA-256 of every
file, or a clear DatasetError); `load_splits(config, data_dir)` returns the train / validation /
test splits a run's config asks for, the same bytes on every host. Nothing here knows a grid,
a trainer or a record.
"""
