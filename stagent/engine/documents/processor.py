"""Documents: text extraction in the background, `uploaded → processing → ready | error`.

Each extraction is a subprocess (worker.py) killed at `timeout_s`, at most `concurrency` at a
time, owned by the supervisor as `document:<id>`. Reprocessing a document cancels (and kills)
its running extraction first. At start, documents a stop or crash left `uploaded`/`processing`
are extracted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from ...db import Database
from ...store import documents as store
from ..supervisor import Supervisor

log = logging.getLogger("stagent.documents")

TIMEOUT_S = 60.0
CONCURRENCY = 2
MAX_ANSWER_BYTES = 64 * 1024 * 1024
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])  # the directory holding `stagent/`


class Documents:
    def __init__(self, db: Database, supervisor: Supervisor, data_dir: Path):
        self.db = db
        self.supervisor = supervisor
        self.data_dir = data_dir
        self.timeout_s = TIMEOUT_S
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._running: dict[str, asyncio.Task] = {}

    async def start(self) -> None:
        for document_id in await store.unfinished(self.db):
            await self.process(document_id)

    async def process(self, document_id: str) -> None:
        """(Re)start the extraction of one document in the background; its status becomes
        `processing` before this returns."""
        name = f"document:{document_id}"
        if self.supervisor.running(name):
            await self.supervisor.cancel(name)
        if await store.start_processing(self.db, document_id):
            task = self.supervisor.start(name, self._run(document_id))
            self._running[document_id] = task
            task.add_done_callback(lambda t: self._running.pop(document_id, None) if self._running.get(document_id) is t else None)

    async def forget(self, document_id: str) -> None:
        """Stop a deleted document's extraction (its worker is killed)."""
        await self.supervisor.cancel(f"document:{document_id}")

    async def wait(self, document_id: str, timeout: float = 60.0) -> None:
        """Until the document's running extraction ended (for callers that need the text now)."""
        task = self._running.get(document_id)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout)

    async def _run(self, document_id: str) -> None:
        document = await store.get(self.db, document_id)
        if document is None:
            return
        async with self._slots:
            try:
                stored = Path(document["storagePath"])
                thumbnail = stored.with_name(f"{stored.stem}.thumb.png") if document["mimeType"].startswith("image/") else None
                answer = await self.extract(stored, document["mimeType"], thumbnail)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pragma: no cover - the worker could not even start
                log.exception("extraction of %s failed", document_id)
                answer = {"error": f"Extraction failed: {exc}"}
        error = answer.get("error")
        # A type without an extractor ends `ready`, without text, its note in processingError.
        await store.finish_processing(self.db, document_id, text=None if error else answer.get("text"),
                                      processed_path=None if error else answer.get("thumbnail"), error=error,
                                      note=answer.get("note"))
        log.info("document %s %s", document_id, f"error: {error}" if error else "ready")

    async def extract(self, path: Path, mime: str, thumbnail: Path | None = None) -> dict:
        """Run the worker on one file; {"error": …} when it fails, overruns or is killed."""
        if not await asyncio.to_thread(path.is_file):
            return {"error": "The stored file is missing."}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "stagent.engine.documents.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, limit=MAX_ANSWER_BYTES)
        request = json.dumps({"path": str(path), "mime": mime, "cpuSeconds": int(self.timeout_s) + 5,
                              "thumbnail": str(thumbnail) if thumbnail else None}).encode()
        try:
            out, err = await asyncio.wait_for(proc.communicate(request), self.timeout_s)
        except TimeoutError:
            return {"error": f"Extraction took longer than {self.timeout_s:g} s and was stopped."}
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0 or not out:
            detail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            return {"error": "Extraction failed" + (f": {detail[0][:300]}" if detail else
                                                    f" (worker exit status {proc.returncode}).")}
        try:
            return json.loads(out)
        except ValueError:
            return {"error": "Extraction failed: the worker's answer was not JSON."}
