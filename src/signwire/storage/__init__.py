"""Persistent state: what must survive a restart (SQLite, atomic files)."""
