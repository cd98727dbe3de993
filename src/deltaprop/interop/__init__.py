"""Connections to other tools: scikit-learn estimators (sklearn.py), model exchange (exchange.py)."""
