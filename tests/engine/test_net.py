"""check_fetch_url: which addresses the daemon fetches on a user's behalf. Literals only, so no
lookup and no connection leaves the machine."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from stagent.engine.net import RefusedURL, check_fetch_url, refusal


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.20",
                                     "fc00::1", "fd12:3456::1", "100.64.0.1", "93.184.216.34", "2606:4700::1111"])
def test_loopback_private_and_public_addresses_may_be_fetched(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address, words", [
    ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"), ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"), ("::ffff:169.254.169.254", "link-local"),
    ("fd00:ec2::254", "cloud metadata"), ("100.100.100.200", "cloud metadata"), ("168.63.129.16", "cloud metadata"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
])
def test_link_local_metadata_multicast_and_unspecified_addresses_are_refused(address, words):
    assert words in refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x.yaml", "https://[::1]/x", "http://10.1.2.3/x",
                                 "http://localhost/x"])
def test_allowed_urls_pass(url):
    asyncio.run(check_fetch_url(url))


@pytest.mark.parametrize("url, words", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("ftp://127.0.0.1/x", "only http(s)"),
    ("http:///x", "only http(s)"),
    ("http://127.0.0.1:port/x", "malformed"),
    ("http://[::1/x", "malformed"),
])
def test_refused_urls_say_why(url, words):
    with pytest.raises(RefusedURL, match=None) as refused:
        asyncio.run(check_fetch_url(url))
    assert words in str(refused.value)
