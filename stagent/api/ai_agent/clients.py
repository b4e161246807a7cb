"""/api/ai-agent/clients: the workspace's clients (extension routes; the Tables domain will take over).

Reads need `ai-agent:chat`, changes `ai-agent:actions`; all count against the workspace's
`clients` bucket (120/min). The import takes CSV text (text/csv or text/plain body, or JSON
`{"csv": "..."}`) and reports each imported and skipped row.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError
from starlette.routing import Route

from ...engine.lars.actions import IsoDateTime
from ...errors import Invalid
from ...store import clients as store
from .._http import Body, Int, Out, endpoint, flatten, read_body, read_query
from ._surface import ERRORS, lars_endpoint, success

IMPORT_MAX_ROWS = 5000
OFFSET_MAX = 10**9  # far past any real list, far below SQLite's 64-bit integers
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# CSV header spellings → field (compared lower-case, without spaces, dashes and underscores)
HEADERS = {"name": "name", "client": "name", "company": "name", "domain": "domain", "website": "domain",
           "healthscore": "healthScore", "health": "healthScore", "status": "status", "owner": "owner",
           "notes": "notes", "lastcontactat": "lastContactAt", "lastcontact": "lastContactAt"}


def _domain(value: str | None) -> str | None:
    if value is None:
        return None
    domain = re.sub(r"^[a-z]+://", "", value.strip().lower()).split("/", 1)[0].removeprefix("www.")
    if not domain:
        return None
    if not _DOMAIN.match(domain):
        raise ValueError(f"'{value}' is not a domain name (e.g. acme.com)")
    return domain


Domain = Annotated[str | None, AfterValidator(_domain)]


class ClientFields(Body):
    domain: Domain = Field(default=None, max_length=300)
    health_score: Int | None = Field(default=None, ge=0, le=100)
    status: Literal[store.STATUSES] = None
    owner: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=10_000)
    last_contact_at: IsoDateTime | None = None


class ClientCreate(ClientFields):
    name: str = Field(min_length=1, max_length=200)


class ClientUpdate(ClientFields):
    name: str = Field(default=None, min_length=1, max_length=200)


class ClientQuery(Body):
    q: str | None = Field(default=None, max_length=200)
    status: Literal[store.STATUSES] | None = None
    limit: int = Field(default=100, ge=1, le=store.LIST_LIMIT)
    offset: int = Field(default=0, ge=0, le=OFFSET_MAX)


class ImportRequest(Body):
    csv: str = Field(min_length=1, max_length=5_000_000)


class ClientData(Out):
    id: str
    workspaceId: str
    name: str
    domain: str | None
    healthScore: int | None
    status: str
    owner: str | None
    notes: str | None
    lastContactAt: str | None
    createdAt: str
    updatedAt: str


class ClientOut(Out):
    success: bool
    data: ClientData


class ClientListOut(Out):
    success: bool
    data: list[ClientData]


class ImportOut(Out):
    success: bool
    data: dict


def _fields(body: ClientFields) -> dict:
    fields = body.given()
    if "name" in fields:
        if fields["name"] is None or not fields["name"].strip():
            raise Invalid("name must not be blank", field_errors={"name": ["must not be blank"]})
        fields["name"] = fields["name"].strip()
    if "status" in fields and fields["status"] is None:
        raise Invalid("status cannot be null", field_errors={"status": ["Invalid input: expected one of "
                                                                        f"{list(store.STATUSES)}"]})
    return fields


@endpoint(query=ClientQuery, response=ClientListOut, errors=ERRORS)
@lars_endpoint("clients")
async def list_clients(request, workspace):
    """The workspace's clients by name; `q` matches name, domain or owner."""
    query = read_query(request, ClientQuery)
    return success(await store.list_clients(request.app.state.db, workspace.id, query=query.q, status=query.status,
                                            limit=query.limit, offset=query.offset))


@endpoint(body=ClientCreate, response=ClientOut, status=201, errors=(*ERRORS, 409))
@lars_endpoint("clients")
async def create_client(request, workspace):
    """Add a client; 409 CLIENT_EXISTS when the domain is taken in the workspace."""
    body = await read_body(request, ClientCreate)
    return success(await store.create(request.app.state.db, workspace.id, _fields(body)), 201)


@endpoint(response=ClientOut, errors=ERRORS)
@lars_endpoint("clients")
async def get_client(request, workspace):
    """One client; 404 CLIENT_NOT_FOUND outside the workspace."""
    return success(await store.get(request.app.state.db, workspace.id, request.path_params["clientId"]))


