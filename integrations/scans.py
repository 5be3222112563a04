"""Scheduled network scans run by a designated scanner agent.

An engineer designates a managed asset with an agent as the scanner of one or more subnets
(``ScanSubnet``: a CIDR, the ports and Nmap's timing). The client's scheduled discovery
(``inventory.hooks.on_scheduled_discovery``) queues one ``network_scan`` job per enabled subnet
for its scanner's agent, never a second one while one is still queued or dispatched. The agent
runs ``nmap -oX -`` on the subnet (``patchops_agent.jobs``) and reports the XML with the job's
result; ``record_scan_result`` reads it with the inventory's Nmap parser and reconciles the hosts
with the inventory (``inventory.services.run_reconcile``, the scanner named as source): hosts
that match no asset land in the unknown-device queue, known ones are marked seen. A failed scan
(nmap missing, a non-zero exit, XML that is no Nmap report, a result larger than
``NMAP_XML_MAX_BYTES``) fails the job and records a failed discovery run; nothing else changes.

Rules of a designation: the CIDR names a network (no host bits set), IPv4 no larger than a /16
(65,536 addresses), IPv6 no larger than a /112, and an address belongs to at most one designated
subnet of the client (a subnet overlapping another is refused, whoever scans it).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from evidence.services import actor_label, record_event
from inventory.choices import DiscoveryRunSource, DiscoveryRunStatus
from inventory.hooks import PullResult
from inventory.models import Asset, DiscoveryRun
from inventory.parsers import ParseError, parse_nmap
from inventory.services import run_reconcile

from .choices import JobAction, JobStatus
from .models import AgentJob, ScanSubnet

__all__ = [
    "MIN_PREFIX_V4",
    "MIN_PREFIX_V6",
    "NMAP_XML_MAX_BYTES",
    "DEFAULT_TOP_PORTS",
    "parse_subnet",
    "clean_ports",
    "designate_scanner",
    "remove_scan_subnet",
    "queue_scheduled_scans",
    "record_scan_result",
    "scan_source_name",
]

MIN_PREFIX_V4 = 16
MIN_PREFIX_V6 = 112
DEFAULT_TOP_PORTS = 100
# The most XML one scan may report (the agent refuses to send more; the server to read more):
# with the JSON around it, it fits the API's default body limit (API_MAX_BODY_BYTES, 1 MiB).
NMAP_XML_MAX_BYTES = 768 * 1024
PENDING = (JobStatus.QUEUED, JobStatus.DISPATCHED)
_PORTS = re.compile(r"^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*$")


def parse_subnet(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network a CIDR names; ``ValidationError`` (field ``cidr``) with the reason otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({"cidr": "Give the subnet in CIDR form, e.g. 10.20.0.0/24."})
    if "/" not in text:
        raise ValidationError(
            {"cidr": f"“{text[:60]}” has no prefix length: write it as a CIDR, e.g. 10.20.0.0/24."}
        )
    try:
        network = ipaddress.ip_network(text)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValidationError(
                {"cidr": f"“{text[:60]}” is not a subnet in CIDR form, e.g. 10.20.0.0/24."}
            ) from None
        raise ValidationError(
            {"cidr": f"{text} has host bits set: the network is {loose}. Give its network address."}
        ) from None
    limit = MIN_PREFIX_V4 if network.version == 4 else MIN_PREFIX_V6
    if network.prefixlen < limit:
        raise ValidationError(
            {
                "cidr": f"{network} is too large to scan: at most a /{limit} "
                f"({2 ** (network.max_prefixlen - limit):,} addresses) per designated subnet."
            }
        )
    return network


def clean_ports(*, top_ports: Any, ports: Any) -> tuple[int | None, str]:
    """``(top_ports, ports)`` as stored: a port list (``22,80,8000-8100``) or Nmap's N most
    common ports (1–1000), not both; neither means the top ``DEFAULT_TOP_PORTS``."""
    ports = (ports or "").replace(" ", "") if isinstance(ports, str) else ports
    if ports and top_ports not in (None, ""):
        raise ValidationError({"ports": "Give either a port list or a number of top ports."})
    if ports:
        if not isinstance(ports, str) or len(ports) > 200 or not _PORTS.match(ports):
            raise ValidationError(
                {"ports": "Ports are numbers and ranges separated by commas, e.g. 22,80,8000-8100."}
            )
        for part in ports.split(","):
            low, _, high = part.partition("-")
            lo, hi = int(low), int(high or low)
            if not (1 <= lo <= 65535 and 1 <= hi <= 65535) or lo > hi:
                raise ValidationError(
                    {"ports": f"{part} is not a port or range between 1 and 65535."}
                )
        return None, ports
    if top_ports in (None, ""):
        return DEFAULT_TOP_PORTS, ""
    try:
        number = int(top_ports)
    except (TypeError, ValueError):
        raise ValidationError({"top_ports": "Top ports is a number from 1 to 1000."}) from None
    if isinstance(top_ports, bool) or not 1 <= number <= 1000:
        raise ValidationError({"top_ports": "Top ports is a number from 1 to 1000."})
    return number, ""


def _timing(value: Any) -> int:
    try:
        timing = int(value)
    except (TypeError, ValueError):
        timing = -1
    if isinstance(value, bool) or not 0 <= timing <= 5:
        raise ValidationError({"timing": "Timing is Nmap's template 0 (slowest) to 5 (fastest)."})
    return timing


def _lock_designations() -> None:
    """One designation change at a time per client (the overlap check reads every subnet)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"{connection.schema_name}:integrations.scan_subnet"],
        )


