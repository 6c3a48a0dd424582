"""Citation parsing, sentence splitting and support scoring (lexical part; no model needed)."""

from hypothesis import given
from hypothesis import strategies as st

from enclave.assist.support import SupportScorer, content_terms, is_claim, parse_citations, split_sentences


def test_parse_citations_in_order_without_duplicates():
    assert parse_citations("A [2]. B [1, 3]. C [2][4]") == [2, 1, 3, 4]
    assert parse_citations("no citations here") == []
    assert parse_citations("odd [x] and [] and [12345]") == []


def test_citation_after_full_stop_belongs_to_previous_sentence():
    sentences = split_sentences("The force totals 12,500 personnel. [2] Fuel comes by rail every 48 hours [3].")
    assert [s.cited for s in sentences] == [(2,), (3,)]
    assert sentences[0].text == "The force totals 12,500 personnel."
    assert "[" not in sentences[1].text


def test_numbers_must_match_for_lexical_support():
    scorer = SupportScorer(None)
    source = "The exercise force totals 12,500 personnel near Port Kalver."
    right = scorer.lexical("The exercise force totals 12500 personnel.", source)
    wrong = scorer.lexical("The exercise force totals 3,000 personnel.", source)
    assert right == 1.0
    assert wrong < right / 1.5


def test_unrelated_sentence_scores_low():
    scorer = SupportScorer(None)
    assert scorer.lexical("The capital of France is Paris.", "Fuel resupply by rail from Velmar.") == 0.0


def test_non_claims_are_not_checked():
    assert not is_claim("The sources available to you do not answer this question.")
    assert not is_claim("Yes.")
    assert is_claim("The brigade is deployed near Port Kalver.")


@given(st.lists(st.sampled_from(["Alpha", "bravo 12", "charlie.", "[1]", "[2, 3]", "delta!", "\n"]), max_size=30))
def test_split_keeps_every_citation(parts):
    text = " ".join(parts)
    cited = [n for s in split_sentences(text) for n in s.cited]
    assert sorted(set(cited)) == sorted(set(parse_citations(text)))


def test_content_terms_normalise_numbers_and_drop_stopwords():
    assert content_terms("The 12,500 troops and the brigade") == {"12500", "troops", "brigade"}
