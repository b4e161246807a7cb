"""The Tables page: create a table from a template, edit a cell in the grid, filter, import a
CSV through the wizard, draw a chart, roll a row back, add a trigger, reorder columns."""

from __future__ import annotations

from tests.helpers.table_documents import add_document
from tests.ui.conftest import expect, open_page, screenshot


def clients_table(client) -> dict:
    return [t for t in client.get("/api/tables").json() if t["name"] == "My clients"][0]


def row_of(page, text):
    return page.locator("table.sheet tbody tr").filter(has_text=text)


def test_from_a_template_edit_filter_chart_and_roll_back(page, client):
    open_page(page, "/tables")
    expect(page.locator("main")).to_contain_text("No tables yet.")
    form = page.get_by_role("form", name="New table")
    form.get_by_label("Start from").select_option(label="Clients")
    form.get_by_label("Name").fill("My clients")
    form.get_by_role("button", name="Create table").click()
    expect(page.get_by_role("heading", name="My clients")).to_be_visible()
    expect(page.locator("table.sheet tbody tr")).to_have_count(3)
    table = clients_table(client)

    # edit a cell in place
    ada = row_of(page, "Ada Lovelace")
    ada.locator('td[data-column="next_step"]').click()
    page.get_by_label("Edit Next step").fill("Send the invoice")
    page.get_by_label("Edit Next step").press("Enter")
    expect(ada.locator('td[data-column="next_step"]')).to_have_text("Send the invoice")
    rows = client.get(f"/api/tables/{table['id']}/rows").json()
    assert [r["data"]["next_step"] for r in rows if r["data"]["name"] == "Ada Lovelace"] == ["Send the invoice"]

    # filter, then clear the filter
    bar = page.get_by_role("form", name="Filter")
    bar.get_by_label("Filter column").select_option(label="Status")
    bar.get_by_label("Operator").select_option("eq")
    bar.get_by_label("Filter value").fill("lead")
    bar.get_by_role("button", name="Add filter").click()
    expect(page.locator("table.sheet tbody tr")).to_have_count(1)
    expect(page.locator("table.sheet tbody tr")).to_contain_text("Grace Hopper")
    page.get_by_label("View name").fill("Leads only")  # a saved view keeps the filter
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_text('View "Leads only" saved.')).to_be_visible()
    page.get_by_role("button", name="Remove filter on Status").click()
    expect(page.locator("table.sheet tbody tr")).to_have_count(3)
    page.get_by_label("Saved view").select_option(label="Leads only")
    expect(page.locator("table.sheet tbody tr")).to_have_count(1)
    page.get_by_label("Saved view").select_option(label="All rows")
    expect(page.locator("table.sheet tbody tr")).to_have_count(3)
    [view] = client.get("/api/views", params={"surface": f"table:{table['id']}"}).json()
    assert view["name"] == "Leads only"

    # draw a chart: rows per status, counted by the daemon
    page.get_by_role("button", name="Charts", exact=True).click()
    chart_form = page.get_by_role("form", name="New chart")
    chart_form.get_by_label("Title").fill("Clients by status")
    chart_form.get_by_label("X axis").select_option(label="Status")
    chart_form.get_by_role("button", name="Draw chart").click()
    figure = page.locator("figure[data-chart]")
    expect(figure).to_contain_text("Clients by status")
    expect(figure.locator("svg rect[data-label]")).to_have_count(3)
    assert sorted(figure.locator("svg rect[data-label]").evaluate_all("els => els.map(e => e.dataset.label)")) \
        == ["active", "at risk", "lead"]
    screenshot(page, "tables")

    # roll the edited row back
    row_of(page, "Ada Lovelace").get_by_role("button", name="Row history").click()
    entry = page.locator("[data-history]")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Renewal call")
    entry.get_by_role("button", name="Roll back to this version").click()
    expect(row_of(page, "Ada Lovelace").locator('td[data-column="next_step"]')).to_have_text("Renewal call")
    rows = client.get(f"/api/tables/{table['id']}/rows").json()
    assert [r["data"]["next_step"] for r in rows if r["data"]["name"] == "Ada Lovelace"] == ["Renewal call"]


def test_import_a_csv_through_the_wizard(page, daemon, client):
    table = client.post("/api/tables", json={"name": "Imported people"}).json()
    doc = add_document(daemon, b"Name,Age\nAda,36\nGrace,not known\nAlan,41\n", "people.csv")
    open_page(page, f"/tables/{table['id']}")
    expect(page.locator("main")).to_contain_text("No columns yet")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_label("Document id").fill(doc)
    page.get_by_role("button", name="Preview").click()
    mapping = page.get_by_role("table", name="Column mapping")
    expect(mapping).to_contain_text("Age")
    mapping.get_by_label("Type of Age").select_option("number")
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.locator("main")).to_contain_text("Imported 2 rows; 1 skipped.")
    expect(page.get_by_role("list", name="Rows not imported")).to_contain_text("Line 3")
    expect(page.locator("table.sheet tbody tr")).to_have_count(2)
    assert [r["data"] for r in client.get(f"/api/tables/{table['id']}/rows").json()] == [
        {"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]


def test_add_a_trigger_and_move_a_column(page, client):
    table = client.post("/api/tables", json={"name": "Deals", "columns": [
        {"name": "deal", "displayName": "Deal", "dataType": "text"},
        {"name": "value", "displayName": "Value", "dataType": "number"}]}).json()
    open_page(page, f"/tables/{table['id']}")
    page.get_by_role("button", name="Triggers", exact=True).click()
    form = page.get_by_role("form", name="New trigger")
    form.get_by_label("Trigger name").fill("Big deal")
    form.get_by_label("Condition column").select_option(label="Value")
    form.get_by_label("Condition operator").select_option("gt")
    form.get_by_label("Condition value").fill("1000")
    form.get_by_label("Task title").fill("Celebrate {{deal}}")
    form.get_by_role("button", name="Add trigger").click()
    expect(page.locator("[data-trigger]")).to_contain_text("Big deal")
    [trigger] = client.get(f"/api/tables/{table['id']}/triggers").json()
    assert trigger["condition"] == {"column": "value", "operator": "gt", "value": 1000}
    assert trigger["actionConfig"] == {"title": "Celebrate {{deal}}"}

    page.get_by_role("button", name="Move Value left").click()
    expect(page.locator("table.sheet thead th").first).to_contain_text("Value")
    assert [c["name"] for c in client.get(f"/api/tables/{table['id']}").json()["columns"]] == ["value", "deal"]

    page.get_by_role("button", name="Add column").click()
    form = page.get_by_role("form", name="New column")
    form.get_by_label("Column title").fill("Close date")
    form.get_by_label("Column type").select_option("date")
    form.get_by_role("button", name="Add column").click()
    expect(page.locator('table.sheet thead th[data-column="close_date"]')).to_contain_text("Close date")
    columns = client.get(f"/api/tables/{table['id']}").json()["columns"]
    assert [(c["name"], c["dataType"]) for c in columns][-1] == ("close_date", "date")
