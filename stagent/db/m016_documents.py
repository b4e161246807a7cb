"""Migration m016: documents become searchable and bindable.

- `documents_fts`: an FTS5 index with the `trigram` tokenizer over `original_name` and
  `extracted_text` (external content: the text lives once, in `documents`), kept in step by
  triggers, so substring search (what `LIKE '%x%'` gave) is indexed. Its rowid is the documents
  row's rowid; nothing here runs VACUUM, which may renumber rowids of a table without an INTEGER
  PRIMARY KEY (after one, `INSERT INTO documents_fts(documents_fts) VALUES('rebuild')`).
- `schedule_documents`: documents bound to a schedule (each firing's task gets them).
- indexes for the list filters and for output-document versions (originalName + project).
"""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m016_documents(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            original_name, extracted_text,
            content='documents', content_rowid='rowid', tokenize='trigram'
        );
        INSERT INTO documents_fts(documents_fts) VALUES ('rebuild');

        CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
            INSERT INTO documents_fts(rowid, original_name, extracted_text)
            VALUES (new.rowid, new.original_name, new.extracted_text);
        END;
        CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, original_name, extracted_text)
            VALUES ('delete', old.rowid, old.original_name, old.extracted_text);
        END;
        CREATE TRIGGER documents_fts_update AFTER UPDATE OF original_name, extracted_text ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, original_name, extracted_text)
            VALUES ('delete', old.rowid, old.original_name, old.extracted_text);
            INSERT INTO documents_fts(rowid, original_name, extracted_text)
            VALUES (new.rowid, new.original_name, new.extracted_text);
        END;

        CREATE INDEX documents_created ON documents(created_at);
        CREATE INDEX documents_task ON documents(task_id);
        CREATE INDEX documents_project ON documents(project_id, created_at);
        CREATE INDEX documents_versions ON documents(project_id, original_name, direction, version);
        CREATE INDEX project_document_defaults_document ON project_document_defaults(document_id);

        CREATE TABLE schedule_documents (
            id TEXT PRIMARY KEY,
            schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            UNIQUE (schedule_id, document_id)
        );
        CREATE INDEX schedule_documents_document ON schedule_documents(document_id);
        """
    )
