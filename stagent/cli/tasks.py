"""`stagent tasks list | run "<prompt>"`: tasks on the running daemon."""

from __future__ import annotations

import json
import sys

import click

from .client import Client, CliError, print_table, short_id
from .logs import LogPrinter, stream_task_log

STATUSES = ("planned", "queued", "running", "completed", "failed", "cancelled")
RUNTIMES = ("claude-code", "openai-codex-app-server", "anthropic-direct", "openai-direct", "ollama")
TITLE_MAX = 200
DESCRIPTION_MAX = 2000  # the daemon's limit on a task description


@click.group()
def tasks() -> None:
    """List, create and run tasks on the running daemon."""


@tasks.command("list")
@click.option("--project", "project_id", help="Only tasks of this project id.")
@click.option("--status", type=click.Choice(STATUSES), help="Only tasks with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def list_tasks(ctx: click.Context, project_id: str | None, status: str | None, as_json: bool) -> None:
    """Tasks, most urgent first, then newest."""
    client = Client.from_context(ctx)
    params = {k: v for k, v in (("projectId", project_id), ("status", status)) if v}
    rows = client.get("/api/tasks", params=params)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No tasks.", err=True)
        return
    print_table(["ID", "STATUS", "PRIORITY", "TITLE"],
                [[short_id(t["id"]), t["status"], f"P{t['priority']}", t["title"]] for t in rows])


@tasks.command("run")
@click.argument("prompt")
@click.option("--project", "project_id", help="Project id (its working directory is where tools read files).")
@click.option("--model", help="LiteLLM model string, e.g. openai/gpt-4o-mini or anthropic/claude-sonnet-4-5.")
@click.option("--runtime", type=click.Choice(RUNTIMES), help="Runtime to run the task with.")
@click.option("--follow", "-f", is_flag=True, help="Stream the agent's output until the task ends.")
@click.pass_context
def run_task(ctx: click.Context, prompt: str, project_id: str | None, model: str | None,
             runtime: str | None, follow: bool) -> None:
    """Create a task from PROMPT ("-" reads it from stdin), queue it and start it.

    Prints the task id. With --follow, exits 0 when the task completes and 1 when it fails or
    is cancelled.
    """
    if prompt == "-":
        prompt = sys.stdin.read()
    prompt = prompt.strip()
    if not prompt:
        raise click.UsageError("The prompt is empty.")
    if len(prompt) > DESCRIPTION_MAX:
        raise click.UsageError(f"The prompt has {len(prompt)} characters; the daemon accepts at most "
                               f"{DESCRIPTION_MAX}. Put long material in a file in the project's "
                               "working directory and refer to it.")
    body = {"title": prompt[:TITLE_MAX]}
    if len(prompt) > TITLE_MAX:
        body["description"] = prompt
    for key, value in (("projectId", project_id), ("modelId", model), ("assignedAgent", runtime)):
        if value:
            body[key] = value

    client = Client.from_context(ctx)
    task = client.post("/api/tasks", json=body)
    task_id = task["id"]
    click.echo(task_id)
    client.patch(f"/api/tasks/{task_id}", json={"status": "queued"})
    click.echo("queued…", err=True)
    try:
        client.post(f"/api/tasks/{task_id}/execute")
    except CliError as exc:
        raise CliError(f"Task {short_id(task_id)} could not start: {exc.message}") from None
    if not follow:
        click.echo(f"started; follow it with: stagent logs {task_id} --follow", err=True)
        return

    printer = LogPrinter()
    try:
        stream_task_log(client, task_id, printer, follow=True, live=True)
    except KeyboardInterrupt:
        printer.end_line()
        click.echo(f"Stopped following; the task keeps running. Resume with: stagent logs {task_id} --follow",
                   err=True)
        ctx.exit(130)
    final = client.get(f"/api/tasks/{task_id}")
    status, result = final["status"], final.get("result")
    if status == "completed":
        if result and result.strip() != printer.final_text.strip():
            click.echo(f"\nResult:\n{result}")
        click.echo(f"completed (task {task_id})", err=True)
        return
    detail = f": {result}" if result and result != printer.last_error else ""
    click.echo(f"{status}{detail} (task {task_id})", err=True)
    ctx.exit(1)
