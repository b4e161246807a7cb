"""Environment: the user's Claude Code and Codex setup scanned (scanner), scored (health),
masked (secrets), checkpointed (checkpoints), synced between the tools (sync), captured as
templates and turned into profile suggestions; service.py ties them to the store."""
