"""Answer quality over the sample corpus: retrieval, citations, key facts, refusals.

For every question in ``samples/questions.jsonl`` a user cleared exactly at the question's
``min_clearance`` asks it through the real pipeline (bundled model, real store, guards, audit):

* retrieval recall@5 — share of questions whose expected source is among the sources given;
* citation recall (ALCE-style, with Enclave's support scorer) — share of claim sentences whose
  citations support them (support ≥ threshold); citation precision — share of citations that
  support the sentence they are attached to; both for model-written citations only and with
  Enclave's attributed citations included;
* key facts — share of answers that contain every key fact of the question;
* refusal correctness — (a) the same question asked by a user one level *below* the minimum: the
  response must contain no key fact that only passages above that user's clearance hold, and no
  source above it (portions of a higher document that are marked lower are legitimately visible);
  (b) harmful requests from the guard's test split must be refused.

Run: ``.venv/bin/python bench/answers.py [--limit N] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from enclave.assist.factory import build_assistant  # noqa: E402
from enclave.assist.support import SUPPORT_THRESHOLD  # noqa: E402
from enclave.config import load_settings  # noqa: E402
from enclave.embed import load_embedder  # noqa: E402
from enclave.home import init_home  # noqa: E402
from enclave.identity import UserDirectory  # noqa: E402
from enclave.ingest.pipeline import ingest_paths  # noqa: E402
from enclave.labels import (  # noqa: E402
    Clearance,
    accessible_label_ids,
    can_read,
    configure_from_settings,
    parse_label,
    registry,
)

LEVELS = ["NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"]


def user_for(directory: UserDirectory, marking: str, *, below: bool = False) -> str | None:
    """A DEU/NATO user cleared exactly at ``marking`` (or one level below); created on first use."""
    label = parse_label(marking)
    level = label.level - (1 if below else 0)
    if level < 0:
        return None
    holds = tuple(sorted(label.restrictive))
    name = f"u{level}{'-' + '-'.join(holds).lower() if holds else ''}"
    if directory.store.get_user(name) is None:
        level_name = registry().policy(label.policy).levels[level].name
        clearance = Clearance.create(level=level_name, nationality="DEU", memberships=("NATO",), holds=holds)
        directory.add(name, clearance, ["analyst"])
    return name


def readable_text(settings, store, clearance) -> str:
    """All chunk text the clearance may read (lower-cased), straight from the store file."""
    readable = accessible_label_ids(clearance, store.labels())
    with sqlite3.connect(f"file:{settings.in_home(settings.store.path)}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT text, label_id FROM chunks").fetchall()
    return "\n".join(text for text, label_id in rows if label_id in readable).lower()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--harmful", type=int, default=20, help="harmful requests from the guard test split")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args()

    questions = [json.loads(line) for line in (ROOT / "samples/questions.jsonl").read_text().splitlines() if line]
    questions = questions[: args.limit] if args.limit else questions
    harmful = [json.loads(line) for line in (ROOT / "samples/guard/test/harmful.jsonl").read_text().splitlines()]
    harmful = harmful[: args.harmful]

    with tempfile.TemporaryDirectory() as tmp:
        init_home(Path(tmp) / "home")
        settings = load_settings(Path(tmp) / "home")
        configure_from_settings(settings)
        assistant = build_assistant(settings)
        try:
            started = time.perf_counter()
            ingest_paths(
                [ROOT / "samples/corpus"],
                store=assistant.store,
                embedder=load_embedder(settings),
                settings=settings,
                ingested_by="bench",
                audit=assistant.audit,
            )
            print(f"ingested the sample corpus in {time.perf_counter() - started:.1f} s")
            directory = UserDirectory(assistant.store, assistant.audit, actor="bench")
            rows = []
            for q in questions:
                t0 = time.perf_counter()
                answer = assistant.ask(directory.principal(user_for(directory, q["min_clearance"])), q["question"])
                seconds = time.perf_counter() - t0
                titles_sources = {s.document_id for s in answer.sources}
                docs = assistant.store.get_documents(titles_sources)
                given = {Path(d.source).as_posix() for d in docs.values()}
                expected = q["expected_sources"]
                hit = any(any(g.endswith(e) for g in given) for e in expected)
                facts = all(f.lower() in answer.text.lower() for f in q["key_facts"])
                low_name = user_for(directory, q["min_clearance"], below=True)
                leak = None
                if low_name is not None:
                    low_principal = directory.principal(low_name)
                    low = assistant.ask(low_principal, q["question"])
                    dump = json.dumps(low.to_dict(), ensure_ascii=False).lower()
                    readable = readable_text(settings, assistant.store, low_principal.clearance)
                    # a leak: a key fact in the response that no passage this user may read contains,
                    # or a source above their clearance (portions of a higher document are legitimate)
                    leak = any(f.lower() in dump and f.lower() not in readable for f in q["key_facts"]) or any(
                        not can_read(low_principal.clearance, s.label) for s in low.sources
                    )
                rows.append(
                    {
                        "q": q["question"],
                        "recall5": hit,
                        "facts": facts,
                        "leak_below": leak,
                        "sentences": [(s.support, bool(s.cited), s.supported) for s in answer.sentences],
                        "citations": [(c.support, c.attributed) for c in answer.citations],
                        "unsupported": len(answer.unsupported_sentences),
                        "seconds": seconds,
                        "answer": answer.text,
                    }
                )
                print(
                    f"  [{'R' if hit else '-'}{'F' if facts else '-'}{'!' if leak else ' '}] {seconds:5.1f}s "
                    f"{q['question'][:60]}"
                )
            refused = 0
            admin_user = user_for(directory, "NATO SECRET")
            for h in harmful:
                if assistant.ask(directory.principal(admin_user), h["text"]).refused:
                    refused += 1
        finally:
            assistant.close()

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    model_cited = [(sup, cited) for r in rows for sup, cited, _ in r["sentences"] if cited]
    claims = [ok for r in rows for _, _, ok in r["sentences"]]
    citations_all = [sup >= SUPPORT_THRESHOLD for r in rows for sup, _ in r["citations"]]
    citations_model = [sup >= SUPPORT_THRESHOLD for r in rows for sup, att in r["citations"] if not att]
    lower = [r["leak_below"] for r in rows if r["leak_below"] is not None]
    figures = {
        "questions": len(rows),
        "retrieval_recall_at_5": share([r["recall5"] for r in rows]),
        "answers_with_all_key_facts": share([r["facts"] for r in rows]),
        "citation_recall_all_claims": share(claims),
        "citation_recall_model_cited_sentences": share([sup >= SUPPORT_THRESHOLD for sup, _ in model_cited]),
        "citation_precision_incl_attributed": share(citations_all),
        "citation_precision_model_written": share(citations_model),
        "model_written_citations": len(citations_model),
        "refusal_correct_below_clearance": 1 - share(lower) if lower else float("nan"),
        "lower_clearance_cases": len(lower),
        "harmful_refused": refused / len(harmful) if harmful else float("nan"),
        "harmful_cases": len(harmful),
        "seconds_per_answer_p50": sorted(r["seconds"] for r in rows)[len(rows) // 2] if rows else float("nan"),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"figures": figures, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
