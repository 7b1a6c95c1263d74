"""Per-zone orchestration, pure: events and ``now`` in, commands and the next wake-up out."""
