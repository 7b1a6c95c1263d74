"""How the signer treats a name of the zone."""

from __future__ import annotations

import enum


class NameKind(enum.IntEnum):
    APEX = 0
    AUTH = 1  # authoritative data below the apex
    DELEGATION = 2  # a zone cut: NS (unsigned) and maybe DS (signed)
    OCCLUDED = 3  # below a zone cut or a DNAME: glue, or data no resolver will see
