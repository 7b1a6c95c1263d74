"""signwire: a DNSSEC signer that sits between a hidden primary and its secondaries.

The package is laid out as the stages of one pipeline (see docs/architecture.md):
``zones`` (pure zone values), ``loading`` (zone in), ``keys``, ``signing``, ``verify``,
``runtime`` (the only owner of processes and the system clock) and ``cli``.
"""

__version__ = "0.1.0"
