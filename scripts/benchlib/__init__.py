"""The sections and helper processes of scripts/bench.py (the entry point; see docs/benchmarks.md).

    common      paths, core pinning, percentiles, formatting, the event loop
    probes      /proc probes (RSS, CPU time, mapped libraries), CPU used by other processes, versions
    httpclient  a minimal blocking HTTP/1.1 client (seeding, health polls)
    processes   spawning and stopping child processes, reading their lines, helper command lines
    session     the state one run shares: temp dir, children, results, waiting for a quiet machine
    daemon      a real `stagent serve` subprocess and its litellm warm-up
    api         1.  API throughput (wrk or the `_loadgen` role) vs the bare Starlette `_bare_api` role
    ingest      2a. log ingestion (the `_ingest` role) vs raw sqlite3
    sse         2b. SSE fan-out, driving the `_sse_server` role (sse_server) and `_sse_clients` role (sse_clients)
    cold        3.  cold start and memory

Imports from the standard library only at module level: stagent, uvicorn and starlette are imported
inside the helper roles that need them.
"""
