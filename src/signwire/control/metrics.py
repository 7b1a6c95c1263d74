"""The daemon's Prometheus metrics: their names, help texts and values.

Everything comes from two places: the per-zone status the daemon gives ``signwire status``
(serials, upstream expiry, stale, earliest signature expiry, secondaries), read afresh at
each scrape, and :class:`ZoneCounters`, the few counts the daemon keeps per zone as things
happen (transfers, verification failures, signing time). :class:`ZoneCollector` turns both
into metric families for prometheus-client; :mod:`signwire.runtime.metrics` serves them over
HTTP. Nothing here reads a clock or opens a socket.

Names (every one labelled ``zone``; the last one ``secondary`` too):

* ``signwire_zone_signed_serial``, ``signwire_zone_input_serial``
* ``signwire_zone_serving`` (0/1), ``signwire_zone_stale`` (0/1: upstream expired, served)
* ``signwire_zone_upstream_expires_in_seconds`` (zones with primaries)
* ``signwire_zone_signature_expiry_earliest_timestamp_seconds`` (epoch)
* ``signwire_zone_refresh_success_timestamp_seconds`` (epoch of the last good SOA check or
  transfer; zones with primaries)
* ``signwire_zone_transfers_in_total{kind="AXFR"|"IXFR"}``,
  ``signwire_zone_transfer_in_failures_total``, ``signwire_zone_transfers_out_total{kind}``
* ``signwire_zone_verification_failures_total``
* ``signwire_zone_signing_seconds`` (histogram)
* ``signwire_secondary_last_transfer_serial{zone, secondary}``
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

SIGNING_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass(slots=True)
class ZoneCounters:
    """What the daemon counts for one zone while it runs (from zero at each start)."""

    transfers_in: dict[str, int] = field(default_factory=dict)  # by kind: AXFR, IXFR
    transfer_in_failures: int = 0
    transfers_out: dict[str, int] = field(default_factory=dict)
    verification_failures: int = 0
    # The signing-time histogram: counts per bucket (not cumulative), the last for +Inf.
    signing: list[int] = field(default_factory=lambda: [0] * (len(SIGNING_BUCKETS) + 1))
    signing_sum: float = 0.0

    def transfer_in(self, kind: str) -> None:
        self.transfers_in[kind] = self.transfers_in.get(kind, 0) + 1

    def transfer_out(self, kind: str) -> None:
        self.transfers_out[kind] = self.transfers_out.get(kind, 0) + 1

    def signed(self, seconds: float) -> None:
        self.signing[bisect.bisect_left(SIGNING_BUCKETS, seconds)] += 1
        self.signing_sum += seconds


ZoneSource = Callable[[], Iterable[tuple[dict[str, Any], ZoneCounters]]]


class ZoneCollector(Collector):
    """Metric families for every zone the source yields (its status, its counters)."""

    def __init__(self, source: ZoneSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        z = ["zone"]
        gauges = {
            "signed_serial": GaugeMetricFamily(
                "signwire_zone_signed_serial", "SOA serial of the signed version served", labels=z
            ),
            "input_serial": GaugeMetricFamily(
                "signwire_zone_input_serial", "SOA serial of the newest unsigned input", labels=z
            ),
            "serving": GaugeMetricFamily(
                "signwire_zone_serving", "1 while a signed version is served", labels=z
            ),
            "stale": GaugeMetricFamily(
                "signwire_zone_stale",
                "1 when the primaries were silent past the SOA expire time (still served)",
                labels=z,
            ),
            "expires_in": GaugeMetricFamily(
                "signwire_zone_upstream_expires_in_seconds",
                "seconds until the copy from the primaries reaches its SOA expire time",
                labels=z,
            ),
            "signature_expiry": GaugeMetricFamily(
                "signwire_zone_signature_expiry_earliest_timestamp_seconds",
                "when the earliest signature served expires (epoch seconds)",
                labels=z,
            ),
            "last_success": GaugeMetricFamily(
                "signwire_zone_refresh_success_timestamp_seconds",
                "when the primaries last answered a refresh (epoch seconds)",
                labels=z,
            ),
        }
        transfers_in = CounterMetricFamily(
            "signwire_zone_transfers_in", "transfers in that gave a new copy", labels=[*z, "kind"]
        )
        failures_in = CounterMetricFamily(
            "signwire_zone_transfer_in_failures", "transfers in refused or failed", labels=z
        )
        transfers_out = CounterMetricFamily(
            "signwire_zone_transfers_out", "AXFR and IXFR answered", labels=[*z, "kind"]
        )
        verify_failures = CounterMetricFamily(
            "signwire_zone_verification_failures",
            "signed versions the verifier refused (not served)",
            labels=z,
        )
        signing = HistogramMetricFamily(
            "signwire_zone_signing_seconds", "time to sign a new version", labels=z
        )
        secondary = GaugeMetricFamily(
            "signwire_secondary_last_transfer_serial",
            "serial of the last AXFR or IXFR answered to this secondary",
            labels=[*z, "secondary"],
        )
        for status, counters in self.source():
            zone = [str(status.get("zone"))]
            up = status.get("upstream") or {}
            values = {
                "signed_serial": status.get("served_serial"),
                "input_serial": status.get("input_serial"),
                "serving": int(bool(status.get("serving"))),
                "stale": int(status.get("state") == "stale"),
                "expires_in": up.get("expires_in"),
                "signature_expiry": status.get("earliest_signature_expiry"),
                "last_success": up.get("last_success"),
            }
            for key, value in values.items():
                if isinstance(value, int | float):
                    gauges[key].add_metric(zone, value)
            for kind, n in sorted(counters.transfers_in.items()):
                transfers_in.add_metric([*zone, kind], n)
            failures_in.add_metric(zone, counters.transfer_in_failures)
            for kind, n in sorted(counters.transfers_out.items()):
                transfers_out.add_metric([*zone, kind], n)
            verify_failures.add_metric(zone, counters.verification_failures)
            buckets: list[tuple[str, float]] = []
            total = 0
            for bound, n in zip((*SIGNING_BUCKETS, float("inf")), counters.signing, strict=True):
                total += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
            signing.add_metric(zone, buckets, counters.signing_sum)
            for peer, info in sorted((status.get("secondaries") or {}).items()):
                if isinstance(info.get("serial"), int):
                    secondary.add_metric([*zone, str(peer)], info["serial"])
        yield from gauges.values()
        yield from (transfers_in, failures_in, transfers_out, verify_failures, signing, secondary)
