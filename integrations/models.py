"""Integrations (tenant schema): the PSA ticket outbox and RMM connectors."""
