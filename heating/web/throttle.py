"""Login limits per client address and for the whole system, and who the client is.

The per-user lockout lives in ``heating.users`` (in the database).  These two
limits stop spraying many user names from one address and slow down a
distributed guess; they are kept in the memory of each server process (a
multi-process deployment multiplies the per-address allowance by the number
of workers, which still bounds it).

- per address: more than ``login_address_limit`` failed logins within
  ``login_address_window_seconds`` → 429 with ``Retry-After`` until the oldest
  failure leaves the window.  A slot is taken before the password is checked
  and given back on success, so parallel requests cannot overshoot.
- global: more than ``login_global_limit`` failed logins in the last minute →
  every login is answered one second later.  It only delays; it never locks
  anyone out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from flask import Request

from heating.config import Config

GLOBAL_WINDOW = 60.0
GLOBAL_DELAY = 1.0


def client_address(request: Request, trusted_proxies: tuple[str, ...]) -> str:
    """The client's address: X-Forwarded-For's last untrusted hop, only behind a trusted proxy."""
    peer = request.remote_addr or ""
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    # Walk from the nearest hop back; the first address that is not one of our proxies is the client.
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop if _is_ip(hop) else peer
    return hops[0] if hops and _is_ip(hops[0]) else peer


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)


class LoginThrottle:
    """Failed-login windows per address and overall, safe across request threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def take(self, address: str, config: Config) -> tuple[float | None, int]:
        """Take a slot for one attempt from ``address``.

        Returns ``(slot, retry_after)``: ``slot`` is None and ``retry_after`` the
        seconds to wait when the address is over its limit.
        """
        limit = config.login_address_limit
        window = config.login_address_window_seconds
        now = self._clock()
        with self._lock:
            times = self._by_address.setdefault(address, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if limit and len(times) >= limit:
                return None, max(1, math.ceil(times[0] + window - now))
            times.append(now)
            self._forget_idle(now, window)
            return now, 0

    def succeeded(self, address: str, slot: float) -> None:
        """Give the slot back: the attempt was a successful login, not a failure."""
        with self._lock:
            times = self._by_address.get(address)
            if times is not None:
                with contextlib.suppress(ValueError):
                    times.remove(slot)

    def failed(self) -> None:
        """Count one failure toward the global rate."""
        now = self._clock()
        with self._lock:
            self._all.append(now)
            while self._all and self._all[0] <= now - GLOBAL_WINDOW:
                self._all.popleft()

    def global_delay(self, config: Config) -> float:
        """Seconds to wait before answering (0 unless the global rate is exceeded)."""
        limit = config.login_global_limit
        now = self._clock()
        with self._lock:
            while self._all and self._all[0] <= now - GLOBAL_WINDOW:
                self._all.popleft()
            return GLOBAL_DELAY if limit and len(self._all) >= limit else 0.0

    def _forget_idle(self, now: float, window: float) -> None:
        """Drop addresses whose failures have all left the window (bounded memory)."""
        if len(self._by_address) < 10_000:
            return
        for key in [k for k, v in self._by_address.items() if not v or v[-1] <= now - window]:
            del self._by_address[key]
