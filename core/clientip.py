"""The client's address, as far as the deployment's reverse proxies can vouch for it (settings.TRUSTED_PROXY_COUNT).
Rate limits, lockouts and the records of attempts and redemptions use it."""

import ipaddress

from django.conf import settings


def client_ip(meta) -> str:
    """The client's address from the request's META: REMOTE_ADDR, or behind settings.TRUSTED_PROXY_COUNT proxies
    that each append the address they saw to X-Forwarded-For, the entry the outermost trusted proxy added.
    Entries further left were written by the client and prove nothing; a header with fewer entries than trusted
    proxies (a request that did not come through them all) or an entry that is no address gives REMOTE_ADDR;
    "" when there is no address at all."""
    remote = _address(meta.get("REMOTE_ADDR") or "")  # empty on a Unix socket
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [entry.strip() for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return remote
    return _address(forwarded[-proxies]) or remote


def _address(text: str) -> str:
    """The address in its canonical form, or "" for anything else."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def ip_subject(ip: str | None) -> str | None:
    """The address as limits count it: an IPv6 client holds a whole /64, so it counts as one."""
    if not ip:
        return None
    if ":" not in ip:
        return ip
    try:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    except ValueError:
        return ip
