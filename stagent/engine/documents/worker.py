"""The extraction subprocess: `python -m stagent.engine.documents.worker` reads one JSON request
({"path", "mime", "thumbnail"?}) on stdin and writes one JSON answer ({"text", "note", ...} or {"error"}) on
stdout. The daemon kills it at its time limit; here it also caps its own memory and CPU time, so
a file that gets past the checks in extract.py still cannot take the machine."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

MEMORY_LIMIT = 2 * 1024 * 1024 * 1024


def _limit(cpu_seconds: int) -> None:
    for which, value in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_CPU, cpu_seconds)):
        try:
            soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, hard))
        except (ValueError, OSError):  # pragma: no cover - a platform without the limit
            pass


def main() -> int:
    request = json.loads(sys.stdin.read())
    _limit(int(request.get("cpuSeconds", 120)))
    from .extract import Refused, extract

    try:
        thumbnail = request.get("thumbnail")
        answer = extract(Path(request["path"]), request["mime"], Path(thumbnail) if thumbnail else None)
    except Refused as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": "Refused: extraction needed more memory than allowed."}
    except Exception as exc:  # a parser's own error on a malformed file
        answer = {"error": f"Could not extract text: {type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(json.dumps(answer, ensure_ascii=True))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
