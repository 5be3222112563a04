"""Models of the exceptions_register app."""
