"""Where the daemon runs (context) and project folders on disk (discover). Decision 025."""
