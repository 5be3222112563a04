"""patchops-agent: report this machine to PatchOps and run the patch jobs PatchOps gives it.

Standard library only, and no Django: it is installed with the portal as the ``patchops-agent``
console script, and ``make agent`` builds ``dist/patchops-agent.pyz``, a single file a device
runs with its own Python (``python3 patchops-agent.pyz collect --dry-run``).

Commands:

``collect`` (the default)
    Gather the machine into the discovery payload (osquery table names: ``system_info``,
    ``os_version``, ``interface_addresses``, ``interface_details``, ``deb_packages``,
    ``rpm_packages``, ``programs``, ``patches``, ``apps``, ``homebrew_packages`` and
    ``pending_updates``) and push it to ``<URL>api/v1/discovery/`` with the agent token, or print
    it with ``--dry-run``. A tool that is missing leaves its table out: a missing table means
    "not collected", never "nothing installed".

``jobs``
    Fetch the jobs queued for this agent from ``<URL>api/v1/agent-jobs/?agent_id=<id>``, run each
    with the platform's own package tool (apt-get, dnf, softwareupdate, winget / Windows Update),
    simulate it with ``--dry-run``, report each result to ``<URL>api/v1/agent-jobs/<id>/result/``
    and, after a real install, push a fresh inventory so the change can be verified.

``run-once``
    One resident run (what the installed service starts every few minutes): read the installed
    configuration and the protected token file, ask ``<URL>api/v1/agent-config/`` for the
    client's discovery schedule, push an inventory when this device's slot (plus its stable
    jitter) has come, run the queued jobs; back off exponentially while the server fails
    (``resident``).

``service install|uninstall|status``
    Install the agent as a systemd service and timer, a launchd daemon or a Task Scheduler task,
    with its configuration and token file; remove it all again; show it (``service``).

Exit status: 0 done, 1 the server or the network failed (or a job failed), 2 bad usage or
configuration. Runs on Python 3.7 and later.

Modules: ``base`` (shared helpers, agent id), ``parsers`` (pure readers of what each platform's
tools print; the portal imports the ones whose formats it also reads from uploaded files),
``collect``, ``client`` (the API), ``jobs``, ``resident``, ``service`` and ``cli``.
"""

from patchops_agent.base import __version__

__all__ = ["__version__"]
