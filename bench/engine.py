"""Embedded engine overhead: Enclave's llama.cpp engine against raw ``llama_cpp.Llama``, same run.

Both load the same bundled GGUF with the same threads, context, batch and seed, and answer the same
prompts with greedy decoding. Each repetition uses a fresh prompt (so llama.cpp's prefix cache cannot
skip prompt processing) and runs the two sides back to back in alternating order. Reported per side
(medians): time to first token (TTFT) and decode tokens/s of a stream, and end-to-end tokens/s of a
non-streamed chat; then the median of the per-repetition Enclave/raw ratios (pairing cancels most
of the drift of a shared machine), and whether both sides produced identical text. Target: overhead <= 5%.

    .venv/bin/python bench/engine.py [--reps 15] [--max-tokens 64] [--threads N] [--json bench/out/engine.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from enclave.config import load_settings
from enclave.engines import ChatMessage, create_engine
from enclave.engines.llamacpp import default_threads
from enclave.engines.models import resolve_model

SYSTEM = (
    "You are a careful staff officer. Answer in plain English, in full sentences, without lists. "
    "Explain your reasoning step by step and keep to the facts you are given."
)
TOPICS = [
    "how a convoy should plan fuel stops across a long desert route",
    "why radio discipline matters during a night patrol",
    "how to brief a new team member on handling classified documents",
    "what a logistics officer checks before a field exercise begins",
    "how weather affects helicopter resupply in mountain terrain",
    "why backups of mission data must be tested regularly",
    "how to organise a shift handover in an operations centre",
    "what makes a situation report clear and useful to commanders",
    "how a small unit keeps its equipment ready in cold climates",
    "why access to network equipment rooms is logged and controlled",
]


def prompt(i: int) -> list[dict[str, str]]:
    topic = TOPICS[i % len(TOPICS)]
    user = (
        f"Request {i}. A colleague asked me {topic}. They have little experience and want a thorough explanation "
        "that they can reread later. Write a detailed answer of several paragraphs covering the main risks, the "
        "usual mistakes, and the good habits that experienced people follow."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def timed_stream(chunks: Iterator[str]) -> tuple[float, float, int, str]:
    """(ttft_s, total_s, tokens, text) for an iterator of text pieces, one per generated token."""
    start = time.perf_counter()
    first = None
    pieces: list[str] = []
    for text in chunks:
        if first is None and text:
            first = time.perf_counter()
        pieces.append(text)
    end = time.perf_counter()
    return (first or end) - start, end - start, len(pieces), "".join(pieces)


def iqr_pct(values: list[float]) -> float:
    """Interquartile range of ratios, in percent (nan with fewer than 4 values)."""
    if len(values) < 4:
        return float("nan")
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) * 100


def wrapper_cost_s(engine: object, chunks: list[dict], messages: list[ChatMessage], loops: int = 300) -> float:
    """Seconds per streamed token that Enclave's engine code adds on top of llama-cpp-python.

    The engine's ``Llama`` is swapped for a replay of recorded chunks, so only Enclave's own work
    (lock, parameter handling, chunk conversion, usage counting) is timed: a figure that does not
    depend on how busy the machine's cores are with inference.
    """

    class Replay:
        last_prompt_tokens = 0

        def create_chat_completion(self, **kwargs: object) -> Iterator[dict]:
            return iter(chunks)

    real = engine._llama  # type: ignore[attr-defined]
    engine._llama = Replay()  # type: ignore[attr-defined]
    try:
        t0 = time.perf_counter()
        for _ in range(loops):
            for _chunk in iter(chunks):
                pass
        baseline = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(loops):
            for _chunk in engine.stream(messages):  # type: ignore[attr-defined]
                pass
        wrapped = time.perf_counter() - t0
    finally:
        engine._llama = real  # type: ignore[attr-defined]
    return max(wrapped - baseline, 0.0) / (loops * len(chunks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="default: all cores available to this process")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()

    import llama_cpp

    threads = args.threads or default_threads()
    home = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
    settings = load_settings(
        home, environ={"ENCLAVE_ENGINE__N_THREADS": str(threads), "ENCLAVE_ENGINE__N_CTX": str(args.n_ctx)}
    )
    model = resolve_model(settings)

    t0 = time.perf_counter()
    raw = llama_cpp.Llama(
        model_path=str(model.path),
        n_ctx=args.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=settings.engine.n_batch,
        seed=settings.engine.seed,
        verbose=False,
    )
    raw_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = create_engine(settings)  # includes the SHA-256 verification of the model (cache is empty)
    enclave_load = time.perf_counter() - t0

    gen = {"temperature": 0.0, "seed": settings.engine.seed, "max_tokens": args.max_tokens}

    def raw_stream(msgs: list[dict[str, str]]) -> Iterator[str]:
        for chunk in raw.create_chat_completion(messages=msgs, stream=True, **gen):  # type: ignore[arg-type]
            content = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
            if content is not None:
                yield content

    def enclave_stream(msgs: list[dict[str, str]]) -> Iterator[str]:
        messages = [ChatMessage(m["role"], m["content"]) for m in msgs]  # type: ignore[arg-type]
        for chunk in engine.stream(messages, max_tokens=args.max_tokens):
            if chunk.finish_reason is None:
                yield chunk.text

    def raw_chat(msgs: list[dict[str, str]]) -> tuple[int, str]:
        out = raw.create_chat_completion(messages=msgs, **gen)  # type: ignore[arg-type]
        return out["usage"]["completion_tokens"], out["choices"][0]["message"]["content"]  # type: ignore[index]

    def enclave_chat(msgs: list[dict[str, str]]) -> tuple[int, str]:
        result = engine.chat([ChatMessage(m["role"], m["content"]) for m in msgs], max_tokens=args.max_tokens)  # type: ignore[arg-type]
        return result.usage.completion_tokens, result.text

    sides: dict[str, tuple[Callable, Callable]] = {
        "raw": (raw_stream, raw_chat),
        "enclave": (enclave_stream, enclave_chat),
    }
    samples: dict[str, dict[str, list[float]]] = {s: {"ttft": [], "decode_tps": [], "chat_tps": []} for s in sides}
    same_text = True
    # Warm-up (first-call allocations), not measured.
    for stream_fn, _ in sides.values():
        timed_stream(stream_fn(prompt(999)))

    for i in range(args.reps):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        texts: dict[str, str] = {}
        for name in order:
            stream_fn, chat_fn = sides[name]
            ttft, total, tokens, text = timed_stream(stream_fn(prompt(i)))
            samples[name]["ttft"].append(ttft)
            samples[name]["decode_tps"].append((tokens - 1) / (total - ttft) if tokens > 1 and total > ttft else 0.0)
            t0 = time.perf_counter()
            chat_tokens, chat_text = chat_fn(prompt(i + 1000))
            samples[name]["chat_tps"].append(chat_tokens / (time.perf_counter() - t0))
            texts[name] = text + "\x00" + chat_text
        same_text &= texts["raw"] == texts["enclave"]

    recorded = list(raw.create_chat_completion(messages=prompt(0), stream=True, **gen))  # type: ignore[arg-type]
    per_token_s = wrapper_cost_s(engine, recorded, [ChatMessage(m["role"], m["content"]) for m in prompt(0)])  # type: ignore[arg-type]

    med = {s: {k: statistics.median(v) for k, v in d.items()} for s, d in samples.items()}
    # Paired ratios: each repetition runs both sides back to back, so the ratio within a repetition
    # cancels most of a shared machine's drift; their median is the headline figure.
    paired = {
        k: [e / r for e, r in zip(samples["enclave"][k], samples["raw"][k], strict=True) if r > 0]
        for k in ("ttft", "decode_tps", "chat_tps")
    }
    ratio = {k: statistics.median(v) for k, v in paired.items()}
    noise = {k: iqr_pct(v) for k, v in paired.items()}  # run-to-run noise of the paired ratios
    overhead = {
        "ttft_pct": (ratio["ttft"] - 1) * 100,
        "decode_pct": (1 / ratio["decode_tps"] - 1) * 100,
        "chat_pct": (1 / ratio["chat_tps"] - 1) * 100,
    }

    print(
        f"model {model.id} ({model.path.name}), threads {threads}, n_ctx {args.n_ctx}, "
        f"max_tokens {args.max_tokens}, reps {args.reps} (medians; ratio = median of paired ratios)"
    )
    print(f"load: raw {raw_load:.3f} s, enclave {enclave_load:.3f} s (includes SHA-256 verification)")
    print(f"{'':10}{'TTFT ms':>10}{'decode tok/s':>15}{'chat tok/s':>13}")
    for name in sides:
        m = med[name]
        print(f"{name:10}{m['ttft'] * 1000:>10.1f}{m['decode_tps']:>15.1f}{m['chat_tps']:>13.1f}")
    print(f"{'ratio':10}{ratio['ttft']:>10.3f}{ratio['decode_tps']:>15.3f}{ratio['chat_tps']:>13.3f}   (enclave / raw)")
    print(
        f"overhead: TTFT {overhead['ttft_pct']:+.1f}%, decode {overhead['decode_pct']:+.1f}%, "
        f"chat {overhead['chat_pct']:+.1f}%  (target <= 5%)"
    )
    token_s = 1 / med["raw"]["decode_tps"]
    print(
        f"Enclave code per streamed token (replayed chunks, no inference): {per_token_s * 1e6:.1f} us "
        f"= {per_token_s / token_s * 100:.2f}% of a token's decode time here ({token_s * 1000:.1f} ms)"
    )
    print(f"identical outputs raw vs enclave: {'yes' if same_text else 'NO'}")
    print(
        f"noise (IQR of paired ratios): TTFT {noise['ttft']:.1f}%, decode {noise['decode_tps']:.1f}%, "
        f"chat {noise['chat_tps']:.1f}%"
    )
    worst = max(overhead.values())
    if worst <= 5.0:
        verdict = "PASS"
    elif per_token_s / token_s < 0.01 and worst <= max(noise.values()):
        verdict = "INCONCLUSIVE end to end (difference within run-to-run noise; Enclave's own code costs <1%)"
    else:
        verdict = "ABOVE TARGET"
    print(f"verdict: {verdict} (worst overhead {worst:+.1f}%, target <= 5%)")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "threads": threads,
            "reps": args.reps,
            "max_tokens": args.max_tokens,
            "medians": med,
            "ratios": ratio,
            "overhead_pct": overhead,
            "noise_iqr_pct": noise,
            "identical_outputs": same_text,
            "load_s": {"raw": raw_load, "enclave": enclave_load},
            "wrapper_s_per_token": per_token_s,
            "samples": samples,
        }
        args.json.write_text(json.dumps(report, indent=2))
    engine.close()
    raw.close()
    return 0 if same_text else 1


if __name__ == "__main__":
    sys.exit(main())
