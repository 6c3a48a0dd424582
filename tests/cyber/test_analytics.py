"""Rule-free analytics on generated traffic with known beacons and sprays, and negatives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from enclave.cyber.analytics import AnalyticsConfig, beacon_score, beaconing, password_spray, rare_processes
from enclave.cyber.parsers.base import iso_utc
from enclave.cyber.store import EventStore

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def _conn(src: str, dst: str, when: datetime, size: int, port: int = 443) -> dict:
    return {
        "_src": "conn.log",
        "_rec": "x",
        "_ts": iso_utc(when),
        "_product": "zeek",
        "_service": "conn",
        "_action": "conn",
        "_src_ip": src,
        "_dst_ip": dst,
        "_dst_port": port,
        "_bytes": size,
        "_host": src,
    }


def _logon(src: str, user: str, when: datetime, outcome: str) -> dict:
    return {
        "_src": "auth.log",
        "_rec": "x",
        "_ts": iso_utc(when),
        "_product": "linux",
        "_service": "auth",
        "_action": "logon",
        "_src_ip": src,
        "_user": user,
        "_outcome": outcome,
        "_host": "bastion",
    }


def _store(events: list[dict]) -> EventStore:
    store = EventStore()
    store.add(events)
    store.finish_loading()
    return store


def _traffic(seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    events = []
    # Beacon: every 60 s with 2 s jitter and near-constant size, for two hours
    for i in range(120):
        events.append(
            _conn(
                "10.0.0.66",
                "192.0.2.200",
                T0 + timedelta(seconds=60 * i + rng.uniform(-2, 2)),
                480 + rng.randint(-4, 4),
            )
        )
    # Slow beacon with more jitter: every 10 min +-30 s
    for i in range(30):
        events.append(_conn("10.0.0.67", "198.51.100.99", T0 + timedelta(seconds=600 * i + rng.uniform(-30, 30)), 1200))
    # Human browsing: bursty intervals, varied sizes, many destinations
    for host in range(20):
        t = T0
        for _ in range(80):
            t += timedelta(seconds=rng.expovariate(1 / 90))
            events.append(_conn(f"10.0.1.{host}", f"203.0.113.{rng.randint(1, 5)}", t, rng.randint(200, 90000)))
    return events


def test_beacon_score_is_high_for_regular_and_low_for_random():
    regular = beacon_score([60.0 * i for i in range(50)], [500.0] * 50)
    rng = random.Random(3)
    times, t = [], 0.0
    for _ in range(50):
        t += rng.expovariate(1 / 60)
        times.append(t)
    random_ = beacon_score(times, [float(rng.randint(100, 50000)) for _ in range(50)])
    assert regular["score"] > 0.95 and random_["score"] < 0.7


def test_beaconing_finds_exactly_the_planted_beacons():
    alerts = beaconing(_store(_traffic()), AnalyticsConfig())
    pairs = {(a.details["source"], a.details["destination"]) for a in alerts}
    assert pairs == {("10.0.0.66", "192.0.2.200"), ("10.0.0.67", "198.51.100.99")}
    fast = next(a for a in alerts if a.details["source"] == "10.0.0.66")
    assert 58 <= fast.details["interval_s"] <= 62 and fast.rule.author.startswith("Enclave")
    assert fast.evidence and fast.first_seen < fast.last_seen


def test_no_beacons_in_human_traffic_only():
    human = [e for e in _traffic(seed=9) if not e["_src_ip"].startswith("10.0.0.6")]
    assert beaconing(_store(human), AnalyticsConfig()) == []


def _spray_events() -> list[dict]:
    events = []
    # Spray: 25 accounts, one try each, from one source within 4 minutes, then a success
    for i in range(25):
        events.append(_logon("203.0.113.7", f"user{i}", T0 + timedelta(seconds=10 * i), "failure"))
    events.append(_logon("203.0.113.7", "user17", T0 + timedelta(seconds=300), "success"))
    # Brute force: one account, 15 failures in 2 minutes, no success
    for i in range(15):
        events.append(_logon("198.51.100.23", "admin", T0 + timedelta(seconds=8 * i), "failure"))
    # Normal users: a typo now and then, then success
    for i in range(30):
        when = T0 + timedelta(minutes=5 * i)
        events.append(_logon(f"10.0.2.{i}", f"staff{i}", when, "failure"))
        events.append(_logon(f"10.0.2.{i}", f"staff{i}", when + timedelta(seconds=20), "success"))
    return events


def test_password_spray_brute_force_and_success_after_failures():
    alerts = password_spray(_store(_spray_events()), AnalyticsConfig())
    by_rule = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule.id, []).append(alert)
    spray = by_rule["enclave-analytic-password-spray"]
    assert len(spray) == 1 and spray[0].details["source"] == "203.0.113.7" and spray[0].details["accounts"] == 25
    brute = by_rule["enclave-analytic-brute-force"]
    assert [(a.details["source"], a.details["account"]) for a in brute] == [("198.51.100.23", "admin")]
    success = by_rule["enclave-analytic-failures-then-success"]
    assert [(a.details["source"], a.details["account"]) for a in success] == [("203.0.113.7", "user17")]
    assert success[0].rule.level == "critical"


def test_spread_out_failures_are_not_a_spray():
    events = [_logon("203.0.113.8", f"user{i}", T0 + timedelta(hours=i), "failure") for i in range(25)]
    assert password_spray(_store(events), AnalyticsConfig()) == []


def test_rare_process_per_host():
    events = []
    for host in range(12):
        for image in ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe"):
            events.append(
                {
                    "_src": "s",
                    "_rec": "1",
                    "_ts": iso_utc(T0),
                    "_product": "windows",
                    "_action": "process",
                    "_host": f"ws{host}",
                    "_proc": image,
                }
            )
    events.append(
        {
            "_src": "s",
            "_rec": "2",
            "_ts": iso_utc(T0),
            "_product": "windows",
            "_action": "process",
            "_host": "ws3",
            "_proc": "C:\\Users\\Public\\x9.exe",
        }
    )
    alerts = rare_processes(_store(events), AnalyticsConfig())
    assert [(a.details["image"], a.host) for a in alerts] == [("c:\\users\\public\\x9.exe", "ws3")]
    # Too small an estate: no baseline, no alerts
    assert rare_processes(_store(events[:6] + events[-1:]), AnalyticsConfig()) == []
