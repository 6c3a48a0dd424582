"""Server overhead: time to first token and tokens/s through `enclave serve` vs the raw engine, and
`/v1/search` requests/s with 8 concurrent clients vs the search function called directly.

Both generation paths use the same pinned model, the same prompts (the ones the answer pipeline
builds for a list of questions, one question per run) and the same max_tokens, at temperature 0,
so they generate the same tokens. The server runs as its own process (`python -m enclave serve`),
the raw engine in a worker process of the same shape (models loaded the same way, generation in a
worker thread as in the server); runs alternate between the two and never overlap.

    .venv/bin/python bench/server.py [--runs 5] [--max-tokens 128] [--search-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How many troops take part in exercise STEADFAST AURORA 26?"
# Run i asks QUESTIONS[i] on both paths: different sources, so llama.cpp's prompt cache cannot make
# one path look faster than the other by reusing the previous run's prompt.
QUESTIONS = [
    QUESTION,
    "How many aircraft take part in the exercise?",
    "When is the public open day at Harrowmere Air Base?",
    "When does media accreditation close?",
    "Which road is closed to civilian traffic for convoy moves?",
    "How much compensation do farmers receive per hectare per day?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_home(home: Path, max_tokens: int) -> tuple[str, object]:
    """A fresh home with the sample corpus ingested and one analyst; returns (token, principal)."""
    from enclave.audit import open_audit
    from enclave.config import load_settings
    from enclave.embed import EMBED_DIM, load_embedder
    from enclave.home import init_home
    from enclave.identity import UserDirectory
    from enclave.ingest.pipeline import ingest_paths
    from enclave.labels import Clearance
    from enclave.store import open_store

    init_home(home)
    config = home / "enclave.toml"
    text = config.read_text(encoding="utf-8").replace("max_tokens = 384", f"max_tokens = {max_tokens}")
    config.write_text(text + "\n[guard]\nenabled = false\n", encoding="utf-8")
    settings = load_settings(home, environ={})
    store, audit = open_store(settings, embed_dim=EMBED_DIM), open_audit(settings)
    try:
        ingest_paths([ROOT / "samples" / "corpus"], store=store, embedder=load_embedder(settings), settings=settings,
                     ingested_by="bench", audit=audit)  # fmt: skip
        clearance = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO",))
        _, token = UserDirectory(store, audit, actor="bench").add("analyst", clearance, ("analyst",))
        principal = UserDirectory(store).principal("analyst")
    finally:
        store.close()
        audit.close()
    return token, principal


class RawEngine:
    """The engine alone, on the exact prompt the answer pipeline builds for QUESTION."""

    def __init__(self, home: Path, principal: object, max_tokens: int) -> None:
        from enclave.assist.factory import build_assistant
        from enclave.assist.prompt import build_messages
        from enclave.config import load_settings

        self.assistant = build_assistant(load_settings(home, environ={}))
        self.messages = []
        for question in QUESTIONS:
            prepared = self.assistant.prepare(principal, question)
            self.messages.append(build_messages(prepared.question, prepared.sources))
        self.max_tokens = max_tokens

    def run(self, index: int) -> dict:
        start = time.perf_counter()
        first = None
        tokens = 0
        for chunk in self.assistant.engine.stream(self.messages[index % len(QUESTIONS)], max_tokens=self.max_tokens):
            if chunk.text and first is None:
                first = time.perf_counter()
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
        return _figures(start, first, time.perf_counter(), tokens)

    def close(self) -> None:
        for part in (self.assistant.engine, self.assistant.store, self.assistant.audit):
            part.close()


def worker(home: Path, max_tokens: int) -> None:
    """The raw side in its own process (like the server), driven line by line over stdin/stdout."""
    from enclave.config import load_settings
    from enclave.identity import UserDirectory
    from enclave.store import open_store

    settings = load_settings(home, environ={})
    store = open_store(settings)
    principal = UserDirectory(store).principal("analyst")
    store.close()
    raw = RawEngine(home, principal, max_tokens)
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        if command[0] == "gen":  # in a worker thread, as the server generates
            out: list[dict] = []
            index = int(command[1])
            thread = threading.Thread(target=lambda out=out, index=index: out.append(raw.run(index)))
            thread.start()
            thread.join()
            print(json.dumps(out[0]), flush=True)
        elif command[0] == "search":  # in a worker thread too, as the server runs it
            found: list[float] = []
            seconds = float(command[1])
            thread = threading.Thread(
                target=lambda found=found, seconds=seconds: found.append(search_direct(home, principal, seconds))
            )
            thread.start()
            thread.join()
            print(json.dumps(found[0]), flush=True)
    raw.close()


class RawWorker:
    def __init__(self, home: Path, max_tokens: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(home), "--max-tokens", str(max_tokens)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        while (line := self.proc.stdout.readline().strip()) != "ready":
            if not line and self.proc.poll() is not None:
                raise SystemExit("the raw-engine worker failed to start")

    def ask(self, command: str) -> object:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _figures(start: float, first: float | None, end: float, tokens: int) -> dict:
    first = first or end
    gen = max(end - first, 1e-9)
    return {"ttft_s": first - start, "tokens": tokens, "tokens_per_s": (tokens - 1) / gen if tokens > 1 else 0.0,
            "total_s": end - start}  # fmt: skip


def server_run(client: openai.OpenAI, index: int) -> dict:
    """The same question through the OpenAI-compatible endpoint (streaming, official client)."""
    start = time.perf_counter()
    banner_at = first = None
    tokens = 0
    question = QUESTIONS[index % len(QUESTIONS)]
    stream = client.chat.completions.create(
        model="enclave", messages=[{"role": "user", "content": question}], stream=True
    )
    last_token = None
    for i, chunk in enumerate(stream):
        now = time.perf_counter()
        if i == 0:
            banner_at = now
        elif chunk.choices and chunk.choices[0].finish_reason is None and chunk.choices[0].delta.content:
            first = first or now
            last_token = now
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    # tokens/s over the generation itself; the citation check, marking and audit after the last
    # token are reported separately as finish_s
    figures = _figures(start, first, last_token or end, tokens)
    figures["banner_s"] = (banner_at or end) - start
    figures["finish_s"] = end - (last_token or end)
    figures["total_s"] = end - start
    return figures


def search_direct(home: Path, principal: object, seconds: float) -> float:
    """Single-threaded calls/s of retrieval.search itself (no HTTP, no auth, no audit)."""
    from enclave.config import load_settings
    from enclave.embed import EMBED_DIM, load_embedder
    from enclave.retrieval import search
    from enclave.store import open_store

    settings = load_settings(home, environ={})
    store, embedder = open_store(settings, embed_dim=EMBED_DIM), load_embedder(settings)
    try:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            search(store, embedder, principal.clearance, QUESTION, k=10)
            n += 1
        return n / seconds
    finally:
        store.close()


def search_load(url: str, token: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = http.post("/v1/search", json={"query": QUESTION, "k": 10})
                with lock:
                    if r.status_code == 200:
                        latencies.append(time.perf_counter() - t)
                    else:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)] if latencies else None,
        "errors": errors,
        "requests": len(latencies),
    }


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "enclave", "--home", str(home), "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("enclave serve exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("enclave serve did not start within 300 s")


def pooled_rate(rows: list[dict]) -> float:
    tokens = sum(r["tokens"] - 1 for r in rows if r["tokens"] > 1)
    seconds = sum((r["tokens"] - 1) / r["tokens_per_s"] for r in rows if r["tokens"] > 1 and r["tokens_per_s"] > 0)
    return tokens / seconds if seconds else 0.0


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--search-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # as `enclave serve` does (see cli/server_cmds.py); the raw-engine worker inherits it too
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.worker is not None:
        worker(args.worker, args.max_tokens)
        return

    tmp = Path(tempfile.mkdtemp(prefix="enclave-bench-server-"))
    home = tmp / "home"
    try:
        token, _ = setup_home(home, args.max_tokens)
        port = free_port()
        proc = start_server(home, port)
        raw_engine = RawWorker(home, args.max_tokens)
        try:
            url = f"http://127.0.0.1:{port}"
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0, timeout=600)
            raw_engine.ask("gen 0"), server_run(client, 0)  # warm-up, dropped
            raw, served = [], []
            for i in range(1, args.runs + 1):  # interleaved, so load from elsewhere hits both paths alike
                raw.append(raw_engine.ask(f"gen {i}"))
                served.append(server_run(client, i))
            direct_rps = raw_engine.ask(f"search {min(args.search_seconds, 5.0)}")
            load = search_load(url, token, args.clients, args.search_seconds)
        finally:
            raw_engine.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    raw_ttft, srv_ttft = median(raw, "ttft_s"), median(served, "ttft_s")
    # tokens/s over all runs together (answers differ in length; short ones are noisy alone)
    raw_tps, srv_tps = pooled_rate(raw), pooled_rate(served)
    report = {
        "questions": QUESTIONS[1 : args.runs + 1],
        "runs": args.runs,
        "max_tokens": args.max_tokens,
        "completion_tokens": {"raw": sum(r["tokens"] for r in raw), "server": sum(r["tokens"] for r in served)},
        "raw_engine": {"ttft_s": raw_ttft, "tokens_per_s": raw_tps},
        "server": {
            "ttft_s": srv_ttft,
            "tokens_per_s": srv_tps,
            "banner_s": median(served, "banner_s"),
            "finish_s": median(served, "finish_s"),
        },
        "ttft_overhead": srv_ttft / raw_ttft - 1,
        "tokens_per_s_overhead": 1 - srv_tps / raw_tps,
        "search": {"clients": args.clients, **load, "direct_calls_per_s": direct_rps},
    }
    print(
        f"generation ({args.runs} runs each, same prompts; TTFT median, tokens/s pooled over "
        f"{sum(r['tokens'] for r in raw)} tokens)"
    )
    print(f"  raw engine      TTFT {raw_ttft * 1000:7.1f} ms   {raw_tps:6.1f} tokens/s")
    print(f"  via server      TTFT {srv_ttft * 1000:7.1f} ms   {srv_tps:6.1f} tokens/s   "
          f"(banner after {report['server']['banner_s'] * 1000:.1f} ms; checks+audit after the last token "
        f"{report['server']['finish_s'] * 1000:.0f} ms)")  # fmt: skip
    print(f"  overhead        TTFT {report['ttft_overhead']:+.1%}   tokens/s {report['tokens_per_s_overhead']:+.1%}"
          "   (target <= 10%)")  # fmt: skip
    s = report["search"]
    print(
        f"/v1/search with {args.clients} clients: {s['requests_per_s']:.1f} req/s  p50 {s['p50_ms']:.1f} ms  "
        f"p95 {s['p95_ms']:.1f} ms  errors {s['errors']}   (search() alone, 1 thread: {direct_rps:.1f} calls/s)"
    )
    report["per_run"] = {"raw": raw, "server": served}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
