"""The statistics behind the report (numpy and scipy only; no drawing here).

paired      pairing runs, the exact sign-flip p, the t-interval of a mean, Holm
cells       a contrast's two questions: over these settings (fixed cells) and across settings
            (cells as units), heterogeneity, and the effect a t-test detects (MDE)
bootstrap   the seeded, vectorized stratified bootstrap and its BCa / percentile intervals
aggregates  IQM, performance profiles and curve bands (rliable), the Pareto front
factorial   the variance decomposition of a full factorial, with bootstrap intervals
sequential  group-sequential looks: alpha spending, p* valid at any stop, Holm, futility

Every function states its formula and its source in its docstring.
"""
