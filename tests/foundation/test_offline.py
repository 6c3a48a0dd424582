"""Offline switches and the egress guard. No packet may leave: the real connect/lookup are recorders."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import enclave.offline as offline
from enclave.errors import EgressBlocked
from enclave.offline import OFFLINE_ENV, EgressGuard, install_guard


class Recorder:
    """Stands in for the real socket functions: records what the guard let through, sends nothing."""

    def __init__(self) -> None:
        self.connects: list[object] = []
        self.lookups: list[object] = []
        self.datagrams: list[object] = []

    def attach(self, guard: EgressGuard, resolve: dict[str, str] | None = None) -> EgressGuard:
        resolve = resolve or {}
        guard.real_connect = lambda sock, address: self.connects.append(address)
        guard.real_connect_ex = lambda sock, address: self.connects.append(address) or 0
        guard.real_sendto = lambda sock, *args: self.datagrams.append(args[-1]) or len(args[0])

        def getaddrinfo(host, port, *args, **kwargs):
            self.lookups.append(host)
            ip = resolve.get(host, host)
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (ip, port))]

        guard.real_getaddrinfo = getaddrinfo
        return guard


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    active = offline.active_guard()
    if active is not None:
        active.uninstall()


@pytest.fixture
def guard(recorder):
    g = recorder.attach(EgressGuard(["engine.internal", "10.20.30.40"]), {"engine.internal": "10.9.8.7"})
    g.install()
    return g


def test_offline_switches_are_set_on_import():
    code = "import os, enclave; print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'])"
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["HF_HUB_OFFLINE"] = "0"  # a caller's opposite setting is overridden
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_offline_switches_cover_hub_and_telemetry():
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        assert os.environ[key] == "1"


def test_external_ip_is_refused_before_connect(guard, recorder):
    with socket.socket() as sock, pytest.raises(EgressBlocked, match=r"203\.0\.113\.9:443") as err:
        sock.connect(("203.0.113.9", 443))
    assert "[egress] allow" in (err.value.hint or "")
    with socket.socket() as sock, pytest.raises(EgressBlocked):
        sock.connect_ex(("8.8.8.8", 53))
    assert recorder.connects == []


def test_dns_name_is_refused_without_a_lookup(guard, recorder):
    with pytest.raises(EgressBlocked, match=r"huggingface\.co"):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(EgressBlocked):
        socket.create_connection(("telemetry.example.com", 443), timeout=1)
    assert recorder.lookups == [] and recorder.connects == []


def test_loopback_is_allowed(guard, recorder):
    for host in ("127.0.0.1", "127.8.9.10"):
        with socket.socket() as sock:
            sock.connect((host, 8000))
    with socket.socket(socket.AF_INET6) as sock:
        sock.connect(("::1", 8000, 0, 0))
    socket.getaddrinfo("localhost", 8000)
    assert [a[0] for a in recorder.connects] == ["127.0.0.1", "127.8.9.10", "::1"]
    assert recorder.lookups == ["localhost"]


def test_configured_engine_host_is_allowed_by_name_and_resolved_address(guard, recorder):
    infos = socket.getaddrinfo("engine.internal", 8000)
    with socket.socket() as sock:
        sock.connect(infos[0][4])  # the address the allowed name resolved to
    with socket.socket() as sock:
        sock.connect(("10.20.30.40", 8000))  # an allowed literal
    with socket.socket() as sock, pytest.raises(EgressBlocked):
        sock.connect(("10.9.8.6", 8000))  # its neighbour is not
    assert recorder.connects == [("10.9.8.7", 8000), ("10.20.30.40", 8000)]


def test_unconnected_udp_is_guarded(guard, recorder):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(EgressBlocked):
            sock.sendto(b"dns query", ("1.1.1.1", 53))
        sock.sendto(b"local", 0, ("127.0.0.1", 9))
    assert recorder.datagrams == [("127.0.0.1", 9)]


def test_unix_sockets_are_local(guard, recorder, tmp_path):
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
    assert recorder.connects == [path]


def test_httpx_to_an_external_host_is_blocked(guard, recorder):
    with pytest.raises(EgressBlocked):
        httpx.get("https://pypi.org/simple/", timeout=1, trust_env=False)
    with pytest.raises(EgressBlocked):
        httpx.get("http://192.0.2.1/", timeout=1, trust_env=False)
    assert recorder.connects == []
    assert recorder.lookups == ["192.0.2.1"]  # an address literal is "resolved" locally, no DNS query


def test_install_and_uninstall_restore_the_socket_module(recorder):
    original = (socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, socket.getaddrinfo)
    guard = install_guard(["a.internal"])
    assert offline.active_guard() is guard and guard.installed
    assert install_guard(["b.internal"]) is guard  # extends, never replaces
    assert {"a.internal", "b.internal"} <= guard.allowed_hosts
    guard.uninstall()
    assert offline.active_guard() is None
    assert (socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, socket.getaddrinfo) == original


def test_real_loopback_connection_works_through_the_guard(recorder):
    """With the real connect underneath, loopback traffic still flows."""
    guard = EgressGuard()
    guard.install()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"


@given(st.ip_addresses())
def test_no_non_loopback_address_is_ever_let_through(address):
    """Property: for any IPv4/IPv6 address, the guard connects iff it is loopback."""
    recorder = Recorder()
    guard = recorder.attach(EgressGuard())
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sockaddr = (str(address), 443) if family == socket.AF_INET else (str(address), 443, 0, 0)
    sock = socket.socket(family)
    try:
        if address.is_loopback:
            guard._connect(sock, sockaddr)
            assert recorder.connects == [sockaddr]
        else:
            with pytest.raises(EgressBlocked):
                guard._connect(sock, sockaddr)
            assert recorder.connects == []
    finally:
        sock.close()


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){1,3}", fullmatch=True))
def test_no_unlisted_name_is_ever_resolved(name):
    recorder = Recorder()
    guard = recorder.attach(EgressGuard(["engine.internal"]))
    if name in {"engine.internal", "localhost.localdomain"}:
        return
    with pytest.raises(EgressBlocked):
        guard._getaddrinfo(name, 443)
    assert recorder.lookups == []


def test_ipv4_mapped_loopback_fails_closed():
    """``::ffff:127.0.0.1`` is not treated as loopback by the guard: refused rather than guessed."""
    recorder = Recorder()
    guard = recorder.attach(EgressGuard())
    assert not ipaddress.ip_address("::ffff:203.0.113.1").is_loopback
    with pytest.raises(EgressBlocked):
        guard.check_address(socket.AF_INET6, ("::ffff:203.0.113.1", 443, 0, 0))
