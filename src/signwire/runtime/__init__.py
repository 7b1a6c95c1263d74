"""The only owner of the system clock and of worker processes."""
