"""Training: optimizers and schedules, settings, the loop, run directories, trained models."""
