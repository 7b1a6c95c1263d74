"""RDATA between presentation format and wire format, fast for the common types.

OWNED BY: reader helper (to be implemented). API contract below; the signer depends on it.

* ``from_text(rdtype, text, origin) -> bytes``: wire RDATA from the rdata part of a zone-file
  line (``text`` is everything after the type, with parentheses already joined and comments
  removed; quoted strings intact). Names in RDATA keep their case. Fast hand-written paths for
  A, AAAA, NS, CNAME, DNAME, PTR, MX, TXT, SOA, DS, SRV, CAA(opt); any other type through
  ``dns.rdata.from_text`` then ``to_wire``. Raises ValueError with a short reason.
* ``to_text(rdtype, wire) -> str``: presentation format of wire RDATA (absolute names), fast
  paths for the same common types plus RRSIG, NSEC, NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY;
  dnspython for the rest. Output must be parseable by BIND, ldns and Knot.
* ``canonical(rdtype, wire) -> bytes``: RFC 4034 §6.2 / RFC 6840 §5.1 canonical RDATA: names
  embedded in NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX, RP, AFSDB, RT, PX, NAPTR, KX,
  SRV, DNAME, A6, RRSIG lowercased; every other type unchanged (NSEC next name is NOT folded).
* ``embedded_names(rdtype, wire) -> list[bytes]``: names in the RDATA that matter for zone
  checks (NS target, CNAME/DNAME target, MX exchange, SRV target) — used for glue decisions.
"""
