"""The shell tool family: `run_command` runs one shell command in the task's working directory.

A command runs under bash (`sh` where there is none) in its own session, so its process group
holds everything it starts. Its output is read as it comes: each stream is decoded
incrementally, streamed into the task's live log as `command_output` lines (coalesced, at most
one line per stream every FLUSH_SECONDS, and at most LOG_LIMIT characters per command), and
kept for the tool's result, which holds the first and the last RESULT_HALF characters.

Invariants:
- nothing a command starts outlives it: when its shell exits, when it times out (default 2
  minutes, at most 10) and when its run is cancelled (a cancelled task, daemon shutdown), the
  whole process group is killed with SIGKILL, and so is every process that left the group
  (`setsid`, a double fork), found by the marker in its environment (proctree.py);
- its environment never holds a secret the daemon knows: variables named like a credential
  (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, the providers' names) are dropped, and so is any
  variable whose value contains a stored provider key, another secret setting or the daemon's
  own API key; those values are also masked in what it prints, before the log or the model
  sees it;
- a failure (no working directory, a timeout) is a ToolError the model reads; a command that
  exits non-zero is an ordinary result that says its exit code.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from ...store import settings
from . import proctree
from .tools import WORKDIR, ToolError, in_data_folder, text_arg, tool

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
MAX_COMMAND = 100_000           # characters
RESULT_HALF = 15_000            # characters of the result's head, and of its tail
LOG_LIMIT = 1_000_000           # characters of one command's output streamed into the log
FLUSH_SECONDS = 0.05            # a log line per stream at most this often...
FLUSH_CHARS = 16_000            # ...unless this much is waiting
READ_SIZE = 65_536
DRAIN_SECONDS = 2.0             # output still buffered after the group was killed

SHELL = shutil.which("bash") or "/bin/sh"

# Credentials by name: the providers' own variables and anything named like a key or token.
SECRET_NAMES = frozenset({
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "STAGENT_API_KEY", "EXA_API_KEY", "AZURE_API_KEY",
    "AZURE_OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY",
    "COHERE_API_KEY", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY", "XAI_API_KEY", "TOGETHER_API_KEY",
    "HF_TOKEN", "HUGGINGFACE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS", "VERTEXAI_CREDENTIALS",
    *(s.env for s in settings.REGISTRY.values() if s.secret and s.env),
})
SECRET_SUFFIXES = ("_API_KEY", "_APIKEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")
# A command runs unattended: nothing may wait for a pager or a password prompt.
QUIET_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}
MIN_SECRET = 8  # shorter values would match ordinary text


async def known_secrets(db) -> set[str]:
    """Every secret the daemon holds that a command must not see: the secret settings (provider
    keys, the Exa key; stored or from the environment) and the daemon's own API key."""
    keys = [s.key for s in settings.REGISTRY.values() if s.secret]
    found = {value for value, source in (await settings.resolve_many(db, keys)).values() if source != "default"}
    # The daemon's key lives next to its database (Config.api_key_path = <data dir>/api-key).
    with contextlib.suppress(OSError, AttributeError, UnicodeDecodeError):
        found.add((Path(db.path).parent / "api-key").read_text().strip())
    return {value for value in found if value and len(value) >= MIN_SECRET}


