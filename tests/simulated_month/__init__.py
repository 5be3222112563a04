"""The simulated month at a HIPAA clinic: its script, the figures it implies, its PDFs."""
