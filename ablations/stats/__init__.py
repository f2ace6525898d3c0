"""The statistics behind the report (numpy and scipy only; no drawing here).

paired      level-vs-baseline contrasts: t-interval, sign-flip p, Holm, P(A > B), d_z, MDE
bootstrap   the seeded, vectorized stratified bootstrap and its BCa / percentile intervals
aggregates  IQM, performance profiles and curve bands (rliable), the Pareto front
factorial   the variance decomposition of a full factorial, with bootstrap intervals

Every function states its formula and its source in its docstring.
"""
