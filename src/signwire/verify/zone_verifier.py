"""Independent verification of a signed zone: ``verify_zone`` and ``verify_contents``.

This is the review before publishing (DESIGN.md): it shares no code with the signer's fast path
(``signwire.signing``, ``signwire.zones.rdata``, ``signwire.loading``, ``signwire.keys``), so that
a bug in one cannot hide in the other. Files go through the lean path first
(:mod:`signwire.verify.lean`), which vouches for a valid zone quickly or doubts; then the zone is
read with dnspython (:mod:`signwire.verify.zone_reader`) and checked here, and the report says
what is wrong.

Checks, by RFC:

* apex: one SOA, an NS RRset, a DNSKEY RRset with usable zone keys (RFC 4035 §2.1, §2.2);
* every authoritative RRset has a valid RRSIG for each DNSKEY algorithm (RFC 4035 §2.2,
  RFC 6840 §5.11) and every RRSIG is correct (see :mod:`signwire.verify.signatures`);
* the DNSKEY RRset is signed by a key that matches the trust anchors when given, else by a key
  with the SEP flag (RFC 4034 §2.1.1: a warning only);
* zone cuts: NS at a delegation and everything below a cut or a DNAME is not signed (RFC 4035
  §2.2), DS only at delegations (RFC 4035 §2.4);
* denial of existence: one NSEC or NSEC3 chain, not both (see :mod:`~signwire.verify.nsec_chain`
  and :mod:`~signwire.verify.nsec3_chain`).

``now`` is always an argument: the verifier never reads the clock.
"""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdatatype
from dns.rdtypes.ANY.SOA import SOA

from signwire.verify.anchors import TrustAnchor, anchors_for, match_anchors
from signwire.verify.denial import denial_ttl
from signwire.verify.lean import PARALLEL_MIN
from signwire.verify.lean_wire import Doubt
from signwire.verify.nsec3_chain import check_nsec3_chain
from signwire.verify.nsec_chain import check_nsec_chain
from signwire.verify.report import Counts, ProblemLog, VerifyReport, type_text
from signwire.verify.signatures import SEP_FLAG, SignatureCheck, ZoneKeys, check_rrset
from signwire.verify.structure import ZoneShape, classify
from signwire.verify.sweep import sweep_verdict
from signwire.verify.zone_reader import ZoneContents, load_zone_text, read_zone_text

SOA_T = dns.rdatatype.SOA
NS = dns.rdatatype.NS
DS = dns.rdatatype.DS
CNAME = dns.rdatatype.CNAME
DNSKEY = dns.rdatatype.DNSKEY
NSEC = dns.rdatatype.NSEC
NSEC3 = dns.rdatatype.NSEC3
NSEC3PARAM = dns.rdatatype.NSEC3PARAM
RRSIG = dns.rdatatype.RRSIG

DEFAULT_WARN_HORIZON = 7 * 86400


def verify_zone(
    path: str,
    origin: str | dns.name.Name,
    *,
    now: int,
    anchors: list[TrustAnchor] | None = None,
    warn_horizon: int = DEFAULT_WARN_HORIZON,
) -> VerifyReport:
    """Read and verify the signed zone file ``path``.

    Raises :class:`signwire.errors.ZoneDataError` when the file cannot be read or is not a zone
    file; every problem of a readable zone is in the report instead.
    """
    return verify_text(
        load_zone_text(path), origin, now=now, anchors=anchors, warn_horizon=warn_horizon, path=path
    )


def verify_text(
    text: str,
    origin: str | dns.name.Name,
    *,
    now: int,
    anchors: list[TrustAnchor] | None = None,
    warn_horizon: int = DEFAULT_WARN_HORIZON,
    path: str = "<text>",
    workers: int = 2,
) -> VerifyReport:
    """Verify zone-file text: the lean path's verdict when it vouches for the zone, else the
    full reader and checks, whose report says what is wrong (:mod:`signwire.verify.lean`)."""
    if isinstance(origin, str):
        origin = dns.name.from_text(origin)
    try:
        verdict = sweep_verdict(
            text,
            origin.to_text(),
            now=now,
            warn_horizon=warn_horizon,
            anchors=anchors,
            workers=workers,
            parallel_min=PARALLEL_MIN,
        )
    except Doubt:
        pass
    else:
        return VerifyReport(origin.to_text(), [], verdict.counts, verdict.denial)
    contents = read_zone_text(text, origin, path=path)
    return verify_contents(contents, now=now, anchors=anchors, warn_horizon=warn_horizon)


