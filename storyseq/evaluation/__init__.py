"""evaluate and plot: generation, scores, baselines, the oracle, bootstrap intervals, report tables and figures."""