def designate_scanner(
    *,
    scanner: Asset,
    cidr: Any,
    actor: Any,
    top_ports: Any = None,
    ports: Any = "",
    timing: Any = 3,
    at: datetime | None = None,
) -> ScanSubnet:
    """Make ``scanner`` the scanner of ``cidr``; refused (``ValidationError``, nothing changes)
    when the asset is unmanaged or has no agent, or the subnet is malformed, too large or
    overlaps a subnet already designated."""
    at = at or timezone.now()
    network = parse_subnet(cidr)
    top, port_list = clean_ports(top_ports=top_ports, ports=ports)
    timing = _timing(timing)
    with transaction.atomic():
        _lock_designations()
        locked = Asset.objects.filter(pk=scanner.pk).first()
        if locked is None or not locked.is_managed:
            raise ValidationError({"scanner": "Only a managed asset can scan a subnet."})
        if not locked.agent_id:
            raise ValidationError(
                {"scanner": f"{locked.hostname} has no discovery agent to run the scans."}
            )
        for other in ScanSubnet.objects.select_related("scanner"):
            if ipaddress.ip_network(other.cidr).overlaps(network):
                raise ValidationError(
                    {
                        "cidr": f"{network} overlaps {other.cidr}, which "
                        f"{other.scanner.hostname} already scans: an address is scanned by "
                        "one designated subnet only."
                    }
                )
        subnet = ScanSubnet.objects.create(
            scanner=locked,
            cidr=str(network),
            top_ports=top,
            ports=port_list,
            timing=timing,
            created_by=actor_label(actor)[:200],
            created_at=at,
        )
        record_event(
            kind="scan_subnet.designated",
            subject_type="scan_subnet",
            subject_id=subnet.uuid,
            actor=actor,
            payload={
                "scanner": locked.hostname,
                "cidr": subnet.cidr,
                "top_ports": top,
                "ports": port_list,
                "timing": timing,
            },
            occurred_at=at,
        )
    return subnet


def remove_scan_subnet(*, subnet: ScanSubnet, actor: Any) -> None:
    """End a designation; a scan job still queued for it is cancelled."""
    with transaction.atomic():
        _lock_designations()
        AgentJob.objects.filter(scan_subnet=subnet, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now()
        )
        record_event(
            kind="scan_subnet.removed",
            subject_type="scan_subnet",
            subject_id=subnet.uuid,
            actor=actor,
            payload={"scanner": subnet.scanner.hostname, "cidr": subnet.cidr},
        )
        subnet.delete()


def scan_source_name(subnet: ScanSubnet | None, job: AgentJob) -> str:
    """How a scan's discovery run and unknown devices name their source: scanner and subnet."""
    cidr = (job.scan or {}).get("subnet") or (subnet.cidr if subnet else "")
    return f"scanner {job.asset.hostname} {cidr}".strip()[:200]


