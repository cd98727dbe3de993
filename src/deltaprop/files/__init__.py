"""Files: network files, model files, and bytes on disk (safe reads, atomic writes)."""
