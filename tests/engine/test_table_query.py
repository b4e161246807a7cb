"""Row queries of engine/tables over a real SQLite file: the 11 operators on each column type,
multi-column sorts, paging, refusals that name the problem; the formula language of computed
columns and their cycle detection; merge, history and rollback at the engine level."""

from __future__ import annotations

import asyncio

import pytest

from stagent.db import Database
from stagent.db.migrations import migrate
from stagent.engine import tables
from stagent.engine.tables import formula
from stagent.engine.tables.computed import evaluation_order
from stagent.engine.tables.query import matches
from stagent.errors import Invalid, NotFound
from stagent.events import EventBus, TableRowsChanged
from stagent.store import table_history

COLUMNS = [
    {"name": "name", "dataType": "text", "required": True},
    {"name": "price", "dataType": "number"},
    {"name": "due", "dataType": "date"},
    {"name": "done", "dataType": "boolean"},
    {"name": "stage", "dataType": "select", "config": {"options": ["lead", "won", "lost"]}},
    {"name": "site", "dataType": "url"},
    {"name": "mail", "dataType": "email"},
    {"name": "qty", "dataType": "number", "defaultValue": 1},
    {"name": "total", "dataType": "computed", "config": {"formula": "{{price}} * {{qty}}", "formulaType": "arithmetic"}},
]
ROWS = [
    {"name": "Alpha", "price": 10, "due": "2026-01-05", "done": True, "stage": "lead", "site": "https://a.example",
     "mail": "a@example.com", "qty": 2},
    {"name": "beta", "price": "2.5", "due": "2026-03-01", "done": "no", "stage": "won", "mail": "b@example.org"},
    {"name": "Gamma", "price": 30, "stage": "lost", "qty": 3},
    {"name": "alphabet", "due": "2025-12-31", "done": False, "site": "http://z.example"},
]


def run(tmp_path, body):
    async def main():
        db = Database(tmp_path / "stagent.db")
        await db.open()
        try:
            await db.write_raw(migrate)
            table = await tables.create_table(db, {"name": "Deals"}, COLUMNS)
            await tables.add_rows(db, table["id"], ROWS)
            return await body(db, table["id"])
        finally:
            await db.close()

    return asyncio.run(main())


def names(rows):
    return [r["data"]["name"] for r in rows]


CASES = [
    # text
    ([{"column": "name", "operator": "eq", "value": "Gamma"}], ["Gamma"]),
    ([{"column": "name", "operator": "neq", "value": "Gamma"}], ["Alpha", "beta", "alphabet"]),
    ([{"column": "name", "operator": "contains", "value": "ALPHA"}], ["Alpha", "alphabet"]),
    ([{"column": "name", "operator": "starts_with", "value": "b"}], ["beta"]),
    ([{"column": "name", "operator": "in", "value": ["beta", "Gamma", "nobody"]}], ["beta", "Gamma"]),
    ([{"column": "name", "operator": "gt", "value": "X"}], ["beta", "alphabet"]),  # binary order: lower case after
    # number (a string value compares as a number)
    ([{"column": "price", "operator": "gt", "value": "5"}], ["Alpha", "Gamma"]),
    ([{"column": "price", "operator": "gte", "value": 10}], ["Alpha", "Gamma"]),
    ([{"column": "price", "operator": "lt", "value": 10}], ["beta"]),
    ([{"column": "price", "operator": "lte", "value": 10}], ["Alpha", "beta"]),
    ([{"column": "price", "operator": "eq", "value": 2.5}], ["beta"]),
    ([{"column": "price", "operator": "is_empty"}], ["alphabet"]),
    ([{"column": "price", "operator": "is_not_empty"}], ["Alpha", "beta", "Gamma"]),
    ([{"column": "price", "operator": "in", "value": [30, "10"]}], ["Alpha", "Gamma"]),
    # date
    ([{"column": "due", "operator": "lt", "value": "2026-01-01"}], ["alphabet"]),
    ([{"column": "due", "operator": "gte", "value": "2026-01-05"}], ["Alpha", "beta"]),
    ([{"column": "due", "operator": "starts_with", "value": "2026-03"}], ["beta"]),
    ([{"column": "due", "operator": "is_empty"}], ["Gamma"]),
    # boolean ("no" was stored as false)
    ([{"column": "done", "operator": "eq", "value": True}], ["Alpha"]),
    ([{"column": "done", "operator": "eq", "value": "false"}], ["beta", "alphabet"]),
    ([{"column": "done", "operator": "neq", "value": True}], ["beta", "Gamma", "alphabet"]),
    # select, url, email
    ([{"column": "stage", "operator": "in", "value": ["won", "lost"]}], ["beta", "Gamma"]),
    ([{"column": "site", "operator": "starts_with", "value": "https://"}], ["Alpha"]),
    ([{"column": "mail", "operator": "contains", "value": "example.org"}], ["beta"]),
    # computed (materialised): 10*2, 2.5*1 (default qty), 30*3
    ([{"column": "total", "operator": "gte", "value": 20}], ["Alpha", "Gamma"]),
    # several filters: all must hold
    ([{"column": "price", "operator": "gt", "value": 1}, {"column": "name", "operator": "contains", "value": "a"}],
     ["Alpha", "beta", "Gamma"]),
    ([], ["Alpha", "beta", "Gamma", "alphabet"]),
]