def queue_scheduled_scans(*, client: Any, now: datetime) -> PullResult:
    """The scheduled discovery's part: one ``network_scan`` job per enabled designated subnet,
    none while the subnet's previous one is still queued or dispatched."""
    result = PullResult()
    queued = pending = 0
    subnets = list(
        ScanSubnet.objects.filter(is_enabled=True).select_related("scanner").order_by("cidr")
    )
    with transaction.atomic():
        waiting = set(
            AgentJob.objects.filter(
                action=JobAction.NETWORK_SCAN, status__in=PENDING, scan_subnet__in=subnets
            ).values_list("scan_subnet_id", flat=True)
        )
        for subnet in subnets:
            result.sources += 1
            scanner = subnet.scanner
            if not scanner.agent_id or not scanner.is_managed:
                result.errors.append(
                    f"network scan of {subnet.cidr}: {scanner.hostname} has no discovery agent"
                )
                continue
            if subnet.pk in waiting:
                pending += 1
                continue
            AgentJob.objects.create(
                asset=scanner,
                agent_id=scanner.agent_id,
                action=JobAction.NETWORK_SCAN,
                scan_subnet=subnet,
                scan={
                    "subnet": subnet.cidr,
                    "top_ports": subnet.top_ports,
                    "ports": subnet.ports,
                    "timing": subnet.timing,
                },
                packages=[],
                status=JobStatus.QUEUED,
                created_at=now,
            )
            queued += 1
    if subnets:
        result.counts = {"scan_jobs_queued": queued, "scan_jobs_still_pending": pending}
    return result


def _in_subnet(host: dict[str, Any], network: Any) -> bool:
    for key in ("ip", "ipv6"):
        value = host.get(key)
        if isinstance(value, str):
            try:
                if ipaddress.ip_address(value) in network:
                    return True
            except ValueError:
                continue
    return False


def _failed_run(*, source_name: str, actor: Any, error: str, started: datetime) -> DiscoveryRun:
    return DiscoveryRun.objects.create(
        source=DiscoveryRunSource.NMAP,
        source_name=source_name,
        format="nmap",
        actor=actor_label(actor)[:200],
        started_at=started,
        finished_at=max(timezone.now(), started),
        status=DiscoveryRunStatus.FAILED,
        errors=[error[:1000]],
    )


def record_scan_result(
    *, job: AgentJob, summary: dict[str, Any], nmap_xml: str, actor: Any, at: datetime
) -> tuple[str, str, DiscoveryRun]:
    """Read a ``network_scan`` job's report and reconcile its hosts (caller's transaction).

    Returns ``(status, message, run)``: ``succeeded`` with the reconciled run, or ``failed`` with
    the reason and a failed run when the agent reported a failure or the XML cannot be used.
    Hosts outside the job's subnet are left out (a scanner reports only the subnet it scans)."""
    subnet = job.scan_subnet
    source = scan_source_name(subnet, job)
    failure = ""
    hosts: list[dict[str, Any]] = []
    raw = (nmap_xml or "").encode("utf-8")
    if summary["status"] != "succeeded":
        lines = [line for line in (summary.get("log") or "").splitlines() if line.strip()]
        failure = f"the scan failed on the agent: {(lines[-1] if lines else 'no log')[:300]}"
    elif len(raw) > NMAP_XML_MAX_BYTES:
        failure = (
            f"the scan result is {len(raw):,} bytes, more than the "
            f"{NMAP_XML_MAX_BYTES:,} a scan may report"
        )
    elif not raw:
        failure = "the agent reported no Nmap XML"
    else:
        try:
            hosts = parse_nmap(raw)
        except ParseError as exc:
            failure = f"the scan result is not Nmap XML: {exc}"
    if failure:
        return (
            "failed",
            failure,
            _failed_run(source_name=source, actor=actor, error=failure, started=at),
        )
    try:
        network = ipaddress.ip_network((job.scan or {}).get("subnet", ""))
    except ValueError:
        network = None
    outside = [h for h in hosts if network is None or not _in_subnet(h, network)]
    inside = [h for h in hosts if h not in outside]
    run, reconciled = run_reconcile(hosts=inside, source_name=source, actor=actor)
    if outside:
        counts = {**asdict(reconciled), "outside_subnet": len(outside)}
        DiscoveryRun.objects.filter(pk=run.pk).update(counts=counts)
        run.refresh_from_db()
    return "succeeded", str(reconciled), run
