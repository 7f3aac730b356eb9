"""Image URLs fetched so that no URL (or DNS answer) can steer the engine into this machine's network.

Each hop of a download (the URL, then every redirect, ``max_redirects`` at most) goes through:

1. the contract's URL rule (``validation.check_image_url``): http or https, ports 80, 443, 10000-12000;
2. one resolution of the host name; every address it answers must be public (``is_public_address``)
   or the URL is refused. Refused: loopback in any spelling (``127.1``, ``2130706433``,
   ``0177.0.0.1``, ``0x7f.0.0.1`` all resolve to 127.0.0.1), ``0.0.0.0`` and ``::``, private,
   shared (100.64/10), link-local (169.254/16, fe80::/10), multicast, reserved and documentation
   ranges, and the IPv6 forms that embed an IPv4 address (``::ffff:a.b.c.d``, 6to4, Teredo,
   NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, ``::a.b.c.d``, ``::ffff:0:a.b.c.d``) or a
   site's own network (``fec0::/10``);
3. a connection to the checked address only, pinned: a urllib3 pool whose host is that IP, sending
   the URL's own Host header and using the host name for TLS SNI and the certificate check. The
   name is never resolved a second time, so an answer that changes between the check and the
   connection (DNS rebinding) is never used. Proxies from the environment are not used either:
   a proxy would resolve the name itself.

``allow_private_hosts`` (``serve --allow-private-urls``) lifts rule 2 for local use, never rule 3.
Bodies are read raw (``Accept-Encoding: identity``, no decompression), capped at MAX_IMAGE_BYTES,
against one deadline for the whole download: resolving the name, connecting, the TLS handshake, the
status line, the headers and the body of every hop. ``getaddrinfo`` cannot be interrupted, so names are
resolved on a small pool of resolver threads and the download waits for the answer only until its
deadline; a name server that never answers costs a resolver thread until the system resolver gives up,
and never more than ``RESOLVER_THREADS`` of them. A socket timeout alone cannot hold it (it restarts with every
byte a slow server trickles), so a timer shuts the sockets down at the deadline (``_Deadline``),
which wakes the blocked read; the download then answers -45060.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from facereco.contract import MAX_IMAGE_BYTES
from facereco.errors import ApiError, ImageTimeout, ImageTooLarge, InvalidImageURL
from facereco.validation import check_image_url

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 65_536
# Name lookups in flight at once, whatever the number of downloads: a slow name server holds these, not the server.
RESOLVER_THREADS = 4
_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="facereco-dns")


class _PlainUrllib3Lines(logging.Filter):
    """urllib3 warns about a malformed answer (headers it cannot parse) with the whole URL, query
    included, and a traceback; an image host writes those answers, and a URL can hold a token. Its
    warnings keep their first words only: no URL, no arguments, no traceback. Debug lines, which are
    asked for, stay whole (the client's transport redacts the appkey in them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        summary = str(record.msg).split(" (")[0].split(":")[0].split("%")[0].strip()
        record.msg, record.args = "%s (details withheld: they name the URL)", (summary or "urllib3 warning",)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


for _name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response"):
    logging.getLogger(_name).addFilter(_PlainUrllib3Lines())


@dataclass(frozen=True)
class UrlPolicy:
    """How image URLs are fetched. Non-public hosts are refused unless allowed."""

    allow_private_hosts: bool = False
    connect_timeout: float = 5.0
    total_timeout: float = 10.0
    max_redirects: int = 3
    ca_certs: str | None = None  # PEM bundle trusted for https; None: certifi's (as requests uses)


# IPv6 ranges that carry (or once carried) an IPv4 address or a site's own network, which
# ``is_global`` calls global on Python 3.11: NAT64 (well-known and local-use), IPv4-compatible,
# SIIT's IPv4-translated, and the deprecated site-local range.
_EMBEDDING_IPV6 = tuple(
    ipaddress.IPv6Network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96", "fec0::/10")
)


def is_public_address(address: IpAddress) -> bool:
    """Globally routable unicast, and no IPv6 form that smuggles an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None
        or address.sixtofour is not None
        or address.teredo is not None
        or any(address in network for network in _EMBEDDING_IPV6)
    ):
        return False
    return address.is_global and not address.is_multicast


def checked_address(host: str, port: int, policy: UrlPolicy, deadline: float | None = None) -> str:
    """The address to connect to: the host's first answer, once every answer passed the check.

    ``deadline`` (a ``time.monotonic()`` instant): waiting for the name server ends there, with -45060.
    """
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        infos = lookup.result(timeout=wait)
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    except concurrent.futures.TimeoutError:
        lookup.cancel()  # still queued behind slow lookups: never start it
        raise ImageTimeout(f"image.url host {host!r} did not resolve in time") from None
    except (OSError, UnicodeError, ValueError):
        raise InvalidImageURL(f"image.url host {host!r} does not resolve") from None
    if not addresses:
        raise InvalidImageURL(f"image.url host {host!r} does not resolve")
    if not policy.allow_private_hosts and not all(is_public_address(a) for a in addresses):
        raise InvalidImageURL(f"image.url host {host!r} is not a public address")
    return str(addresses[0])


def fetch_image_url(url: str, policy: UrlPolicy) -> bytes:
    """Download an image: allowed ports, public hosts, pinned connections, a deadline and a size cut-off."""
    with _Deadline(policy.total_timeout) as deadline:
        try:
            data = _follow(url, policy, deadline)
        except (ApiError, HTTPError, OSError):
            if deadline.expired:  # the failure is the shut-down socket: say what caused it
                raise ImageTimeout(f"image download took over {policy.total_timeout:g} s") from None
            raise
        if deadline.expired:  # a body without Content-Length ends quietly when its socket is shut
            raise ImageTimeout(f"image download took over {policy.total_timeout:g} s")
        return data


def _follow(url: str, policy: UrlPolicy, deadline: _Deadline) -> bytes:
    """The download itself, hop by hop, each hop's socket under ``deadline``."""
    for _ in range(policy.max_redirects + 1):
        parts = urlsplit(check_image_url(url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = checked_address(parts.hostname or "", port, policy, deadline.at)
        pool = _pinned_pool(parts, address, port, policy, deadline)
        try:
            response = _get(pool, parts, policy, deadline.at)
            try:
                location = response.headers.get("location")
                if response.status in REDIRECT_STATUSES and location:
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise InvalidImageURL(f"image.url answered HTTP {response.status}")
                return _read_capped(response, deadline.at, policy.total_timeout)
            finally:
                response.release_conn()
        finally:
            deadline.forget_sockets()  # before the pool closes them: never shut down a reused descriptor
            pool.close()
    raise InvalidImageURL(f"image.url redirected more than {policy.max_redirects} times")


class _Deadline:
    """One deadline for a whole download: at ``at`` every socket it watches is shut down.

    Shutting a socket down (not closing it: the reading thread still owns it) makes a read that is
    blocked in the kernel return at once, however slowly the server was trickling bytes.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        self.forget_sockets()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def forget_sockets(self) -> None:
        with self._lock:
            self._sockets.clear()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under any TLS layer


class _WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket is handed to a ``_Deadline`` as soon as it exists."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._deadline.watch(sock)  # before any TLS handshake, which a slow server can trickle too
        return sock


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _pinned_pool(
    parts: SplitResult, address: str, port: int, policy: UrlPolicy, deadline: _Deadline
) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to ``address``; for https, SNI and the certificate check use the host name."""
    if parts.scheme == "https":
        return _WatchedHTTPSPool(
            address,
            port,
            maxsize=1,
            retries=False,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=policy.ca_certs or certifi.where(),
            deadline=deadline,
        )
    return _WatchedHTTPPool(address, port, maxsize=1, retries=False, deadline=deadline)


def _get(
    pool: urllib3.HTTPConnectionPool, parts: SplitResult, policy: UrlPolicy, deadline: float
) -> urllib3.BaseHTTPResponse:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ImageTimeout(f"image download took over {policy.total_timeout:g} s")
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    headers = {
        "Host": f"{host}:{parts.port}" if parts.port else str(host),
        "User-Agent": "facereco-engine",
        "Accept-Encoding": "identity",
    }
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        return pool.urlopen(
            "GET",
            target,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(connect=min(policy.connect_timeout, remaining), read=remaining),
        )
    except NewConnectionError:  # refused or unroutable (urllib3 files it under timeouts)
        raise InvalidImageURL("image.url is unreachable (the connection failed)") from None
    except TimeoutError:
        raise ImageTimeout(f"image download took over {policy.total_timeout:g} s") from None
    except HTTPError as exc:
        raise InvalidImageURL(f"image.url is unreachable ({type(exc).__name__})") from None


def _read_capped(response: urllib3.BaseHTTPResponse, deadline: float, total_timeout: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"image is {int(declared):,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes")
    chunks, size = [], 0
    try:
        for chunk in response.stream(CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise ImageTooLarge(f"image is over {MAX_IMAGE_BYTES:,} bytes")
            if time.monotonic() > deadline:
                raise ImageTimeout(f"image download took over {total_timeout:g} s")
            chunks.append(chunk)
    except TimeoutError:
        raise ImageTimeout(f"image download took over {total_timeout:g} s") from None
    except HTTPError as exc:
        raise InvalidImageURL(f"image download failed ({type(exc).__name__})") from None
    return b"".join(chunks)
