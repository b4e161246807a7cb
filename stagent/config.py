"""Daemon configuration: where it listens, where its data lives, its limits."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

DEFAULT_PORT = 3000
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def default_data_dir() -> Path:
    env = os.environ.get("STAGENT_DATA_DIR")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("stagent", appauthor=False))


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    max_body_bytes: int = 10 * 1024 * 1024
    sse_keepalive_seconds: float = 15.0
    # Extra Host names to serve besides loopback (only useful with --host on another interface).
    extra_allowed_hosts: tuple[str, ...] = ()
    warm_llm: bool = True
    scheduler: bool = True  # the bench and some tests drive fire_due() by hand instead
    llm_retry_base_delay: float = 0.5  # seconds before the first retry of a failed model call (then doubled)

    @classmethod
    def from_env(cls, **overrides) -> Config:
        values = {}
        if os.environ.get("STAGENT_PORT"):
            values["port"] = int(os.environ["STAGENT_PORT"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return cls(**values)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "stagent.db"

    @property
    def api_key_path(self) -> Path:
        return self.data_dir / "api-key"

    @property
    def loopback_only(self) -> bool:
        """Whether `host` is a loopback interface. Any other bind (0.0.0.0, a LAN address, a
        name) lets other machines connect, so the daemon then requires an API key."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def allowed_hosts(self) -> set[str]:
        hosts = set(LOOPBACK_HOSTS) | set(self.extra_allowed_hosts)
        if self.host not in ("0.0.0.0", "::", ""):
            hosts.add(self.host)
        return hosts

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
