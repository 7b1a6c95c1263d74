"""``$GENERATE`` templates as BIND 9 expands them (pure: text in, text out).

    $GENERATE start-stop[/step] lhs [ttl] [class] type rhs

For each value from start to stop, ``lhs`` and ``rhs`` are expanded and read as the owner and
the RDATA of one record. In a template:

* ``$`` is the value; ``${offset}``, ``${offset,width}`` and ``${offset,width,base}`` add
  ``offset`` to it and write it zero-padded to ``width`` characters in base ``d`` (decimal),
  ``o`` (octal), ``x``/``X`` (hexadecimal) or ``n``/``N`` (nibbles: reversed hexadecimal digits
  joined by dots, as in ip6.arpa names; ``width`` counts the dots too, and a width that ends
  on a dot leaves a trailing dot, which makes the name absolute).
* ``$$`` is a literal ``$``; a backslash and the character after it are copied unchanged
  (so ``\\$`` reaches the name or RDATA reader as the escaped, literal ``$``).
* A plain ``$`` after a ``${offset...}`` in the same template adds that offset too
  (BIND keeps it from one ``$`` to the next): ``x${5}y$`` at 1 is ``x6y6``.

BIND's own corners, kept: octal, hexadecimal and nibble output of a negative number is its
32-bit two's complement; a number of 128 characters or more is an error ("ran out of space");
``offset`` + value above 2^31 - 1 is an error. The range must be ``start-stop`` or
``start-stop/step`` with 0 <= start <= stop <= 2^31 - 1 and step >= 1.

Deliberately stricter than BIND: trailing text after the range (``1-10x``, which BIND's
``sscanf`` ignores) is an error, and one ``$GENERATE`` makes at most :data:`MAX_RECORDS`
records, so that a typo cannot exhaust memory. Both are tested in ``tests/unit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_RECORDS = 1 << 24
_INT_MAX = 0x7FFFFFFF
_NUMBER_ROOM = 127  # BIND formats a number into 128 bytes, NUL included
_RANGE = re.compile(r"\+?(\d+)-\+?(\d+)(?:/\+?(\d+))?")
# "{offset" then "}" or ",width" then "}" or ",base}" (BIND reads it with one sscanf).
_MODIFIER = re.compile(r"\{([+-]?\d+)(?:(\})|,([+-]?\d+)(?:(\})|,([doxXnN])(\})?)?)?")
_DIGITS = {"n": "0123456789abcdef", "N": "0123456789ABCDEF"}


@dataclass(frozen=True, slots=True)
class _Number:
    offset: int
    width: int
    base: str  # "d", "o", "x", "X", "n" or "N"

    def text(self, value: int) -> str:
        if value > 0 and self.offset > _INT_MAX - value:
            raise ValueError(f"{value} + {self.offset} is out of range")
        v = value + self.offset
        base = self.base
        if base == "d":
            out = f"{v:0{self.width}d}"
        elif base in _DIGITS:
            out = _nibbles(v & 0xFFFFFFFF, self.width, _DIGITS[base])
        else:
            out = f"{v & 0xFFFFFFFF:0{self.width}{base}}"
        if len(out) > _NUMBER_ROOM:
            raise ValueError(f"number of {len(out)} characters: ran out of space")
        return out


def _nibbles(value: int, width: int, digits: str) -> str:
    out = []
    while True:
        out.append(digits[value & 15])
        value >>= 4
        if width > 0:
            width -= 1
        if width > 0 or value:
            out.append(".")
            if width > 0:
                width -= 1
        if not (value or width > 0):
            return "".join(out)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled lhs or rhs: literal text and numbers, in order."""

    parts: tuple[str | _Number, ...]

    def expand(self, value: int) -> str:
        return "".join([p if isinstance(p, str) else p.text(value) for p in self.parts])


def compile_template(text: str) -> Template:
    """Parse a template once; ValueError for a malformed ``${...}``."""
    parts: list[str | _Number] = []
    literal: list[str] = []
    offset = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            literal.append(text[i : i + 2])
            i += 2
            continue
        i += 1
        if c != "$":
            literal.append(c)
            continue
        if text[i : i + 1] == "$":
            literal.append("$")
            i += 1
            continue
        number = _Number(offset, 0, "d")
        if text[i : i + 1] == "{":
            number = _modifier(text, i)
            offset = number.offset
            i = text.index("}", i) + 1
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(number)
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _int32(digits: str) -> int:
    # sscanf's %d keeps the low 32 bits of what strtol read.
    v = int(digits)
    if abs(v) >= 1 << 63:
        raise ValueError(f"number {digits} is out of range")
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v > _INT_MAX else v


def _modifier(text: str, i: int) -> _Number:
    m = _MODIFIER.match(text, i)
    bad = ValueError(f"bad modifier in {text!r}: use ${{offset[,width[,base]]}}")
    if m is None:
        raise bad
    offset = _int32(m.group(1))
    if m.group(2):
        return _Number(offset, 0, "d")
    if m.group(3) is None:
        raise bad
    width = int(m.group(3))
    if not 0 <= width <= _NUMBER_ROOM:
        raise ValueError(f"width {m.group(3)} in {text!r}: ran out of space")
    if m.group(4):
        return _Number(offset, width, "d")
    if m.group(5) is None or m.group(6) is None:
        raise bad
    return _Number(offset, width, m.group(5))


def parse_range(text: str) -> range:
    """``start-stop[/step]`` as a range of values; ValueError if BIND would refuse it."""
    m = _RANGE.fullmatch(text)
    if m is None:
        raise ValueError(f"bad range {text!r}: use start-stop or start-stop/step")
    start, stop = int(m.group(1)), int(m.group(2))
    step = int(m.group(3)) if m.group(3) else 1
    if not (start <= stop <= _INT_MAX and 1 <= step <= _INT_MAX):
        raise ValueError(f"bad range {text!r}: need 0 <= start <= stop <= {_INT_MAX} and step >= 1")
    values = range(start, stop + 1, step)
    if len(values) > MAX_RECORDS:
        raise ValueError(f"range {text!r} makes {len(values)} records, more than {MAX_RECORDS}")
    return values
