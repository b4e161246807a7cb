"""Snapshots of the whole data directory: the database (SQLite online backup) and the data files
(a tar archive), verified when made; restore swaps them in place (journal.py) without a restart.
docs/decisions/025-snapshots-and-data.md."""
