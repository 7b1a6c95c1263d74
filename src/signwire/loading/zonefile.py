"""Zone file reader (RFC 1035 §5 master files), fast enough for a million delegations.

OWNED BY: reader helper (to be implemented). API contract:

    read_zonefile(path: str | os.PathLike, origin: bytes, *, default_ttl: int | None = None)
        -> signwire.zones.records.ParsedZone

Handles $ORIGIN, $TTL, $INCLUDE (relative to the including file), blank owner (previous
owner), '@', TTL and class in either order, multi-line records in parentheses, quoted strings
with escapes, comments, relative names. Class must be IN (or absent). Errors raise
signwire.errors.ZoneDataError with path and line. Lines are numbered from 1 and a record's
line is the line where it starts.
"""