@pytest.mark.parametrize(("filters", "expected"), CASES)
def test_each_operator_on_each_type_in_sql_and_in_trigger_conditions(tmp_path, filters, expected):
    async def body(db, table_id):
        rows = await tables.query_rows(db, table_id, filters, None, 100, 0)
        columns = await tables.table_columns(db, table_id)
        everything = await tables.query_rows(db, table_id)
        in_python = [r for r in everything if matches(filters, r["data"], columns)]
        return names(rows), names(in_python)

    in_sql, in_python = run(tmp_path, body)
    assert in_sql == expected
    assert in_python == expected  # trigger conditions mean the same as the SQL filters


def test_sorts_on_several_columns_empty_last_and_paging(tmp_path):
    async def body(db, table_id):
        await tables.add_rows(db, table_id, [{"name": "Delta", "price": 10, "qty": 1}])
        by_price_then_name = await tables.query_rows(
            db, table_id, None, '[{"column":"price","direction":"desc"},{"column":"name","direction":"asc"}]')
        ascending = await tables.query_rows(db, table_id, None, [{"column": "price"}])
        page = await tables.query_rows(db, table_id, None, [{"column": "name"}], limit=2, offset=1)
        return names(by_price_then_name), names(ascending), names(page)

    by_price_then_name, ascending, page = run(tmp_path, body)
    assert by_price_then_name == ["Gamma", "Alpha", "Delta", "beta", "alphabet"]
    assert ascending == ["beta", "Alpha", "Delta", "Gamma", "alphabet"]  # the empty price last
    assert page == ["Delta", "Gamma"]  # Alpha, Delta, Gamma, alphabet, beta (binary order) from the 2nd


@pytest.mark.parametrize(("filters", "sorts", "limit", "message"), [
    ("[{", None, 10, "Invalid filters JSON"),
    ('{"column": "name"}', None, 10, "Invalid filters JSON: expected an array"),
    ('[{"column": "nope", "operator": "eq", "value": 1}]', None, 10, "filters[0]: unknown column 'nope'"),
    ('[{"column": "name", "operator": "like", "value": 1}]', None, 10, "filters[0]: operator must be one of"),
    ('[{"column": "price", "operator": "gt", "value": "cheap"}]', None, 10, "filters[0]: column 'price'"),
    ('[{"column": "name", "operator": "in", "value": "x"}]', None, 10, "needs value to be an array"),
    ('[{"column": "name", "operator": "eq"}]', None, 10, "needs a value"),
    (None, '[{"column": "name", "direction": "sideways"}]', 10, "sorts[0]: direction must be asc or desc"),
    (None, "not json", 10, "Invalid sorts JSON"),
    (None, None, 0, "limit must be between 1 and 1000"),
    (None, None, 1001, "limit must be between 1 and 1000"),
])
def test_bad_queries_are_refused_naming_the_problem(tmp_path, filters, sorts, limit, message):
    async def body(db, table_id):
        with pytest.raises(Invalid) as refused:
            await tables.query_rows(db, table_id, filters, sorts, limit, 0)
        return refused.value.message

    assert message in run(tmp_path, body)


