"""The ablation harness: datasets, the grid, the parallel runner and the report."""
