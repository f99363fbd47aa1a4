"""BM25's terms: the index on disk and every question must be tokenized alike."""

from pathlib import Path

from ingest.lexical import LexicalIndex, _bm25s, term
from ingest.loaders import load_path

SEED = Path(__file__).resolve().parents[2] / "examples" / "articles" / "israel-turkey-security-ties.txt"


def test_terms_are_lemmatised_stemmed_words_without_stopwords():
    [terms] = LexicalIndex.tokenize(["The ambassadors withdrew; Israel's ambassador was withdrawn in 2018."])
    assert terms == ["ambassador", "withdraw", term("israel"), "s", "ambassador", "withdraw", "2018"]
    assert "the" not in terms and "was" not in terms


def test_terms_are_those_of_bm25s_own_tokenizer():
    """The fast path gives bm25s.tokenize's terms token for token, so an index built by either matches questions."""
    article = next(load_path(SEED, SEED.parent))
    texts = [article.title or "", *article.text.split("\n"), "", "   ", "Ünïcödé — 3,000 km², co-operate!"]
    expected = _bm25s().tokenize(
        texts,
        token_pattern=r"(?u)\b\w+\b",
        stopwords="en",
        stemmer=lambda words: [term(w) for w in words],
        return_ids=False,
        show_progress=False,
    )
    assert LexicalIndex.tokenize(texts) == expected
