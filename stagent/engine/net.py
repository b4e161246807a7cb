"""Which URLs the daemon fetches on a user's behalf (blueprint imports; profile imports and the
`web_fetch` tool next).

The user names the URL, so loopback and private addresses stay allowed (a local server, a NAS, the
tests' loopback servers). What is refused is what no user means to import from and what a
crafted URL or redirect uses to reach the machine's own secrets: link-local addresses (cloud
metadata at 169.254.169.254, fe80::/10), multicast, unspecified and reserved addresses, and the
cloud metadata addresses that are not link-local. Every address the host resolves to is checked,
so a name pointing at a metadata address is refused too; callers check every redirect's target.
A caller that makes the connection itself (web_fetch) connects to a checked address
(`pinned_url`), so a name that resolves differently a moment later (DNS rebinding) cannot
lead it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata services outside the link-local ranges.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "fd00:ec2::254",    # AWS IMDS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",    # Azure WireServer
))
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # 0.x.y.z connects to this host on Linux


class RefusedURL(ValueError):
    """A URL the daemon will not fetch; the message says why, as a clause ("… is link-local")."""


def refusal(address: IPAddress) -> str | None:
    """Why the daemon does not connect to this address, or None when it may."""
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:169.254.169.254 is 169.254.169.254
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_unspecified or (address.version == 4 and address in THIS_NETWORK):
        return f"{address} is an unspecified address"
    if address.is_reserved and not address.is_loopback:  # ::1 lies in IPv6's reserved ::/8
        return f"{address} is a reserved address"
    return None


async def check_fetch_url(url: str) -> list[IPAddress]:
    """Raise RefusedURL unless `url` is http(s) with a host whose every address may be fetched.
    An IP literal is checked without any lookup; a name is resolved (no connection is made).
    Returns the checked addresses (resolver order, no duplicates): a caller that connects
    itself connects to one of these (pinned_url), so a second lookup cannot answer otherwise."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, a bracket left open
        raise RefusedURL(f"the URL is malformed ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise RefusedURL("only http(s) URLs with a host are fetched")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise RefusedURL(f"the host {host} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            where = "" if literal is not None else f"{host} resolves to {address}: "
            raise RefusedURL(f"{where}{reason}; such addresses are never fetched")
    return list(dict.fromkeys(addresses))


def pinned_url(url: str, address: IPAddress) -> tuple[str, str, str]:
    """(the URL with its host replaced by `address`, the Host header the original URL means,
    the host name TLS must present and verify (SNI)). Connecting to the pinned URL with that
    Host header and SNI is the same request, made to the address that was checked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = literal + (f":{parts.port}" if parts.port is not None else "")
    return (parts._replace(netloc=(userinfo + "@" if userinfo else "") + pinned).geturl(),
            hostport, parts.hostname or "")


async def read_capped(response, cap: int, failed) -> bytes:
    """An httpx streamed response's body, decoded from gzip if the server sent that anyway, never
    more than `cap` bytes (a few KB of gzip can stand for gigabytes: never decode past the cap).
    `failed(reason)` builds the caller's exception."""
    too_large = f"larger than {cap // 1024} KB"
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise failed(too_large)
    encoding = response.headers.get("content-encoding", "").strip().lower() or "identity"
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise failed(f"the answer is compressed with {encoding}, which is not supported")
    gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += gunzip.decompress(chunk, cap + 1 - len(body)) if gunzip else chunk
            if len(body) > cap:
                raise failed(too_large)
    except zlib.error as exc:
        raise failed(f"the gzip data is corrupt ({exc})") from None
    if gunzip is not None and not gunzip.eof:
        raise failed("the gzip data ends early")
    return bytes(body)
