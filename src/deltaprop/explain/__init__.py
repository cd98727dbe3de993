"""Explanations: gradient checks, traces and symbolic derivations."""
