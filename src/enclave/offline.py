"""Offline enforcement: hub switches at import, and an egress guard on outbound sockets.

Enclave runs on networks with no internet. Two controls keep it that way:

* ``set_offline_switches()`` sets the environment switches that make Hugging Face, transformers,
  sentence-transformers and friends stay off the network and send no telemetry. ``enclave``'s
  ``__init__`` calls it, so it is in force before any of those libraries is imported.
* ``EgressGuard`` wraps ``socket.socket.connect``/``connect_ex``/``sendto`` and ``socket.getaddrinfo``
  so that any connection (or unconnected datagram) to an address other than loopback or a configured
  engine/store host raises ``EgressBlocked`` *before* a packet is sent (a DNS lookup of a forbidden
  name is refused too).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from enclave.errors import EgressBlocked

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "SENTENCE_TRANSFORMERS_HOME": os.environ.get("SENTENCE_TRANSFORMERS_HOME", "/nonexistent-enclave-offline"),
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline_switches() -> None:
    """Force every hub library we might import into offline mode (overrides the environment)."""
    for key, value in OFFLINE_ENV.items():
        if key == "SENTENCE_TRANSFORMERS_HOME":
            os.environ.setdefault(key, value)
        else:
            os.environ[key] = value


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class EgressGuard:
    """Refuses outbound connections except to loopback and explicitly allowed hosts.

    ``real_connect``/``real_connect_ex``/``real_getaddrinfo`` are the functions the guard delegates
    to once a destination is allowed; tests replace them with recorders so that no packet ever leaves.
    """

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self.allowed_hosts: set[str] = {h.lower() for h in allowed_hosts if h}
        self.allowed_ips: set[str] = {h for h in self.allowed_hosts if _is_ip_literal(h)}
        self.installed = False
        # The unpatched functions, even if another guard is installed while this one is built.
        self.real_connect: Callable[..., Any] = _ORIGINAL_CONNECT
        self.real_connect_ex: Callable[..., Any] = _ORIGINAL_CONNECT_EX
        self.real_getaddrinfo: Callable[..., Any] = _ORIGINAL_GETADDRINFO
        self.real_sendto: Callable[..., Any] = _ORIGINAL_SENDTO

    # -- decisions ---------------------------------------------------------------------------
    def allow(self, host: str) -> None:
        """Add a host name or address (e.g. a configured engine's) to the allow-list."""
        with self._lock:
            self.allowed_hosts.add(host.lower())
            if _is_ip_literal(host):
                self.allowed_ips.add(host)

    def host_allowed(self, host: str) -> bool:
        host = host.lower().strip("[]")
        return _is_loopback(host) or host in self.allowed_hosts or host.split("%", 1)[0] in self.allowed_ips

    def check_address(self, family: int, address: Any) -> None:
        """Raise ``EgressBlocked`` unless ``address`` (a socket address) may be connected to."""
        if family == getattr(socket, "AF_UNIX", object()) or isinstance(address, (str, bytes)):
            return  # local IPC, never leaves the machine
        host = str(address[0])
        if not self.host_allowed(host):
            raise EgressBlocked(
                f"outbound connection to {host}:{address[1]} refused by Enclave's egress guard",
                hint="Enclave only talks to loopback and configured engines/stores; add the host "
                "to [egress] allow in enclave.toml if it is an approved engine or store.",
            )

    # -- the patched functions -----------------------------------------------------------------
    def _connect(self, sock: socket.socket, address: Any) -> Any:
        self.check_address(sock.family, address)
        return self.real_connect(sock, address)

    def _connect_ex(self, sock: socket.socket, address: Any) -> Any:
        self.check_address(sock.family, address)
        return self.real_connect_ex(sock, address)

    def _sendto(self, sock: socket.socket, *args: Any) -> Any:
        # sendto(data, address) or sendto(data, flags, address): UDP needs no connect() to leave.
        self.check_address(sock.family, args[-1])
        return self.real_sendto(sock, *args)

    def _getaddrinfo(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or self.host_allowed(str(name)) or _is_ip_literal(str(name)):
            results = self.real_getaddrinfo(host, *args, **kwargs)
            if name is not None and str(name).lower() in self.allowed_hosts:
                with self._lock:
                    self.allowed_ips.update(str(r[4][0]) for r in results)
            return results
        raise EgressBlocked(
            f"name lookup of {name!r} refused by Enclave's egress guard",
            hint="Enclave resolves only loopback and configured engine/store hosts; add the host "
            "to [egress] allow in enclave.toml if it is approved.",
        )

    def install(self) -> None:
        """Patch the socket module. Idempotent."""
        global _ACTIVE
        if self.installed:
            return
        if _ACTIVE is not None and _ACTIVE is not self:
            _ACTIVE.uninstall()
        guard = self
        socket.socket.connect = lambda s, a: guard._connect(s, a)  # type: ignore[method-assign]
        socket.socket.connect_ex = lambda s, a: guard._connect_ex(s, a)  # type: ignore[method-assign]
        socket.socket.sendto = lambda s, *a: guard._sendto(s, *a)  # type: ignore[method-assign]
        socket.getaddrinfo = guard._getaddrinfo  # type: ignore[assignment]
        self.installed = True
        _ACTIVE = self

    def uninstall(self) -> None:
        global _ACTIVE
        if not self.installed:
            return
        socket.socket.connect = _ORIGINAL_CONNECT  # type: ignore[method-assign]
        socket.socket.connect_ex = _ORIGINAL_CONNECT_EX  # type: ignore[method-assign]
        socket.socket.sendto = _ORIGINAL_SENDTO  # type: ignore[method-assign]
        socket.getaddrinfo = _ORIGINAL_GETADDRINFO
        self.installed = False
        if _ACTIVE is self:
            _ACTIVE = None


_ORIGINAL_CONNECT = socket.socket.connect
_ORIGINAL_CONNECT_EX = socket.socket.connect_ex
_ORIGINAL_GETADDRINFO = socket.getaddrinfo
_ORIGINAL_SENDTO = socket.socket.sendto
_ACTIVE: EgressGuard | None = None


def active_guard() -> EgressGuard | None:
    """The guard currently installed in this process, if any (reported by ``enclave doctor``)."""
    return _ACTIVE


def install_guard(allowed_hosts: Iterable[str] = ()) -> EgressGuard:
    """Install (or extend) the process-wide egress guard."""
    guard = _ACTIVE or EgressGuard()
    for host in allowed_hosts:
        guard.allow(host)
    guard.install()
    return guard
