"""The records read back: diagnostics (tidy frames and per-protocol checks), stats (the
statistics, numpy and scipy only) and report (the markdown, figures and CSV files).

Contract: reads records (ablations/records) and the data's metadata only; never imports
ablations/run, so a report renders from results/ without the machinery that made them.
"""