def test_values_that_are_sql_stay_values(tmp_path):
    async def body(db, table_id):
        hostile = "x' OR 1=1 --"
        await tables.add_rows(db, table_id, [{"name": hostile}])
        hit = await tables.query_rows(db, table_id, [{"column": "name", "operator": "eq", "value": hostile}])
        none = await tables.query_rows(db, table_id, [{"column": "name", "operator": "eq", "value": "' OR 1=1 --"}])
        odd = ['say "hi"\\ \n', "Zoë", "a/b\t"]  # escaped in the stored JSON text; non-ASCII
        await tables.add_rows(db, table_id, [{"name": v} for v in odd])
        found = [names(await tables.query_rows(db, table_id, [{"column": "name", "operator": "eq", "value": v}]))
                 for v in odd]
        return names(hit), none, odd, found

    hit, none, odd, found = run(tmp_path, body)
    assert hit == ["x' OR 1=1 --"] and none == []
    assert found == [[v] for v in odd]


def test_eq_finds_cells_under_any_column_name(tmp_path):
    async def body(db, table_id):
        other = await tables.create_table(db, {"name": "Umlauts"}, [{"name": "Größe ✓", "dataType": "text"},
                                                                     {"name": "n", "dataType": "number"}])
        await tables.add_rows(db, other["id"], [{"Größe ✓": "groß", "n": 1}, {"Größe ✓": "klein", "n": 2}])
        hits = {}
        for value in ("groß", "klein", "gross"):
            rows = await tables.query_rows(db, other["id"], [{"column": "Größe ✓", "operator": "eq", "value": value}])
            hits[value] = [r["data"]["n"] for r in rows]
        return hits

    assert run(tmp_path, body) == {"groß": [1], "klein": [2], "gross": []}


@pytest.mark.parametrize(("text", "data", "expected"), [
    ("{{a}} * {{b}} + 1", {"a": 2, "b": 3}, 7),
    ("({{a}} + {{b}}) / 4", {"a": 2, "b": 3}, 1.25),
    ("{{a}} / 0", {"a": 2}, None),
    ("{{a}} - {{missing}}", {"a": 2}, None),
    ("-{{a}} % 3", {"a": 7}, -1),
    ('concat({{first}}, " ", {{last}})', {"first": "Ada", "last": "Lovelace"}, "Ada Lovelace"),
    ('{{first}} & "!"', {"first": "Hi"}, "Hi!"),
    ("daysBetween({{start}}, {{end}})", {"start": "2026-01-01", "end": "2026-03-01"}, 59),
    ('if({{score}} >= 50, "pass", "fail")', {"score": 50}, "pass"),
    ('if({{score}} >= 50 and not {{late}}, "pass", "fail")', {"score": 70, "late": True}, "fail"),
    ("if({{x}} = 1 || {{x}} <> 2, 1, 0)", {"x": 3}, 1),
    ("sum({{a}}, {{b}}, {{c}})", {"a": 1, "b": 2}, 3),
    ("avg({{a}}, {{b}})", {"a": 1, "b": 2}, 1.5),
    ("min({{a}}, {{b}}) + max({{a}}, {{b}})", {"a": 1, "b": 5}, 6),
    ("count({{a}}, {{b}}, {{c}})", {"a": 1, "c": "x"}, 2),
    ("round({{a}}, 2) + abs(-1) + floor(1.7) + ceil(1.2)", {"a": 1.005}, 5.0),
    ("{{a}} * {{a}} * {{a}}", {"a": 10**10}, 1e30),  # past 64 bits: a float, as SQLite holds it
])
def test_the_formula_language(text, data, expected):
    value = formula.tidy(formula.evaluate(formula.parse(text), data))
    assert value == pytest.approx(expected) if isinstance(expected, float) else value == expected


