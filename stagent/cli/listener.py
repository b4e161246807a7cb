"""The daemon's listening socket and its HTTP protocol, for `stagent serve`.

- The socket is bound before anything says "listening": a busy port is a clear error at once,
  not a log line after the banner.
- A connection is closed when its next request head has not arrived within the idle timeout:
  a fresh connection that never sends anything, one that sends its headers a byte at a time,
  and an idle keep-alive connection alike. uvicorn's `timeout_keep_alive` covers only the last
  (its timer starts after a response and stops at the first byte of the next request).
"""

from __future__ import annotations

import errno
import socket

DEFAULT_IDLE_TIMEOUT = 10.0  # seconds a connection may wait before its next request head is in


class ListenError(Exception):
    """The address cannot be listened on; the message says why, in one line."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or ListenError (port in use, no such address)."""
    where = f"{host}:{port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {exc.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # REUSEADDR: a restart may bind while old connections linger in TIME_WAIT; on Linux and
        # macOS it never lets two listeners share a port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} on {host} is already in use (is another stagent running? "
                              "choose another with --port)") from None
        raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class _ClosesIdleConnections:
    """Mixed into uvicorn's HTTP protocol: the idle timer runs whenever no request is in flight
    and stops only when a complete request head has been parsed (a new cycle exists)."""

    idle_timeout = DEFAULT_IDLE_TIMEOUT
    _idle_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_idle_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_idle_timer()

    def connection_lost(self, exc) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def _arm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self.loop.call_later(self.idle_timeout, self._close_if_idle, self.cycle)

    def _close_if_idle(self, cycle_when_armed) -> None:
        self._idle_timer = None
        no_new_request = self.cycle is cycle_when_armed
        in_flight = self.cycle is not None and not self.cycle.response_complete
        if no_new_request and not in_flight and not self.transport.is_closing():
            self.transport.close()


def http_protocol(idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> type:
    """uvicorn's HTTP protocol class (httptools when installed, else h11) with the idle timer."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # uvicorn without the [standard] extras
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    return type("StagentHttpProtocol", (_ClosesIdleConnections, base), {"idle_timeout": idle_timeout})
