"""The analysis layer: numpy, pandas and scipy only (never torch, Hydra or OmegaConf).

``normalization``      the one normalization: member scales, the ensemble rules, combined as their preset
``correlation``        Spearman ρ / Kendall τ, overall and in the top fraction; non-finite treatments
``correlation_study``  the paper's Tables I and II from rosters (val12, combined, the α sweep)
``ensemble_study``     single proxies against every small ensemble, chosen on one dataset
``search_tables``      a sweep's result.json files -> one row per job -> Tables III-V statistics

tests/test_layers.py checks that importing any of them loads no torch.
"""