def scrubbed_env(environ: dict[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """`environ` without credentials: by name, and by value (any value holding a known secret)."""
    secrets = tuple(secrets)
    env = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper in SECRET_NAMES or upper.endswith(SECRET_SUFFIXES):
            continue
        if any(secret in value for secret in secrets):
            continue
        env[name] = value
    env.update(QUIET_ENV)
    return env


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


class Capture:
    """What the result keeps of the output, in arrival order: the first and the last `half`
    characters, and how many were left out between them."""

    def __init__(self, half: int = RESULT_HALF) -> None:
        self.half = half
        self.head: list[str] = []
        self.head_len = 0
        self.tail: deque[str] = deque()
        self.tail_len = 0
        self.omitted = 0

    def add(self, text: str) -> None:
        if self.head_len < self.half:
            take = text[:self.half - self.head_len]
            self.head.append(take)
            self.head_len += len(take)
            text = text[len(take):]
        if not text:
            return
        self.tail.append(text)
        self.tail_len += len(text)
        while self.tail_len > self.half:  # drop from the left what no longer fits
            excess = self.tail_len - self.half
            first = self.tail[0]
            if len(first) <= excess:
                self.tail.popleft()
                self.tail_len -= len(first)
                self.omitted += len(first)
            else:
                self.tail[0] = first[excess:]
                self.tail_len -= excess
                self.omitted += excess

    def text(self) -> str:
        head, tail = "".join(self.head), "".join(self.tail)
        if self.omitted:
            return f"{head}\n\n[... {self.omitted:,} characters of output omitted ...]\n\n{tail}"
        return head + tail


class LogStream:
    """One stream's output into the live log: coalesced into a line per FLUSH_SECONDS (or
    FLUSH_CHARS), secrets masked, at most `limit` characters per command (shared by both
    streams through `budget`)."""

    def __init__(self, name: str, log: Callable[[str, dict], None], secrets: tuple[str, ...],
                 budget: list[int], limit: int) -> None:
        self.name, self.log, self.secrets, self.budget, self.limit = name, log, secrets, budget, limit
        self.pending: list[str] = []
        self.size = 0
        self.timer: asyncio.TimerHandle | None = None

    def feed(self, text: str) -> None:
        self.pending.append(text)
        self.size += len(text)
        if self.size >= FLUSH_CHARS:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.pending:
            return
        text, self.pending, self.size = "".join(self.pending), [], 0
        left = self.budget[0]
        if left <= 0:
            return
        payload = {"stream": self.name, "text": mask(text[:left], self.secrets)}
        self.budget[0] = left - len(text)
        if self.budget[0] <= 0:
            payload["truncated"] = True
            payload["text"] += f"\n[stagent: the log shows the first {self.limit:,} characters of this command's output]\n"
        self.log("command_output", payload)


async def _pump(stream: asyncio.StreamReader, capture: Capture, log: LogStream | None) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        chunk = await stream.read(READ_SIZE)
        text = decoder.decode(chunk, final=not chunk)
        if text:
            capture.add(text)
            if log is not None:
                log.feed(text)
        if not chunk:
            return


async def run_shell(command: str, cwd: Path, env: dict[str, str], timeout: float,
                    log: Callable[[str, dict], None] | None = None, secrets: tuple[str, ...] = (),
                    log_limit: int = LOG_LIMIT) -> tuple[int | None, str]:
    """Run `command`; (exit status, output) where the status is None when it timed out.
    Cancelling the caller kills the command's whole process group, then re-raises."""
    name, marker = proctree.new_marker()
    proc = await asyncio.create_subprocess_exec(
        SHELL, "-c", command, cwd=str(cwd), env={**env, name: marker}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    since = proctree.start_time(proc.pid)  # nothing older is the command's
    capture = Capture()
    budget = [log_limit]
    streams = {name: LogStream(name, log, secrets, budget, log_limit) if log is not None else None
               for name in ("stdout", "stderr")}
    pumps = [asyncio.ensure_future(_pump(proc.stdout, capture, streams["stdout"])),
             asyncio.ensure_future(_pump(proc.stderr, capture, streams["stderr"]))]
    status: int | None = None
    try:
        ended = False
        try:
            async with asyncio.timeout(timeout):
                await proctree.wait_exit(proc)
                ended = True
        except TimeoutError:
            pass
        # Done or timed out: whatever it started in the background goes with it (and lets go
        # of the pipes, so the readers reach the end of the output).
        await asyncio.to_thread(proctree.kill_tree, marker, None if ended else proc.pid, proc.pid, since)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):  # also waits for the pipes to close
                await proc.wait()
        if ended:
            status = proc.returncode
        await asyncio.wait(pumps, timeout=DRAIN_SECONDS)
    except BaseException:  # cancelled: the task was cancelled, or the daemon is stopping
        proctree.kill_group(proc.pid)
        # finishes in its thread even if this wait is cancelled again
        await asyncio.shield(asyncio.to_thread(proctree.kill_tree, marker, None, proc.pid, since))
        raise
    finally:
        for pump in pumps:
            pump.cancel()
        for stream in streams.values():
            if stream is not None:
                stream.flush()
    return status, mask(capture.text(), secrets)


def _timeout(args: dict) -> float:
    raw = args.get("timeout_seconds")
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ToolError("'timeout_seconds' must be a number of seconds")
    try:
        value = float(raw)
    except ValueError:
        raise ToolError("'timeout_seconds' must be a number of seconds") from None
    if value != value:  # NaN
        raise ToolError("'timeout_seconds' must be a number of seconds")
    return min(max(value, 1.0), MAX_TIMEOUT)


def _working_dir(ctx) -> Path:
    folder = getattr(ctx, "working_dir", None)
    if folder is None:
        raise ToolError("this task's project has no working directory, so there is nowhere to run "
                        "commands; set the project's working directory")
    if not folder.is_absolute():
        raise ToolError("this task's project has a relative working directory; set an absolute folder")
    if not folder.is_dir():
        raise ToolError(f"the working directory {folder} does not exist")
    if in_data_folder(ctx, folder.resolve()):
        raise ToolError(f"the working directory {folder} is inside stagent's own data folder (its database "
                        "and API key); commands never run there")
    return folder


def describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"killed by signal {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit code {status}"


@tool("run_command",
      "Run a shell command (bash -c) in the project's working directory and return its exit code "
      "and output (stdout and stderr, as they came; long output keeps its beginning and end). "
      f"It is killed, with everything it started, after timeout_seconds (default {DEFAULT_TIMEOUT:g}, "
      f"at most {MAX_TIMEOUT:g}); background processes do not outlive it. stdin is empty: use "
      "non-interactive flags.",
      {"command": {"type": "string", "description": "The command line, run by bash -c"},
       "timeout_seconds": {"type": "number", "minimum": 1, "maximum": MAX_TIMEOUT,
                           "description": f"Seconds before it is killed (default {DEFAULT_TIMEOUT:g})"}},
      ("command",), sets=WORKDIR)
async def run_command(ctx, args: dict) -> str:
    command = text_arg(args, "command", required=True)
    if len(command) > MAX_COMMAND:
        raise ToolError(f"the command is longer than {MAX_COMMAND:,} characters; write a script file instead")
    timeout = _timeout(args)
    cwd = _working_dir(ctx)
    secrets = tuple(sorted(await known_secrets(ctx.db), key=len, reverse=True))
    env = scrubbed_env(dict(os.environ), secrets)
    try:
        status, output = await run_shell(command, cwd, env, timeout, getattr(ctx, "log", None), secrets)
    except (FileNotFoundError, PermissionError) as exc:  # the shell itself, or the folder went away
        raise ToolError(f"could not start the command: {exc}") from None
    if status is None:
        raise ToolError(f"the command timed out after {timeout:g} s and was killed with everything it "
                        f"started; its output until then:\n{output or '(no output)'}")
    return f"{describe_status(status)}\n{output}" if output else f"{describe_status(status)} (no output)"

