"""Data: the Dataset and its splits, built-in and synthetic sets, readers of files from others."""
