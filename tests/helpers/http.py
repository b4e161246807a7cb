"""httpx clients for the tests, sharing one TLS context.

httpx builds a TLS context from the whole certifi bundle for every Client (and for every
module-level `httpx.get`): tens of milliseconds each, and the suite makes one or more per test.
The tests speak plain HTTP to loopback; the shared context is httpx's default all the same."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def http_client(**kwargs) -> httpx.Client:
    return httpx.Client(verify=tls_context(), **kwargs)