@pytest.mark.parametrize(("text", "message"), [
    ("{{a}} +", "unexpected end of formula"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open(1)", "unknown function 'open'"),
    ("{{a}} ; 1", "unexpected character ';'"),
    ("(" * 50 + "1" + ")" * 50, "nested too deeply"),
    ("1 2", "unexpected 2.0 after the end"),
    ("x" * 3000, "longer than"),
])
def test_bad_formulas_are_refused_with_where(text, message):
    with pytest.raises(formula.FormulaError) as refused:
        formula.parse(text)
    assert message in str(refused.value)


def test_computed_columns_reading_each_other_in_a_cycle_are_refused():
    def computed(name, text):
        return {"name": name, "dataType": "computed", "config": {"formula": text}}

    plain = {"name": "n", "dataType": "number"}
    order = evaluation_order([plain, computed("c", "{{b}} + 1"), computed("b", "{{n}} * 2")])
    assert [c["name"] for c in order] == ["b", "c"]  # b first: c reads it
    with pytest.raises(Invalid) as cycle:
        evaluation_order([plain, computed("a", "{{b}}"), computed("b", "{{c}}"), computed("c", "{{a}} + {{n}}")])
    assert cycle.value.message == "Computed columns depend on each other in a cycle: 'a', 'b', 'c'"
    with pytest.raises(Invalid, match="cycle: 'self'"):
        evaluation_order([computed("self", "{{self}} + 1")])
    with pytest.raises(Invalid, match="unknown column"):
        evaluation_order([computed("x", "{{ghost}}")])
    with pytest.raises(Invalid, match="cycle"):  # listed dependencies count too
        evaluation_order([plain, {"name": "p", "dataType": "computed", "config": {"formula": "1", "dependencies": ["q"]}},
                          computed("q", "{{p}}")])


def test_merge_history_rollback_and_events(tmp_path):
    async def body(db, table_id):
        bus = EventBus()
        seen = bus.subscribe(TableRowsChanged)
        [row] = await tables.add_rows(db, table_id, [{"name": "Row", "price": 4, "stage": "lead"}], "agent", events=bus)
        added = seen.queue.get_nowait()
        updated = await tables.update_row(db, table_id, row["id"], {"price": 5, "stage": None}, events=bus)
        changed = seen.queue.get_nowait()
        with pytest.raises(Invalid, match="column 'stage': expected one of lead, won, lost"):
            await tables.update_row(db, table_id, row["id"], {"stage": "maybe"})
        with pytest.raises(Invalid, match="required column"):
            await tables.update_row(db, table_id, row["id"], {"name": None})
        with pytest.raises(NotFound):
            await tables.update_row(db, table_id, "no-such-row", {"price": 1})
        [entry] = await table_history.row_history(db, table_id, row["id"], 10)
        restored = await tables.rollback_row(db, table_id, row["id"], entry["id"], events=bus)
        await tables.delete_row(db, table_id, row["id"], events=bus)
        history = await table_history.row_history(db, table_id, row["id"], 10)
        back = await tables.rollback_row(db, table_id, row["id"], history[0]["id"])
        return row, added, updated, changed, restored, history, back

    row, added, updated, changed, restored, history, back = run(tmp_path, body)
    assert row["createdBy"] == "agent" and row["data"] == {"name": "Row", "price": 4, "stage": "lead", "qty": 1, "total": 4}
    assert added.event == "row_added" and added.rows[0]["id"] == row["id"] and added.changed_by == "agent"
    assert updated["data"] == {"name": "Row", "price": 5, "qty": 1, "total": 5}  # merged; null removed the key
    assert changed.event == "row_updated" and changed.previous[0]["stage"] == "lead"
    assert restored["data"]["stage"] == "lead" and restored["data"]["price"] == 4
    assert [h["changeType"] for h in history] == ["delete", "update", "update"]
    assert back["id"] == row["id"] and back["data"]["stage"] == "lead"  # a deleted row comes back