@endpoint(body=ClientUpdate, response=ClientOut, errors=(*ERRORS, 409))
@lars_endpoint("clients")
async def update_client(request, workspace):
    """Change fields of a client (null clears domain, health score, owner, notes, last contact)."""
    db, client_id = request.app.state.db, request.path_params["clientId"]
    body = await read_body(request, ClientUpdate)
    return success(await store.update(db, workspace.id, client_id, _fields(body)))


@endpoint(response=ClientOut, errors=ERRORS)
@lars_endpoint("clients")
async def delete_client(request, workspace):
    """Delete a client."""
    await store.delete(request.app.state.db, workspace.id, request.path_params["clientId"])
    return success({"id": request.path_params["clientId"], "deleted": True})


def _csv_error(message: str) -> Invalid:
    return Invalid(f"The CSV could not be read: {message}", field_errors={"csv": [message]})


def _records(text: str):
    """The CSV's rows as lists of cells. Any line ending (\n, \r\n, a lone \r) ends a row; a
    malformed file (an unclosed quote, a stray quote, a cell over the csv module's limit of
    131,072 characters) is a 400 naming the line, never a half-read import."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None), strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        reason = str(exc)
        if "field limit" in reason:
            reason = f"a cell is longer than {csv.field_size_limit()} characters"
        elif "unexpected end of data" in reason:
            reason = "a quoted cell is never closed"
        raise _csv_error(f"line {reader.line_num}: {reason}") from None


def _columns(header: list[str]) -> list[str | None]:
    columns = [HEADERS.get(re.sub(r"[\s_-]", "", h.lower())) for h in header]
    if "name" not in columns:
        raise Invalid("The CSV needs a header row with a name column (name, domain, healthScore, status, "
                      "owner, notes, lastContactAt)", field_errors={"csv": ["no name column in the header"]})
    for field in dict.fromkeys(c for c in columns if c):
        given = [h.strip() for h, c in zip(header, columns, strict=True) if c == field]
        if len(given) > 1:
            raise _csv_error(f"the header names {field} more than once ({', '.join(given)})")
    return columns


def parse_csv(text: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(valid rows as (row, fields), skipped [{row, name, reason}]); rows count the header as 1."""
    records = _records(text)
    columns = _columns(next(records, None) or [])
    rows, skipped = [], []
    for line, cells in enumerate(records, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(skipped) >= IMPORT_MAX_ROWS:
            raise Invalid(f"The CSV has more than {IMPORT_MAX_ROWS} rows; import it in parts",
                          field_errors={"csv": [f"more than {IMPORT_MAX_ROWS} rows"]})
        raw = {}
        for column, cell in zip(columns, cells, strict=False):
            if column and cell.strip():
                raw[column] = cell.strip()
        if "healthScore" in raw:
            raw["healthScore"] = _number(raw["healthScore"])
        try:
            fields = _fields(ClientCreate.model_validate(raw, strict=False))
        except ValidationError as exc:
            invalid = flatten(exc)
            reason = "; ".join(f"{field}: {msgs[0]}" for field, msgs in (invalid.field_errors or {}).items())
            skipped.append({"row": line, "name": raw.get("name"), "reason": reason or invalid.message})
            continue
        except Invalid as exc:
            skipped.append({"row": line, "name": raw.get("name"), "reason": exc.message})
            continue
        rows.append((line, fields))
    return rows, skipped


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text  # validation names it
    return int(value) if value.is_integer() else value


@endpoint(body=ImportRequest, response=ImportOut, errors=ERRORS)
@lars_endpoint("clients")
async def import_clients(request, workspace):
    """Import clients from CSV (header: name, domain, healthScore, status, owner, notes, lastContactAt)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("text/csv", "text/plain")):
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("The CSV must be UTF-8 text", field_errors={"csv": ["not UTF-8"]}) from None
        if not text.strip():
            raise Invalid("The CSV is empty", field_errors={"csv": ["Required"]})
    else:
        text = (await read_body(request, ImportRequest)).csv
    rows, invalid = parse_csv(text)
    imported, duplicates = await store.import_rows(request.app.state.db, workspace.id, rows)
    skipped = sorted(invalid + duplicates, key=lambda s: s["row"])
    return success({"imported": len(imported), "skipped": len(skipped), "clients": imported,
                    "skippedRows": skipped})


routes = [
    Route("/api/ai-agent/clients", list_clients, methods=["GET"]),
    Route("/api/ai-agent/clients", create_client, methods=["POST"]),
    Route("/api/ai-agent/clients/import", import_clients, methods=["POST"]),
    Route("/api/ai-agent/clients/{clientId}", get_client, methods=["GET"]),
    Route("/api/ai-agent/clients/{clientId}", update_client, methods=["PATCH"]),
    Route("/api/ai-agent/clients/{clientId}", delete_client, methods=["DELETE"]),
]
