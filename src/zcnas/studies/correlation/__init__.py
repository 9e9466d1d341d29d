"""The correlation study (``task=correlate``): Spearman ρ and Kendall τ of roster scores with the
ground truth; in NATS-Bench the paper's Tables I and II with val12, combined and the α sweep."""