def verify_contents(
    contents: ZoneContents,
    *,
    now: int,
    anchors: list[TrustAnchor] | None = None,
    warn_horizon: int = DEFAULT_WARN_HORIZON,
) -> VerifyReport:
    origin = contents.origin
    log = ProblemLog()
    log.problems.extend(contents.log.problems)
    counts = Counts()
    shape = classify(contents)
    apex = contents.nodes.get(origin, {})

    soa_rds = apex.get(SOA_T)
    soa: SOA | None = None
    if soa_rds is None:
        log.error(origin, "SOA", "no SOA record at the apex")
    else:
        if len(soa_rds) != 1:
            log.error(origin, "SOA", f"{len(soa_rds)} SOA records at the apex, expected one")
        first = next(iter(soa_rds))
        assert isinstance(first, SOA)
        soa = first
    if NS not in apex:
        log.error(origin, "NS", "no NS RRset at the apex")
    dnskeys = apex.get(DNSKEY)
    keys = ZoneKeys.from_rdataset(origin, dnskeys)
    if dnskeys is None:
        log.error(origin, "DNSKEY", "no DNSKEY RRset at the apex: the zone is not signed")
    elif not keys.algorithms:
        log.error(origin, "DNSKEY", "the DNSKEY RRset holds no usable zone key")

    _check_placement(log, contents, shape)
    dnskey_sigs = _check_signatures(log, contents, shape, keys, counts, now, warn_horizon)
    if dnskeys is not None:
        _check_key_trust(log, contents, keys, dnskey_sigs, anchors)

    ttl = None if soa is None or soa_rds is None else denial_ttl(soa_rds.ttl, soa)
    denial = _check_denial(log, contents, shape, counts, ttl)
    return VerifyReport(origin.to_text(), log.problems, counts, denial)


def _check_placement(log: ProblemLog, contents: ZoneContents, shape: ZoneShape) -> None:
    origin = contents.origin
    for name, node in contents.nodes.items():
        if shape.is_occluded(name):
            continue
        if SOA_T in node and name != origin:
            log.error(name, "SOA", "SOA record outside the zone apex")
        if DS in node:
            if name == origin:
                log.error(name, "DS", "DS at the zone apex: it belongs in the parent zone")
            elif not shape.is_delegation(name):
                log.error(name, "DS", "DS at a name that is not a delegation (RFC 4035 §2.4)")
        if CNAME in node and set(node) - {CNAME, NSEC, NSEC3}:
            others = sorted(type_text(t) for t in set(node) - {CNAME, NSEC, NSEC3})
            log.error(
                name, "CNAME", f"CNAME beside other data ({' '.join(others)}; RFC 2181 §10.1)"
            )


def _check_signatures(
    log: ProblemLog,
    contents: ZoneContents,
    shape: ZoneShape,
    keys: ZoneKeys,
    counts: Counts,
    now: int,
    warn_horizon: int,
) -> list[SignatureCheck]:
    """Check every RRSIG and every RRset that needs one; return the valid DNSKEY RRSIGs."""
    origin = contents.origin
    dnskey_sigs: list[SignatureCheck] = []
    # File order (every owner, RRSIG-only ones too, has a node): reports come out stable.
    for name in contents.nodes:
        node = contents.nodes.get(name, {})
        sigs = contents.sigs.get(name, {})
        if shape.is_occluded(name):
            cut = shape.occluded[name]
            for covered in sorted(sigs):
                log.error(
                    name,
                    type_text(covered),
                    f"RRSIG over data below the zone cut or DNAME at {cut}: non-authoritative "
                    "data (glue, occluded names) must not be signed",
                )
            continue
        # RFC 4035 §2.2: at a delegation only DS and the NSEC are authoritative.
        delegation = shape.is_delegation(name)
        signed = {t for t in node if t in (DS, NSEC)} if delegation else set(node)
        for covered in sorted(sigs):
            text = type_text(covered)
            if covered not in node:
                log.error(name, text, f"RRSIG covers {text} but there is no {text} RRset here")
            elif covered not in signed:
                what = "the delegation NS RRset" if covered == NS else f"{text} at a delegation"
                log.error(name, text, f"{what} is not authoritative and must not be signed")
        for rdtype in sorted(signed):
            sigset = sigs.get(rdtype)
            valid = check_rrset(
                log,
                keys,
                name,
                node[rdtype],
                [] if sigset is None else sigset.rrsigs,
                rrsig_ttl=None if sigset is None else sigset.ttl,
                now=now,
                warn_horizon=warn_horizon,
                counts=counts,
            )
            if rdtype == DNSKEY and name == origin:
                dnskey_sigs = valid
    return dnskey_sigs


