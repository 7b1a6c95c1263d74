"""Synthetic zone files for the signing benchmark, deterministic from a seed.

Two shapes:

* ``tld`` -- a TLD-like zone ``tld.``: SOA, apex NS with in-zone addresses, and N delegations
  with two NS each. About 95 % of them point at out-of-zone name servers drawn from a pool of
  ~5,000 hosters (``ns1.hosterNNNN.net.``); the rest use in-zone name servers with A/AAAA glue.
  A DS (SHA-256, random digest) is added for ``--ds-share`` of the delegations, spread evenly.
  This is the shape where NSEC3 opt-out (RFC 5155 section 6) matters.
* ``hosting`` -- a hoster's zone ``hosting.`` with N first-level names carrying a mix of A, AAAA,
  MX, TXT (SPF in several strings, DKIM keys longer than 255 octets), CNAME, SRV, CAA, wildcards
  (RFC 4592), empty non-terminals and a few sub-delegations with glue.

Owner names are written relative to ``$ORIGIN``. The same seed and arguments always give the
same bytes. No DNS library is needed, so 1M names take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

HOSTER_POOL = 5000
HOSTER_TLDS = ("net", "com", "org", "de", "nl", "cz", "eu", "io")
LABEL_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
LABEL_INNER = LABEL_FIRST + "-"
CHUNK = 5000  # entries rendered before each write(): keeps memory flat for 1M-name zones
SOA_SERIAL = 2024010101


@dataclass
class ZoneStats:
    """What a generated zone holds, for the caller and for tests."""

    origin: str
    entries: int = 0  # delegations (tld) or first-level names (hosting)
    records: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, rdtype: str, count: int = 1) -> None:
        self.records += count
        self.by_type[rdtype] = self.by_type.get(rdtype, 0) + count


class _Labels:
    """Unique random DNS labels (LDH, 3-20 octets, no leading or trailing hyphen)."""

    def __init__(self, rng: random.Random, reserved: set[str]) -> None:
        self._rng = rng
        self._seen = set(reserved)

    def __call__(self) -> str:
        rng = self._rng
        while True:
            n = rng.randint(3, 20)
            label = (
                rng.choice(LABEL_FIRST)
                + "".join(rng.choices(LABEL_INNER, k=n - 2))
                + rng.choice(LABEL_FIRST)
            )
            # "xn--" and "ab--" style labels are reserved (RFC 5891); keep the data boring.
            if label[2:4] == "--" or label in self._seen:
                continue
            self._seen.add(label)
            return label


def _hoster(rng: random.Random) -> str:
    # Skewed so that a few big hosters serve many domains, as in real TLDs.
    h = int(HOSTER_POOL * rng.random() ** 3)
    return f"hoster{h:04d}.{HOSTER_TLDS[h % len(HOSTER_TLDS)]}."


def _ipv4(rng: random.Random) -> str:
    # 198.18.0.0/15 (benchmarking range, RFC 2544) so the data never names a real host.
    v = rng.getrandbits(17)
    return f"198.{18 + (v >> 16)}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def _ipv6(rng: random.Random) -> str:
    return f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"


def _header(origin: str, ttl: int, stats: ZoneStats) -> list[str]:
    stats.add("SOA")
    stats.add("NS", 2)
    stats.add("A", 2)
    stats.add("AAAA", 2)
    return [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@\t{ttl}\tIN\tSOA\tns1.{origin} hostmaster.{origin} {SOA_SERIAL} 1800 900 604800 3600",
        f"@\t{ttl}\tIN\tNS\tns1.{origin}",
        f"@\t{ttl}\tIN\tNS\tns2.{origin}",
        "ns1\tIN\tA\t192.0.2.1",
        "ns1\tIN\tAAAA\t2001:db8::1",
        "ns2\tIN\tA\t192.0.2.2",
        "ns2\tIN\tAAAA\t2001:db8::2",
    ]


def _tld_entries(
    rng: random.Random, names: int, ds_share: float, origin: str, stats: ZoneStats
) -> Iterator[list[str]]:
    new_label = _Labels(rng, {"ns1", "ns2"})
    out: list[str] = []
    for i in range(names):
        label = new_label()
        if rng.random() < 0.05:
            out.append(f"{label}\t172800\tIN\tNS\tns1.{label}.{origin}")
            out.append(f"{label}\t172800\tIN\tNS\tns2.{label}.{origin}")
            for ns in ("ns1", "ns2"):
                out.append(f"{ns}.{label}\t172800\tIN\tA\t{_ipv4(rng)}")
                out.append(f"{ns}.{label}\t172800\tIN\tAAAA\t{_ipv6(rng)}")
            stats.add("A", 2)
            stats.add("AAAA", 2)
        else:
            hoster = _hoster(rng)
            out.append(f"{label}\t172800\tIN\tNS\tns1.{hoster}")
            out.append(f"{label}\t172800\tIN\tNS\tns2.{hoster}")
        stats.add("NS", 2)
        # Evenly spread, exact count: floor(names * ds_share) delegations are secure.
        if int((i + 1) * ds_share) > int(i * ds_share):
            out.append(
                f"{label}\t86400\tIN\tDS\t{rng.randint(1, 65535)} 13 2 {rng.getrandbits(256):064X}"
            )
            stats.add("DS")
        stats.entries += 1
        if len(out) >= CHUNK:
            yield out
            out = []
    yield out


def _txt_strings(text: str) -> str:
    # A TXT character-string holds at most 255 octets (RFC 1035 section 3.3).
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def _b64(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choices(alphabet, k=n))


def _hosting_site(
    rng: random.Random, label: str, origin: str, stats: ZoneStats, out: list[str]
) -> None:
    def rec(owner: str, rdtype: str, rdata: str) -> None:
        out.append(f"{owner}\tIN\t{rdtype}\t{rdata}")
        stats.add(rdtype)

    for _ in range(rng.choice((1, 1, 1, 2))):
        rec(label, "A", _ipv4(rng))
    if rng.random() < 0.5:
        rec(label, "AAAA", _ipv6(rng))
    r = rng.random()
    if r < 0.3:
        rec(label, "MX", f"10 mail.{label}.{origin}")
        rec(f"mail.{label}", "A", _ipv4(rng))
    elif r < 0.6:
        hoster = _hoster(rng)
        rec(label, "MX", f"10 mx1.{hoster}")
        rec(label, "MX", f"20 mx2.{hoster}")
    if rng.random() < 0.5:
        hoster = _hoster(rng)
        if rng.random() < 0.3:
            # SPF split across strings, as big senders publish it.
            spf = f'"v=spf1 ip4:{_ipv4(rng)} ip4:{_ipv4(rng)} " "include:_spf.{hoster} ~all"'
            rec(label, "TXT", spf)
        else:
            rec(label, "TXT", f'"v=spf1 mx include:_spf.{hoster} ~all"')
    if rng.random() < 0.2:
        rec(label, "CAA", '0 issue "letsencrypt.org"')
        if rng.random() < 0.5:
            rec(label, "CAA", f'0 iodef "mailto:security@{label}.{origin}"')
    if rng.random() < 0.4:
        rec(f"www.{label}", "CNAME", f"{label}.{origin}")
    else:
        rec(f"www.{label}", "A", _ipv4(rng))
    if rng.random() < 0.1:
        rec(f"*.{label}", "A", _ipv4(rng))
    if rng.random() < 0.15:
        # _tcp.<label> becomes an empty non-terminal.
        rec(f"_sip._tcp.{label}", "SRV", f"10 60 5060 sip.{label}.{origin}")
        rec(f"sip.{label}", "AAAA", _ipv6(rng))
    if rng.random() < 0.1:
        # RSA-2048 DKIM key: ~400 octets, so several character-strings; _domainkey is an ENT.
        key = _txt_strings("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
                           + _b64(rng, 350))
        rec(f"s{rng.randint(1, 9)}._domainkey.{label}", "TXT", key)
    if rng.random() < 0.05:
        rec(f"app.eu.{label}", "A", _ipv4(rng))  # eu.<label> is an empty non-terminal
    if rng.random() < 0.02:
        sub = f"sub.{label}"
        rec(sub, "NS", f"ns1.{sub}.{origin}")
        rec(sub, "NS", f"ns2.{sub}.{origin}")
        for ns in ("ns1", "ns2"):
            rec(f"{ns}.{sub}", "A", _ipv4(rng))
        if rng.random() < 0.5:
            rec(sub, "DS", f"{rng.randint(1, 65535)} 13 2 {rng.getrandbits(256):064X}")


def _hosting_entries(
    rng: random.Random, names: int, origin: str, stats: ZoneStats
) -> Iterator[list[str]]:
    new_label = _Labels(rng, {"ns1", "ns2"})
    out: list[str] = []
    for _ in range(names):
        _hosting_site(rng, new_label(), origin, stats, out)
        stats.entries += 1
        if len(out) >= CHUNK:
            yield out
            out = []
    yield out


def generate(
    mode: str, names: int, out: TextIO, *, seed: int = 1, ds_share: float = 0.2,
    origin: str | None = None,
) -> ZoneStats:
    """Write a zone of the given shape to ``out`` and return what it holds."""
    if mode not in ("tld", "hosting"):
        raise ValueError(f"unknown zone shape {mode!r}")
    if not 0.0 <= ds_share <= 1.0:
        raise ValueError("ds share must be between 0 and 1")
    zone_origin = origin or f"{mode}."
    if not zone_origin.endswith("."):
        zone_origin += "."
    rng = random.Random(f"{mode}:{seed}")
    stats = ZoneStats(zone_origin)
    header = _header(zone_origin, 3600 if mode == "hosting" else 86400, stats)
    out.write(f"; generated by bench/genzone.py {mode} --names {names} --seed {seed}"
              f"{f' --ds-share {ds_share}' if mode == 'tld' else ''}\n")
    out.write("\n".join(header) + "\n")
    chunks: Iterator[list[str]]
    if mode == "tld":
        chunks = _tld_entries(rng, names, ds_share, zone_origin, stats)
    else:
        chunks = _hosting_entries(rng, names, zone_origin, stats)
    for chunk in chunks:
        if chunk:
            out.write("\n".join(chunk) + "\n")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("mode", choices=("tld", "hosting"), help="zone shape")
    parser.add_argument("--names", "-n", type=int, required=True,
                        help="delegations (tld) or first-level names (hosting)")
    parser.add_argument("--ds-share", type=float, default=0.2,
                        help="share of delegations with a DS (tld mode; default 0.2)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--origin", help="zone origin (default tld. or hosting.)")
    parser.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.output == "-":
        stats = generate(args.mode, args.names, sys.stdout, seed=args.seed,
                         ds_share=args.ds_share, origin=args.origin)
    else:
        with open(args.output, "w", encoding="ascii", buffering=1 << 20) as fh:
            stats = generate(args.mode, args.names, fh, seed=args.seed,
                             ds_share=args.ds_share, origin=args.origin)
    elapsed = time.perf_counter() - started
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_type.items()))
    print(f"{stats.origin}: {stats.entries} names, {stats.records} records ({kinds}) "
          f"in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
