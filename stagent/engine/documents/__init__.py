"""Documents: ingest (uploads, local paths, agent output), text extraction in a killable
subprocess, and the processing status `uploaded → processing → ready | error`."""
