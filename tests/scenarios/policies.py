"""Policies for walking rollovers in simulated days: TTLs of hours, lifetimes of days."""

from __future__ import annotations

from typing import Any

from signwire.policy.model import Policy
from signwire.policy.parse import parse_policy

FAST: dict[str, Any] = {
    "dnskey-ttl": "1h",
    "max-zone-ttl": "2h",
    "soa-negative-ttl": "30m",
    "parent-ds-ttl": "3h",
    "zone-propagation-delay": "10m",
    "parent-propagation-delay": "30m",
    "publish-safety": "10m",
    "retire-safety": "10m",
    "zsk-lifetime": "2d",
    "ksk-lifetime": "unlimited",
    "csk-lifetime": "unlimited",
}

# No safety margins at all: the waits are exactly TTL + propagation, so the resolver model
# catches any step taken one second too early.
TIGHT: dict[str, Any] = {**FAST, "publish-safety": 0, "retire-safety": 0}


def fast(name: str = "fast", base: dict[str, Any] | None = None, **overrides: Any) -> Policy:
    table = dict(FAST if base is None else base)
    table.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return parse_policy(name, table, source="<test>")


def tight(name: str = "tight", **overrides: Any) -> Policy:
    return fast(name, TIGHT, **overrides)
