"""Models of the rings app."""
