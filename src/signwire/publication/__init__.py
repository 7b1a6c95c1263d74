"""Stage 4, zone out: the signed zone written to files (and, later, served to secondaries)."""
