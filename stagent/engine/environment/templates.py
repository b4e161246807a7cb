"""Templates: a scan's manifest (what is installed where, by name and hash, never content)
kept under a name, to compare or re-create a setup later."""

from __future__ import annotations

MANIFEST_KEYS = {"skill": "skills", "mcp-server": "mcpServers", "permission": "permissions",
                 "instruction": "instructions", "hook": "hooks", "memory": "memory", "plugin": "plugins",
                 "rule": "rules", "output-style": "outputStyles", "reference": "references"}


def manifest(artifacts: list[dict]) -> dict:
    out: dict[str, list] = {key: [] for key in MANIFEST_KEYS.values()}
    for artifact in artifacts:
        key = MANIFEST_KEYS.get(artifact["category"])
        if key:
            out[key].append({"name": artifact["name"], "tool": artifact["tool"], "scope": artifact["scope"],
                             "relPath": artifact["relPath"], "contentHash": artifact["contentHash"],
                             "sizeBytes": artifact["sizeBytes"]})
    return out