def _check_key_trust(
    log: ProblemLog,
    contents: ZoneContents,
    keys: ZoneKeys,
    dnskey_sigs: list[SignatureCheck],
    anchors: list[TrustAnchor] | None,
) -> None:
    origin = contents.origin
    dnskeys = contents.rdataset(origin, DNSKEY)
    assert dnskeys is not None
    signers = {(s.algorithm, s.key_tag) for s in dnskey_sigs}
    if anchors is None:
        sep = {tag for tag, rds in keys.by_tag.items() if any(rd.flags & SEP_FLAG for rd in rds)}
        if signers and not signers & sep:
            log.warning(
                origin,
                "DNSKEY",
                "the DNSKEY RRset is signed only by keys without the SEP flag",
            )
        return
    relevant = anchors_for(origin, anchors)
    if not relevant:
        log.error(origin, "DNSKEY", f"no trust anchor for {origin} in the anchor file")
        return
    match = match_anchors(origin, dnskeys, relevant)
    for anchor in match.unchecked:
        log.warning(
            origin,
            "DS",
            f"trust anchor {anchor} uses a digest type this verifier cannot check",
        )
    if not match.keys:
        log.error(origin, "DNSKEY", "no DNSKEY in the zone matches the trust anchors")
        return
    anchored = {(int(k.algorithm), dns.dnssec.key_id(k)) for k in match.keys}
    if not signers & anchored:
        tags = ", ".join(str(tag) for _, tag in sorted(anchored))
        log.error(
            origin,
            "DNSKEY",
            f"the DNSKEY RRset has no valid RRSIG by a key matching the trust anchors "
            f"(key tag {tags})",
        )


def _check_denial(
    log: ProblemLog,
    contents: ZoneContents,
    shape: ZoneShape,
    counts: Counts,
    ttl: int | None,
) -> str:
    origin = contents.origin
    apex = contents.nodes.get(origin, {})
    with_nsec = [n for n, node in contents.nodes.items() if NSEC in node]
    with_nsec3 = [n for n, node in contents.nodes.items() if NSEC3 in node]
    has_param = NSEC3PARAM in apex
    if with_nsec3 and (has_param or not with_nsec):
        mode = "NSEC3"
    elif with_nsec:
        mode = "NSEC"
    elif has_param:
        mode = "NSEC3"
    else:
        log.error(origin, "-", "the zone has neither an NSEC nor an NSEC3 chain")
        return "none"
    if mode == "NSEC3":
        for name in with_nsec:
            counts.nsec_records += len(contents.nodes[name][NSEC])
            log.error(name, "NSEC", "NSEC record in an NSEC3-signed zone")
        check_nsec3_chain(log, contents, shape, counts, ttl=ttl)
    else:
        for name in with_nsec3:
            counts.nsec3_records += len(contents.nodes[name][NSEC3])
            log.error(name, "NSEC3", "NSEC3 record in an NSEC-signed zone")
        if has_param:
            log.error(origin, "NSEC3PARAM", "NSEC3PARAM in an NSEC-signed zone")
        check_nsec_chain(log, contents, shape, counts, ttl=ttl)
    return mode
