"""Cyber detection benchmark: end-to-end events/s and peak memory with the SigmaHQ Windows rules.

    .venv/bin/python bench/cyber.py                   # 1,000,000 events (several minutes on 2 cores)
    .venv/bin/python bench/cyber.py --events 100000   # a quicker look

Prints, from one run on this machine:
  * the raw EVTX parse rate of the ``evtx`` package alone (records/s) -- the ceiling for EVTX input;
  * the parse + insert rate without rules (the baseline of the same pipeline);
  * end to end (parse + insert + every loaded Windows rule + analytics + incidents) events/s,
    with the rule-compilation time (cold, and from the compiled-rule cache) reported separately,
    and peak memory (max RSS) of that run; CPU seconds include the parsing process;
  * with --one-process, end to end again with parsing in the scan's own process (and whether
    both found exactly the same: a digest of hits, incidents and issues);
  * the regression_data conformance figures (share of rules loading / matching exactly).
Each measured phase runs in a fresh child process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIGMA = ROOT / ".." / "shared" / "sigma"
sys.path.insert(0, str(ROOT / "src"))


# -- corpus: events shaped like the regression samples ------------------------------------------

BENIGN_IMAGES = [
    r"C:\Windows\System32\svchost.exe",
    r"C:\Windows\System32\RuntimeBroker.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Windows\System32\backgroundTaskHost.exe",
    r"C:\Windows\System32\conhost.exe",
    r"C:\Windows\explorer.exe",
    r"C:\Program Files\Windows Defender\MsMpEng.exe",
    r"C:\Windows\System32\taskhostw.exe",
    r"C:\Windows\System32\SearchIndexer.exe",
]
BENIGN_ARGS = ["-k netsvcs -p", "/background", "--type=renderer --lang=en-US", "-Embedding", "", "/autorun"]
BENIGN_FILES = [
    r"C:\Users\{user}\AppData\Local\Temp\tmp{n}.tmp",
    r"C:\Users\{user}\Documents\report-{n}.docx",
    r"C:\ProgramData\Microsoft\Windows Defender\Scans\History\{n}.log",
    r"C:\Windows\Prefetch\SVCHOST.EXE-{n}.pf",
]
BENIGN_KEYS = [
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\FileExts\.txt\{n}",
    r"HKU\S-1-5-21-1111-2222-3333-1001\Software\Microsoft\Office\16.0\Common\{n}",
]
UNIQUE_SHARE = 0.25  # share of benign command lines that are unique (real enterprise logs: roughly 10-30%)
USERS = [f"user{i:03d}" for i in range(200)]
HOSTS = [f"WS{i:04d}.corp.example" for i in range(300)]


def sample_events(regression_dir: Path) -> list[dict[str, Any]]:
    """Every record of every regression EVTX sample, as evtx-dump JSON."""
    import evtx

    out: list[dict[str, Any]] = []
    for path in sorted(regression_dir.rglob("*.evtx")):
        for record in evtx.PyEvtxParser(str(path)).records_json():
            out.append(json.loads(record["data"]))
    return out


def _benign(data: dict[str, Any], rng: random.Random, user: str) -> None:
    n = rng.randrange(1_000_000)
    image = rng.choice(BENIGN_IMAGES)
    for key in ("Image", "NewProcessName", "ProcessName", "SourceImage"):
        if key in data:
            data[key] = image
    if "CommandLine" in data:
        extra = ""
        if rng.random() < UNIQUE_SHARE:  # temp files, GUIDs, ports: command lines seen only once
            extra = rng.choice(
                (
                    f" /file C:\\Users\\{user}\\AppData\\Local\\Temp\\{n:x}.tmp",
                    f" --session {uuid.UUID(int=rng.getrandbits(128))}",
                    f" --port {n % 65535}",
                )
            )
        data["CommandLine"] = f'"{image}" {rng.choice(BENIGN_ARGS)}{extra}'.strip()
    for key in ("ParentImage", "ParentProcessName"):
        if key in data:
            data[key] = r"C:\Windows\System32\services.exe"
    if "ParentCommandLine" in data:
        data["ParentCommandLine"] = r"C:\Windows\system32\services.exe"
    if "OriginalFileName" in data:
        data["OriginalFileName"] = image.rsplit("\\", 1)[-1]
    for key in ("Description", "Product", "Company"):
        if key in data:
            data[key] = "Microsoft Windows"
    if "TargetFilename" in data:
        data["TargetFilename"] = rng.choice(BENIGN_FILES).format(user=user, n=n)
    if "TargetObject" in data:
        data["TargetObject"] = rng.choice(BENIGN_KEYS).format(n=n)
    if "Details" in data:
        data["Details"] = f"DWORD (0x{n % 256:08x})"
    if "ImageLoaded" in data:
        data["ImageLoaded"] = r"C:\Windows\System32\kernel32.dll"
    if "TargetImage" in data:
        data["TargetImage"] = r"C:\Windows\System32\notepad.exe"
    if "PipeName" in data:
        data["PipeName"] = rf"\mojo.{n}.{n % 97}"


def generate(
    samples: list[dict[str, Any]], count: int, *, seed: int = 7, malicious_share: float = 0.02
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    for i in range(count):
        event = copy.deepcopy(samples[i % len(samples)])
        root = event["Event"]
        system = root["System"]
        user = rng.choice(USERS)
        system["EventRecordID"] = i + 1
        system["Computer"] = rng.choice(HOSTS)
        stamp = start + timedelta(milliseconds=i * 37)
        system.setdefault("TimeCreated", {"#attributes": {}})["#attributes"]["SystemTime"] = stamp.strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        data = root.get("EventData")
        if isinstance(data, dict):
            if rng.random() >= malicious_share:
                _benign(data, rng, user)
            if "ProcessId" in data:
                data["ProcessId"] = rng.randrange(100, 65000)
            if "ProcessGuid" in data:
                data["ProcessGuid"] = "{" + str(uuid.UUID(int=rng.getrandbits(128))).upper() + "}"
            if "User" in data:
                data["User"] = f"CORP\\{user}"
            if "UtcTime" in data:
                data["UtcTime"] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        yield event


def write_corpus(regression_dir: Path, out: Path, count: int) -> int:
    samples = sample_events(regression_dir)
    with out.open("w", encoding="utf-8") as handle:
        for event in generate(samples, count):
            handle.write(json.dumps(event, separators=(",", ":")))
            handle.write("\n")
    return count


# -- measured phases -------------------------------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_evtx(min_records: int) -> dict:
    """pyevtx-rs alone over the regression EVTX samples, repeated until ``min_records`` were read."""
    import evtx

    files = sorted((SIGMA / "regression_data").rglob("*.evtx"))
    blobs = [f.read_bytes() for f in files]
    import io

    records = 0
    start = time.perf_counter()
    cpu = time.process_time()
    while records < min_records:
        for blob in blobs:
            for _ in evtx.PyEvtxParser(io.BytesIO(blob), number_of_threads=1).records_json():
                records += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {
        "phase": "evtx_raw",
        "records": records,
        "seconds": round(elapsed, 2),
        "records_per_s": round(records / elapsed),
        "records_per_cpu_s": round(records / cpu),
        "note": "records_json(), one thread, no JSON decoding",
    }


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the parsing process)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def phase_scan(corpus: Path, rules: Path | None, worker: bool | None) -> dict:
    from enclave.cyber.scan import ScanOptions, run_scan
    from enclave.cyber.sigma_rules import RuleSet, load_rules

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        ruleset = load_rules([rules], cache_dir=Path(cache)) if rules else RuleSet()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = load_rules([rules], cache_dir=Path(cache)) if rules else RuleSet()
        cached_s = time.perf_counter() - t0
        assert cached == ruleset, "the rule cache must give back what compiling gave"
    t1 = time.perf_counter()
    c1 = _cpu()
    options = ScanOptions(parse_worker=worker)
    result = run_scan([corpus], system_high="NATO SECRET", options=options, ruleset=ruleset).to_dict()
    elapsed = time.perf_counter() - t1
    cpu = _cpu() - c1
    s = result["summary"]
    return {
        "phase": ("end_to_end" if rules else "parse_insert_only") + ("_one_process" if worker is False else ""),
        "events": s["events"],
        "rules_loaded": ruleset.loaded,
        "rules_failed": len(ruleset.failures),
        "rules_compile_s": round(compile_s, 2),
        "rules_cached_load_s": round(cached_s, 2),
        "scan_s": round(elapsed, 2),
        "timings": s["timings"],
        "events_per_s": round(s["events"] / elapsed),
        "cpu_s": round(cpu, 2),
        "events_per_cpu_s": round(s["events"] / cpu),
        "events_per_s_incl_compile": round(s["events"] / (elapsed + compile_s)),
        "alerts": s["alerts"],
        "incidents": s["incidents"],
        "peak_rss_mb": round(_rss_mb()),
        "parser_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "result_sha256": _digest(result),
    }


def _digest(result: dict) -> str:
    """A fingerprint of what the scan found (hits, incidents, issues), to compare runs by."""
    import hashlib

    found = {k: result[k] for k in ("rule_hits", "incidents", "attack_matrix", "rule_failures", "parse_issues")}
    return hashlib.sha256(json.dumps(found, sort_keys=True, default=str).encode()).hexdigest()[:16]


def phase_conformance() -> dict:
    from enclave.cyber.conformance import run_conformance

    report = run_conformance(SIGMA).to_dict()
    report["mismatches"] = len(report["mismatches"])
    report["failures"] = len(report["failures"])
    return {"phase": "conformance", **report}


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rules", type=Path, default=SIGMA / "rules" / "windows")
    parser.add_argument("--corpus", type=Path, help="reuse a generated corpus (JSON Lines)")
    parser.add_argument("--phase", choices=["evtx", "scan", "baseline", "conformance"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--one-process", action="store_true", help="also run end to end with parsing in the scan's own process"
    )
    parser.add_argument("--worker", choices=["auto", "yes", "no"], default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "evtx":
        print(json.dumps(phase_evtx(args.events)))
        return
    if args.phase in ("scan", "baseline"):
        worker = {"auto": None, "yes": True, "no": False}[args.worker]
        print(json.dumps(phase_scan(args.corpus, args.rules if args.phase == "scan" else None, worker)))
        return
    if args.phase == "conformance":
        print(json.dumps(phase_conformance()))
        return

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or Path(tmp) / "corpus.jsonl"
        if args.corpus is None:
            t = time.perf_counter()
            write_corpus(SIGMA / "regression_data", corpus, args.events)
            print(
                f"generated {args.events} events ({corpus.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - t:.1f}s",
                flush=True,
            )
        results = [
            _child(["--phase", "evtx", "--events", str(min(args.events, 500_000))]),
            _child(["--phase", "baseline", "--corpus", str(corpus)]),
            _child(["--phase", "scan", "--corpus", str(corpus), "--rules", str(args.rules)]),
            _child(["--phase", "conformance"]),
        ]
        if args.one_process:
            scan = ["--phase", "scan", "--corpus", str(corpus), "--rules", str(args.rules), "--worker", "no"]
            results.append(_child(scan))
    for r in results:
        print(json.dumps(r))
    raw, base, e2e, conf = results[:4]
    print()
    print("wall-clock rates (shared machine: other work slows them) and per CPU-second of this process:")
    rows = [
        ("raw evtx parse (ceiling)", raw["records_per_s"], raw["records_per_cpu_s"], None),
        ("parse + insert, no rules", base["events_per_s"], base["events_per_cpu_s"], base["peak_rss_mb"]),
        (f"end to end, {e2e['rules_loaded']} rules", e2e["events_per_s"], e2e["events_per_cpu_s"], e2e["peak_rss_mb"]),
    ]
    for name, wall, cpu, peak in rows:
        memory = f"   peak {peak} MB" if peak is not None else ""
        print(f"{name:<28} {wall:>10,}/s wall {cpu:>10,}/CPU-s{memory}")
    if len(results) > 4:
        one = results[4]
        print(
            f"{'end to end, one process':<28} {one['events_per_s']:>10,}/s wall {one['events_per_cpu_s']:>10,}/CPU-s"
            f"   peak {one['peak_rss_mb']} MB   (same findings: {one['result_sha256'] == e2e['result_sha256']})"
        )
    print(
        f"end to end vs no-rule baseline: {e2e['events_per_cpu_s'] / base['events_per_cpu_s']:.2f}x per CPU-s; "
        f"rule compilation {e2e['rules_compile_s']} s once, then {e2e['rules_cached_load_s']} s from the cache"
    )
    print(f"parsing process peak memory:   {e2e['parser_peak_rss_mb']} MB (the scan's own is above)")
    print(
        f"regression_data conformance:    {conf['load_share']:.1%} load, {conf['exact_share']:.1%} exact "
        f"({conf['exact']}/{conf['loaded']}), {conf['at_least_expected']}/{conf['loaded']} at least the expected count"
    )


if __name__ == "__main__":
    main()
