"""The daemon's review of a signed version before it is served.

Two entry points, one per kind of signing step:

* :func:`verify_version`: a whole version, through the independent zone verifier
  (:func:`~signwire.verify.zone_verifier.verify_text` on the version rendered as zone-file text
  by dnspython). For full signings: the first one, after a failure, after a key change that
  re-signs everything. Linear in the zone.
* :func:`review_change`: what an incremental step changed, judged in the new version alone, in
  work proportional to the change and not to the zone (a lookup in a
  :class:`~signwire.zones.version.ZoneVersion` is a bisection). It checks:

  - the apex DNSKEY RRset: present, signed by its own keys, by a SEP key when it has one;
  - every RRset the diff touched (a record added or deleted, or a signature over it), and the
    SOA: an authoritative RRset is signed by a key of the DNSKEY RRset for every algorithm
    the RRset uses (RFC 6840 §5.11), each RRSIG valid at ``now`` (RFC 1982 arithmetic), with
    the right Labels, Original TTL and TTL; a delegation's NS, glue and occluded data carry no
    signature, and no signature is left over an RRset that is gone;
  - the denial records around each changed owner name. With NSEC: the NSEC of the name (when
    it is authoritative) lists its types and points to the next authoritative name, and the
    NSEC of the authoritative name before it points to it, or past it when the name is gone.
    With NSEC3 (parameters from NSEC3PARAM): the name and each of its ancestors (empty
    non-terminals come and go with it) has the NSEC3 of its hash with the right bitmap
    (Opt-Out: an insecure delegation, and an empty non-terminal with only insecure
    delegations below, may have none), linked from the NSEC3 of the hash before it; a name
    that does not exist (or is occluded) has no NSEC3 and the NSEC3 before its hash links past
    it. An NSEC3 owner that appeared or went away must be the hash of a changed name. Every
    NSEC or NSEC3 looked at is signature-checked too.

  What it does not check: RRsets the diff did not touch (their signatures were checked when
  they were made; keeping them fresh is the re-sign schedule's job, and the next full
  verification sees them), the NSEC/NSEC3 TTL (a warning in the full verifier), and zone-wide
  properties (the chain as a whole, CNAME and other data across untouched names).

Everything here is dnspython, ``cryptography`` (through dnspython) and the zone model's read-only
navigation; nothing comes from the signer.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
from dns.rdtypes.ANY.RRSIG import RRSIG as RRSIGRdata

from signwire.verify.denial import bitmap_types, format_types
from signwire.verify.report import Counts, ProblemLog, type_text
from signwire.verify.signatures import SEP_FLAG, SignatureCheck, ZoneKeys, check_rrset
from signwire.verify.zone_verifier import verify_text
from signwire.zones import names
from signwire.zones.diff import Diff
from signwire.zones.version import NodeRecord, ZoneVersion, decode_node, name_length

NS, SOA, DNAME, DS, RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM = 2, 6, 39, 43, 46, 47, 48, 50, 51
_NOT_DATA = frozenset({RRSIG, NSEC, NSEC3})
_OPT_OUT = 0x01
_IN = dns.rdataclass.IN


# --- whole versions ---------------------------------------------------------------------------


def zone_text(version: ZoneVersion) -> str:
    """A version as zone-file text, rendered here (the types that fill signed zones) or by
    dnspython (the rest), never by the signer's own RDATA code: the verifier reading the text
    shares nothing with the signer."""
    lines = []
    times: dict[int, str] = {}
    mnemonics: dict[int, str] = {}
    for _, node in version.names_map.items():
        owner, recs = decode_node(node)
        owner_text = names.to_text(owner)
        for rdtype, ttl, rd in recs:
            mnemonic = mnemonics.get(rdtype)
            if mnemonic is None:
                mnemonic = mnemonics[rdtype] = type_text(rdtype)
            lines.append(f"{owner_text} {ttl} IN {mnemonic} {rdata_text(rdtype, rd, times)}\n")
    return "".join(lines)


def rdata_text(rdtype: int, rd: bytes, times: dict[int, str] | None = None) -> str:
    """Presentation form of one RDATA (``times`` caches RRSIG time stamps)."""
    render = _RENDER.get(rdtype)
    if render is not None:
        try:
            return render(rd, {} if times is None else times)
        except (IndexError, ValueError, struct.error):
            pass  # malformed: dnspython says how
    rdt = dns.rdatatype.RdataType.make(rdtype)
    return dns.rdata.from_wire(_IN, rdt, rd, 0, len(rd)).to_text()


def _one_name(rd: bytes) -> str:
    if name_length(rd) != len(rd):
        raise ValueError("not one name")
    return names.to_text(rd)


def _types_text(rd: bytes, pos: int) -> str:
    types = _windows(rd, pos)
    if types is None:
        raise ValueError("bad type bitmap")
    return " ".join(type_text(t) for t in sorted(types))


def _time_text(value: int, times: dict[int, str]) -> str:
    text = times.get(value)
    if text is None:
        text = times[value] = time.strftime("%Y%m%d%H%M%S", time.gmtime(value))
    return text


def _soa(rd: bytes, _: dict[int, str]) -> str:
    m = name_length(rd)
    r = m + name_length(rd[m:])
    if len(rd) != r + 20:
        raise ValueError("bad SOA")
    numbers = " ".join(str(n) for n in struct.unpack("!IIIII", rd[r:]))
    return f"{names.to_text(rd[:m])} {names.to_text(rd[m:r])} {numbers}"


def _mx(rd: bytes, _: dict[int, str]) -> str:
    return f"{int.from_bytes(rd[:2], 'big')} {_one_name(rd[2:])}"


def _a(rd: bytes, _: dict[int, str]) -> str:
    if len(rd) != 4:
        raise ValueError("bad A")
    return ".".join(map(str, rd))


def _aaaa(rd: bytes, _: dict[int, str]) -> str:
    if len(rd) != 16:
        raise ValueError("bad AAAA")
    return str(ipaddress.IPv6Address(rd))


def _ds(rd: bytes, _: dict[int, str]) -> str:
    tag, algorithm, digest_type = struct.unpack_from("!HBB", rd)
    if len(rd) < 5:
        raise ValueError("bad DS")
    return f"{tag} {algorithm} {digest_type} {rd[4:].hex().upper()}"


def _dnskey(rd: bytes, _: dict[int, str]) -> str:
    flags, protocol, algorithm = struct.unpack_from("!HBB", rd)
    if len(rd) < 5:
        raise ValueError("bad DNSKEY")
    return f"{flags} {protocol} {algorithm} {base64.b64encode(rd[4:]).decode()}"


def _rrsig(rd: bytes, times: dict[int, str]) -> str:
    covered, algorithm, labels, ttl, expiration, inception, tag = struct.unpack_from(
        "!HBBIIIH", rd
    )
    end = 18 + name_length(rd[18:])
    if end >= len(rd):
        raise ValueError("bad RRSIG")
    return (
        f"{type_text(covered)} {algorithm} {labels} {ttl} {_time_text(expiration, times)} "
        f"{_time_text(inception, times)} {tag} {names.to_text(rd[18:end])} "
        f"{base64.b64encode(rd[end:]).decode()}"
    )


def _nsec(rd: bytes, _: dict[int, str]) -> str:
    end = name_length(rd)
    return f"{names.to_text(rd[:end])} {_types_text(rd, end)}".rstrip()


def _nsec3param_fields(rd: bytes) -> tuple[str, int]:
    algorithm, flags, iterations, salt_len = struct.unpack_from("!BBHB", rd)
    end = 5 + salt_len
    if end > len(rd):
        raise ValueError("bad salt")
    salt = rd[5:end].hex().upper() or "-"
    return f"{algorithm} {flags} {iterations} {salt}", end


def _nsec3(rd: bytes, _: dict[int, str]) -> str:
    head, end = _nsec3param_fields(rd)
    size = rd[end]
    nxt = rd[end + 1 : end + 1 + size]
    if len(nxt) != size or not size:
        raise ValueError("bad next hashed owner")
    text = base64.b32hexencode(nxt).decode().rstrip("=")
    return f"{head} {text} {_types_text(rd, end + 1 + size)}".rstrip()


def _nsec3param(rd: bytes, _: dict[int, str]) -> str:
    head, end = _nsec3param_fields(rd)
    if end != len(rd):
        raise ValueError("bad NSEC3PARAM")
    return head


def _name_only(rd: bytes, _: dict[int, str]) -> str:
    return _one_name(rd)


_RENDER: dict[int, Callable[[bytes, dict[int, str]], str]] = {
    1: _a, 2: _name_only, 5: _name_only, 6: _soa, 12: _name_only, 15: _mx, 28: _aaaa,
    39: _name_only, 43: _ds, 46: _rrsig, 47: _nsec, 48: _dnskey, 50: _nsec3, 51: _nsec3param,
    59: _ds, 60: _dnskey,
}


def verify_version(version: ZoneVersion, now: int, *, workers: int = 1) -> str | None:
    """Why the signed version must not be served, or None: the whole version through the
    independent verifier."""
    report = verify_text(zone_text(version), names.to_text(version.origin), now=now,
                         workers=workers)
    if report.ok:
        return None
    return _summary([str(p) for p in report.errors])


def _summary(errors: list[str]) -> str:
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(errors[:3]) + more


# --- what a diff changed ----------------------------------------------------------------------


def review_change(
    version: ZoneVersion, change: Diff, now: int, *, counts: Counts | None = None
) -> str | None:
    """Why ``version`` (the result of ``change``) must not be served, or None.

    ``counts``, when given, is filled with what was checked (RRsets and signatures validated,
    NSEC and NSEC3 records looked at): the work done, proportional to the change.
    """
    review = _Review(version, now, counts if counts is not None else Counts())
    review.run(change)
    errors = [str(p) for p in review.log.problems if p.severity == "error"]
    return _summary(errors) if errors else None


@dataclass(frozen=True, slots=True)
class _Nsec3Params:
    algorithm: int
    iterations: int
    salt: bytes


@dataclass
class _Review:
    version: ZoneVersion
    now: int
    counts: Counts
    log: ProblemLog = field(default_factory=ProblemLog)
    origin: bytes = b""
    origin_name: dns.name.Name = dns.name.root
    keys: ZoneKeys | None = None
    _types: dict[bytes, frozenset[int] | None] = field(default_factory=dict)
    _signed: set[tuple[bytes, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.origin = names.lower(self.version.origin)
        self.origin_name = dns.name.from_wire(self.origin, 0)[0]

    # --- the walk ---

    def run(self, change: Diff) -> None:
        v = self.version
        apex = v.node(self.origin) or []
        dnskeys = [(ttl, rd) for t, ttl, rd in apex if t == DNSKEY]
        if not dnskeys:
            self.log.error(self.origin_name, "DNSKEY", "no DNSKEY RRset at the apex")
            return
        keyset = _rdataset(DNSKEY, dnskeys)
        self.keys = ZoneKeys.from_rdataset(self.origin_name, keyset)
        if not self.keys.algorithms:
            self.log.error(self.origin_name, "DNSKEY", "the DNSKEY RRset holds no usable zone key")
            return
        self._check_dnskey(apex)

        touched: set[tuple[bytes, int]] = {(self.origin, SOA)}
        changed: set[bytes] = set()
        data_changed: set[bytes] = set()  # owners whose data (not only denial) changed
        owners: set[bytes] = set()  # every owner in the diff but the NSEC3 ones
        cuts: set[bytes] = set()  # owners where NS or DNAME records came or went
        nsec3_owners: dict[bytes, list[bool]] = {}  # owner -> [deleted, added] NSEC3 records
        for side, recs in ((0, change.deleted), (1, change.added)):
            for owner, rdtype, _ttl, rd in recs:
                owner = names.lower(owner)
                covered = int.from_bytes(rd[:2], "big") if rdtype == RRSIG else rdtype
                touched.add((owner, covered))
                if covered == NSEC3:
                    if rdtype == NSEC3:
                        nsec3_owners.setdefault(owner, [False, False])[side] = True
                    else:
                        nsec3_owners.setdefault(owner, [False, False])
                else:
                    owners.add(owner)
                    if rdtype != RRSIG and rdtype != SOA:
                        # Names and types (the denial records' subject) change with data and
                        # NSEC records only; a new signature or serial leaves them as they were.
                        changed.add(owner)
                        if rdtype != NSEC:
                            data_changed.add(owner)
                        if rdtype in (NS, DNAME):
                            cuts.add(owner)
        # A zone cut or DNAME that came or went changes what is authoritative below it: every
        # name there is looked at again (a delegation's glue, usually).
        for cut in sorted(cuts):
            key = names.canonical_key(cut)
            i = self.version.names_map.bisect_left(key + b"\x00")
            end = self.version.names_map.bisect_left(key + b"\x01")
            for j in range(i, end):
                owner, below = self.version.node_at(j)
                owner = names.lower(owner)
                if NSEC3 in {t for t, _, _ in below} and cut == self.origin:
                    continue  # the NSEC3 owners below a DNAME at the apex
                changed.add(owner)
                data_changed.add(owner)
                touched.update((owner, t) for t, _, _ in below if t not in _NOT_DATA)
        for owner, rdtype in sorted(touched):
            self._check_rrset(owner, rdtype)

        if any(t == NSEC3PARAM for t, _, _ in apex):
            params = self._nsec3_params(apex)
            if params is not None:
                self._nsec3_neighbourhood(changed, owners, nsec3_owners, params)
        elif any(t == NSEC for t, _, _ in apex):
            if nsec3_owners:
                self.log.error(self.origin_name, "NSEC3", "NSEC3 records in an NSEC-signed zone")
            self._nsec_neighbourhood(changed, data_changed)
        else:
            self.log.error(self.origin_name, "-", "the zone has neither an NSEC nor an NSEC3 chain")

    def _check_dnskey(self, apex: list[NodeRecord]) -> None:
        assert self.keys is not None
        valid = self._validate(self.origin, DNSKEY)
        self._signed.add((self.origin, DNSKEY))
        sep = {
            tag for tag, rds in self.keys.by_tag.items() if any(rd.flags & SEP_FLAG for rd in rds)
        }
        signers = {(s.algorithm, s.key_tag) for s in valid}
        if valid and sep and not signers & sep:
            self.log.error(
                self.origin_name, "DNSKEY", "the DNSKEY RRset is not signed by a SEP key"
            )

    # --- signatures ---

    def _check_rrset(self, owner: bytes, rdtype: int) -> None:
        """One RRset the diff touched: signed when it is authoritative, else not."""
        if (owner, rdtype) in self._signed:
            return
        self._signed.add((owner, rdtype))
        node = self.version.node(owner)
        if node is None:
            return  # the name is gone with all its records
        present = any(t == rdtype for t, _, _ in node)
        sigs = [rd for t, _, rd in node if t == RRSIG and rd[:2] == rdtype.to_bytes(2, "big")]
        name = dns.name.from_wire(owner, 0)[0]
        what = type_text(rdtype)
        if not present:
            if sigs:
                self.log.error(name, what, f"RRSIG covers {what} but there is no {what} RRset")
            return
        if rdtype == NSEC3:
            should_sign = True  # NSEC3 owners sit below the apex, whatever occludes the rest
        elif self._top_cut(owner) is not None:
            should_sign = False
        elif owner != self.origin and any(t == NS for t, _, _ in node):
            should_sign = rdtype in (DS, NSEC)
        else:
            should_sign = True
        if not should_sign:
            if sigs:
                self.log.error(name, what, f"{what} here is not authoritative and must not be "
                               "signed")
            return
        self._validate(owner, rdtype, node)

    def _validate(self, owner: bytes, rdtype: int, node: list[NodeRecord] | None = None
                  ) -> list[SignatureCheck]:
        assert self.keys is not None
        if node is None:
            node = self.version.node(owner) or []
        name = dns.name.from_wire(owner, 0)[0]
        what = type_text(rdtype)
        rrs = [(ttl, rd) for t, ttl, rd in node if t == rdtype]
        if not rrs:
            self.log.error(name, what, f"no {what} RRset")
            return []
        if len({ttl for ttl, _ in rrs}) > 1:
            self.log.error(name, what, "records of the RRset have different TTLs")
        rrset = _rdataset(rdtype, rrs)
        sigs: list[RRSIGRdata] = []
        for t, ttl, rd in node:
            if t == RRSIG and rd[:2] == rdtype.to_bytes(2, "big"):
                sig = dns.rdata.from_wire(_IN, dns.rdatatype.RRSIG, rd, 0, len(rd))
                assert isinstance(sig, RRSIGRdata)
                sigs.append(sig)
                if ttl != rrset.ttl:
                    self.log.error(name, what, f"RRSIG TTL {ttl} differs from the RRset TTL "
                                   f"{rrset.ttl}")
        return check_rrset(self.log, self.keys, name, rrset, sigs, rrsig_ttl=None, now=self.now,
                           warn_horizon=0, counts=self.counts)

    def _sign_checked(self, owner: bytes, rdtype: int) -> None:
        """A denial record looked at: its signatures too (once)."""
        if (owner, rdtype) not in self._signed:
            self._signed.add((owner, rdtype))
            self._validate(owner, rdtype)

    # --- structure ---

    def _node_types(self, owner: bytes) -> frozenset[int] | None:
        key = names.lower(owner)
        if key not in self._types:
            node = self.version.node(key)
            self._types[key] = None if node is None else frozenset(t for t, _, _ in node)
        return self._types[key]

    def _top_cut(self, owner: bytes) -> bytes | None:
        """The highest ancestor of ``owner`` that occludes it (a delegation below the apex, or
        a DNAME), or None when ``owner`` is authoritative."""
        owner = names.lower(owner)
        ancestors = []
        name = owner
        while name != self.origin and len(name) > len(self.origin):
            name = names.parent(name)
            ancestors.append(name)
        for a in reversed(ancestors):
            types = self._node_types(a)
            if types is None:
                continue
            if DNAME in types or (NS in types and a != self.origin):
                if a == self.origin and names.parent(owner) == self.origin:
                    own = self._node_types(owner)
                    if own is not None and NSEC3 in own and not own - _NOT_DATA:
                        return None  # an NSEC3 owner below a DNAME at the apex
                return a
        return None

    def _has_data(self, owner: bytes, types: frozenset[int] | None) -> bool:
        return types is not None and (bool(types - _NOT_DATA) or owner == self.origin)

    def _authoritative(self, owner: bytes) -> bool:
        return self._has_data(owner, self._node_types(owner)) and self._top_cut(owner) is None

    def _owner_at(self, i: int) -> bytes:
        node = self.version.node_bytes(i)
        return names.lower(node[: name_length(node)])

    def _prev_authoritative(self, i: int) -> int:
        """Position of the greatest authoritative name at or before position ``i`` (wraps)."""
        v = self.version
        n = len(v)
        for _ in range(n):
            i %= n
            owner = self._owner_at(i)
            cut = self._top_cut(owner)
            if cut is not None:
                found = v.index(names.canonical_key(cut))
                assert found is not None
                i = found
                continue
            if self._has_data(owner, self._node_types(owner)):
                return i
            i -= 1
        return 0

    def _next_authoritative(self, i: int) -> int:
        """Position of the authoritative name after the authoritative one at ``i`` (wraps)."""
        v = self.version
        n = len(v)
        for _ in range(n):
            owner = self._owner_at(i)
            types = self._node_types(owner) or frozenset()
            if (i != 0 and (DNAME in types or NS in types)) or (i == 0 and DNAME in types):
                j = v.names_map.bisect_left(names.canonical_key(owner) + b"\x01")
            else:
                j = i + 1
            if j >= n:
                return 0
            nxt = self._owner_at(j)
            if self._has_data(nxt, self._node_types(nxt)):
                return j
            i = j
        return 0

    # --- NSEC ---

    def _nsec_neighbourhood(self, changed: Iterable[bytes], data_changed: set[bytes]) -> None:
        """The NSEC at each changed name, and, where names or types changed, at the
        authoritative name before it (an NSEC that changed alone is checked by itself)."""
        v = self.version
        at: set[int] = set()
        for owner in sorted(changed):
            key = names.canonical_key(owner)
            i = v.index(key)
            types = self._node_types(owner)
            if i is not None and self._authoritative(owner):
                at.add(i)
                if owner in data_changed:
                    at.add(self._prev_authoritative(i - 1 if i else len(v) - 1))
                continue
            if types is not None and (NSEC in types):
                name = dns.name.from_wire(owner, 0)[0]
                why = "below a zone cut or DNAME" if self._has_data(owner, types) else \
                    "with no other data"
                self.log.error(name, "NSEC", f"NSEC at a name {why}")
            before = (i - 1) if i is not None else v.last_at_or_before(key)
            at.add(self._prev_authoritative(before))
        for i in sorted(at):
            self._check_nsec(i)

    def _check_nsec(self, i: int) -> None:
        v = self.version
        owner = self._owner_at(i)
        name = dns.name.from_wire(owner, 0)[0]
        recs = v.rrset(owner, NSEC)
        self.counts.nsec_records += len(recs)
        if len(recs) != 1:
            self.log.error(name, "NSEC", f"{len(recs)} NSEC records, expected one")
            return
        rd = recs[0][1]
        self._sign_checked(owner, NSEC)
        end = name_length(rd)
        nxt = self._owner_at(self._next_authoritative(i))
        if names.lower(rd[:end]) != nxt:
            self.log.error(
                name, "NSEC", f"next name is {names.to_text(rd[:end])}, expected "
                f"{names.to_text(nxt)}"
            )
        types = self._node_types(owner) or frozenset()
        if owner != self.origin and NS in types:
            expected = set(types & {NS, DS})
        else:
            expected = set(types - _NOT_DATA)
        expected |= {RRSIG, NSEC}
        self._compare_bitmap(name, "NSEC", _windows(rd, end), expected)

    def _compare_bitmap(
        self, name: dns.name.Name, what: str, present: set[int] | None, expected: set[int]
    ) -> None:
        if present is None:
            self.log.error(name, what, "type bitmap is malformed")
        elif present != expected:
            self.log.error(
                name, what, f"type bitmap is {format_types(present)}, expected "
                f"{format_types(expected)}"
            )

    # --- NSEC3 ---

    def _nsec3_params(self, apex: list[NodeRecord]) -> _Nsec3Params | None:
        found = [rd for t, _, rd in apex if t == NSEC3PARAM]
        if not found:
            return None
        if len(found) != 1 or len(found[0]) < 5 or len(found[0]) != 5 + found[0][4]:
            self.log.error(self.origin_name, "NSEC3PARAM", "not one well-formed NSEC3PARAM")
            return None
        rd = found[0]
        return _Nsec3Params(rd[0], int.from_bytes(rd[2:4], "big"), rd[5 : 5 + rd[4]])

    def _hash_label(self, owner: bytes, params: _Nsec3Params) -> bytes:
        digest = hashlib.sha1(names.lower(owner) + params.salt).digest()
        for _ in range(params.iterations):
            digest = hashlib.sha1(digest + params.salt).digest()
        return base64.b32hexencode(digest).lower()

    def _nsec3_owner(self, label: bytes) -> bytes:
        return bytes((len(label),)) + label + self.origin

    def _nsec3_neighbourhood(
        self,
        changed: set[bytes],
        owners: set[bytes],
        hashed_owners: dict[bytes, list[bool]],
        params: _Nsec3Params,
    ) -> None:
        v = self.version
        chain = v.nsec3_map
        if not len(chain):
            self.log.error(self.origin_name, "NSEC3", "NSEC3PARAM but no NSEC3 record")
            return
        if params.algorithm != 1:
            self.log.error(self.origin_name, "NSEC3PARAM",
                           f"hash algorithm {params.algorithm} is not SHA-1")
            return
        first = self._nsec3_fields(chain.key_at(0), params)
        opt_out = first is not None and bool(first[0] & _OPT_OUT)
        # The names whose NSEC3 may have changed: each changed name and its ancestors below
        # the apex (empty non-terminals come and go with them).
        subjects: set[bytes] = set()
        for owner in changed:
            subjects.add(owner)
            up = names.parent(owner)
            while up != self.origin and len(up) > len(self.origin):
                subjects.add(up)
                up = names.parent(up)
        for owner in sorted(changed):
            if NSEC in (self._node_types(owner) or ()):
                self.log.error(dns.name.from_wire(owner, 0)[0], "NSEC",
                               "NSEC record in an NSEC3-signed zone")
        # An NSEC3 owner comes or goes with a name in the diff (its data, or only its
        # signatures when a cut above it came or went) or one of its ancestors.
        explained = {self._hash_label(owner, params) for owner in owners - subjects}
        links: set[bytes] = set()  # labels whose NSEC3 link to the next is checked
        pred_links: set[bytes] = set()  # ... and the link to them from the one before
        covers: set[bytes] = set()  # labels of hashes that must be covered, not matched
        for owner in sorted(subjects):
            label = self._hash_label(owner, params)
            explained.add(label)
            name = dns.name.from_wire(owner, 0)[0]
            expected, optional = self._nsec3_expectation(owner, opt_out)
            matched = chain.find(label) is not None
            if expected is None:
                if matched:
                    self.log.error(name, "NSEC3", f"an NSEC3 ({label.decode()}) for a name "
                                   "that does not exist or is occluded")
                else:
                    covers.add(label)
                continue
            if not matched:
                if optional:
                    covers.add(label)
                else:
                    self.log.error(name, "NSEC3", f"no NSEC3 for this name (hash {label.decode()})")
                continue
            links.add(label)
            pred_links.add(label)
            fields = self._nsec3_fields(label, params)
            if fields is not None:
                self._compare_bitmap(name, "NSEC3", fields[2], set(expected))
        for owner, (deleted, added) in hashed_owners.items():
            label = owner[1 : 1 + owner[0]]
            if chain.find(label) is not None:
                links.add(label)
                appeared = added and not deleted
                if appeared:
                    pred_links.add(label)
            else:
                covers.add(label)
                appeared = False
            gone = deleted and not added and chain.find(label) is None
            if (appeared or gone) and label not in explained:
                self.log.error(
                    dns.name.from_wire(owner, 0)[0], "NSEC3",
                    "an NSEC3 owner " + ("appeared" if appeared else "went away")
                    + " that is not the hash of a changed name",
                )
        for label in sorted(links):
            i = chain.find(label)
            assert i is not None
            if label in pred_links:
                self._check_nsec3_link((i - 1) % len(chain), params, opt_out)
            self._check_nsec3_link(i, params, opt_out)
        for label in sorted(covers):
            i = chain.bisect_left(label)
            self._check_nsec3_link((i - 1) % len(chain), params, opt_out)

    def _nsec3_expectation(
        self, owner: bytes, opt_out: bool
    ) -> tuple[frozenset[int] | None, bool]:
        """The NSEC3 bitmap ``owner`` needs (None: it must have no NSEC3), and whether Opt-Out
        lets it go without one."""
        key = names.canonical_key(owner)
        types = self._node_types(owner)
        if self._top_cut(owner) is not None:
            return None, False
        if types is None or not self._has_data(owner, types):
            if not self._has_descendant_data(key):
                return None, False  # no such name (or only leftovers, reported elsewhere)
            # An empty non-terminal; under Opt-Out it may go without an NSEC3 when only
            # insecure delegations are below it.
            return frozenset(), opt_out and not self._below_needs(key)
        if owner != self.origin and NS in types:
            if DS in types:
                return frozenset({NS, DS, RRSIG}), False
            return frozenset({NS}), opt_out
        return frozenset(types - _NOT_DATA) | {RRSIG}, False

    def _descendants(self, key: bytes) -> Iterable[tuple[int, bytes, frozenset[int]]]:
        """Positions, owners and types of the authoritative names below ``key`` (a name that is
        not occluded), skipping what delegations and DNAMEs occlude."""
        v = self.version
        i = v.names_map.bisect_left(key + b"\x00")
        end = v.names_map.bisect_left(key + b"\x01")
        while i < end:
            owner = self._owner_at(i)
            types = self._node_types(owner) or frozenset()
            yield i, owner, types
            if NS in types or DNAME in types:
                i = v.names_map.bisect_left(names.canonical_key(owner) + b"\x01")
            else:
                i += 1

    def _below_needs(self, key: bytes) -> bool:
        """Whether an authoritative name below ``key`` other than an insecure delegation
        exists: then the empty non-terminal ``key`` needs its NSEC3 even under Opt-Out. Stops
        at the first such name."""
        for _, owner, types in self._descendants(key):
            if not self._has_data(owner, types):
                continue
            if NS not in types or DS in types:
                return True
        return False

    def _has_descendant_data(self, key: bytes) -> bool:
        return any(self._has_data(o, t) for _, o, t in self._descendants(key))

    def _nsec3_fields(
        self, label: bytes, params: _Nsec3Params
    ) -> tuple[int, bytes, set[int] | None] | None:
        """Flags, next hashed owner and bitmap of the NSEC3 at ``label`` (None: reported)."""
        owner = self._nsec3_owner(label)
        name = dns.name.from_wire(owner, 0)[0]
        recs = self.version.rrset(owner, NSEC3)
        self.counts.nsec3_records += len(recs)
        if len(recs) != 1:
            self.log.error(name, "NSEC3", f"{len(recs)} NSEC3 records, expected one")
            return None
        rd = recs[0][1]
        try:
            algorithm, flags, iterations, salt_len = struct.unpack_from("!BBHB", rd)
            salt = rd[5 : 5 + salt_len]
            hash_len = rd[5 + salt_len]
            nxt = rd[6 + salt_len : 6 + salt_len + hash_len]
            windows = _windows(rd, 6 + salt_len + hash_len)
        except (struct.error, IndexError):
            self.log.error(name, "NSEC3", "malformed NSEC3 RDATA")
            return None
        if (algorithm, iterations, salt) != (params.algorithm, params.iterations, params.salt):
            self.log.error(name, "NSEC3", "hash parameters differ from the NSEC3PARAM")
        if len(nxt) != 20:
            self.log.error(name, "NSEC3", "next hashed owner is not a SHA-1 hash")
        return flags, nxt, windows

    def _check_nsec3_link(self, i: int, params: _Nsec3Params, opt_out: bool) -> None:
        """The NSEC3 at chain position ``i`` points to the one after it, has the chain's
        Opt-Out flag and is signed."""
        chain = self.version.nsec3_map
        label = chain.key_at(i)
        owner = self._nsec3_owner(label)
        if (owner, -1) in self._signed:
            return
        self._signed.add((owner, -1))
        fields = self._nsec3_fields(label, params)
        if fields is None:
            return
        flags, nxt, _ = fields
        name = dns.name.from_wire(owner, 0)[0]
        want = chain.key_at((i + 1) % len(chain))
        got = base64.b32hexencode(nxt).lower()
        if got != want:
            self.log.error(name, "NSEC3", f"next hashed owner is {got.decode()}, expected "
                           f"{want.decode()}")
        if bool(flags & _OPT_OUT) != opt_out:
            self.log.error(name, "NSEC3", "Opt-Out flag differs from the rest of the chain")
        self._sign_checked(owner, NSEC3)


def _windows(rd: bytes, pos: int) -> set[int] | None:
    """The types of a type bitmap (RFC 4034 §4.1.2) from ``pos`` on; None when malformed."""
    windows = []
    while pos < len(rd):
        if pos + 2 > len(rd) or not 1 <= rd[pos + 1] <= 32 or pos + 2 + rd[pos + 1] > len(rd):
            return None
        windows.append((rd[pos], rd[pos + 2 : pos + 2 + rd[pos + 1]]))
        pos += 2 + rd[pos + 1]
    return bitmap_types(windows)


def _rdataset(rdtype: int, rrs: list[tuple[int, bytes]]) -> dns.rdataset.Rdataset:
    rds = dns.rdataset.Rdataset(_IN, dns.rdatatype.RdataType.make(rdtype))
    for ttl, rd in rrs:
        rds.add(dns.rdata.from_wire(_IN, rds.rdtype, rd, 0, len(rd)), ttl)
    return rds


# RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM, CDS, CDNSKEY
_DNSSEC_TYPES = frozenset({46, 47, 48, 50, 51, 59, 60})


def verify_unsigned(version: ZoneVersion) -> str | None:
    """Why a version that its policy took insecure must not be served, or None: it must hold
    no DNSSEC record at all (the enforcer only gets there once no DS can be cached, and a
    DNSKEY or RRSIG left behind would say the zone is still signed)."""
    left = sorted({rdtype for _, rdtype, _, _ in version.records() if rdtype in _DNSSEC_TYPES})
    if left:
        return "an unsigned version still holds " + ", ".join(type_text(t) for t in left)
    return None
