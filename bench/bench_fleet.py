"""An MSP-sized fleet (bench/fleet.py): the day's agent pushes, the nightly recompute, migrating
every client schema and creating one more client, each beside its baseline or budget."""

from bench.fleet import run

__all__ = ["run"]
