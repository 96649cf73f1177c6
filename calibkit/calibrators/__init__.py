"""Calibrators: scikit-learn estimators that map scores to probabilities."""
