"""Views: figures and drawings."""
