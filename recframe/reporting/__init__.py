"""Reports from recorded runs: leaderboards, the fairness report, paired significance tests."""
