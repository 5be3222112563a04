"""Patch core models (tenant schema): SLA policies and findings."""
