"""Start-up stays light: litellm (3-6 s, ~170 MB) is never imported before the daemon answers."""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter runs the `stagent serve` code path on a free port, answers a few requests
# (stdlib urllib as the client) and reports which heavy modules it had imported by then.
PROBE = """
import json, socket, sys, threading, time, urllib.request
from pathlib import Path
import uvicorn
import stagent.cli.serve
from stagent.app import create_app
from stagent.config import Config

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
app = create_app(Config(port=port, data_dir=Path(sys.argv[1]), warm_llm=False))
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.01)
base = f"http://127.0.0.1:{port}"
assert json.load(urllib.request.urlopen(base + "/api/health"))["status"] == "ok"
request = urllib.request.Request(base + "/api/projects", data=b'{"name": "p"}', method="POST")
assert urllib.request.urlopen(request).status == 201
print(",".join(m for m in ("litellm", "openai", "tiktoken", "httpx") if m in sys.modules))
server.should_exit = True
"""


def test_daemon_answers_without_importing_litellm_or_httpx(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "data")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""  # none of the heavy modules
