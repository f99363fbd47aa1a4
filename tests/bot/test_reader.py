"""The learned reader: the shipped model loads, is hash-checked, serves what was fitted, and picks answers on smoke."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.evaluation.metrics import answer_hit
from bot.reader import MODEL_DIR
from bot.reader.features import CHEAP, FULL, QUESTION, behind
from bot.reader.fit import fit_listwise, fit_logistic
from bot.reader.model import Linear, Reader, ReaderError
from bot.service import assemble
from bot.settings import Settings


@pytest.fixture
def reader_copy(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(MODEL_DIR, folder)
    return folder


def test_a_damaged_model_file_is_refused_with_what_to_do(reader_copy):
    """One flipped byte in the weights: loading names the file and says how to restore it."""
    weights = next(reader_copy.rglob("*.safetensors"), None) or reader_copy / "reader.json"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ReaderError, match=r"damaged .*git checkout models/.*newsbot train"):
        Reader.load(reader_copy)


@pytest.mark.parametrize("remove", ["manifest.json", "reader.json"])
def test_a_missing_model_file_is_refused(reader_copy, remove):
    """No silent fallback to rules: a missing file is an error that names it."""
    (reader_copy / remove).unlink()
    with pytest.raises(ReaderError, match=remove.replace(".", r"\.")):
        Reader.load(reader_copy)


def test_the_cli_reports_a_missing_reader_in_one_line(tmp_path):
    """`newsbot ask` with NEWSBOT_READER_DIR at an empty folder: a clear message, no traceback."""
    from click.testing import CliRunner

    from bot.cli import cli

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        cli, ["ask", "When?"], env={"NEWSBOT_READER": "learned", "NEWSBOT_READER_DIR": str(tmp_path / "empty")}
    )
    assert result.exit_code != 0
    assert "no trained reader" in result.output and "Traceback" not in result.output


def test_saved_reader_serves_the_fitted_scores(tmp_path):
    """The linear parts written by save() score fixed rows exactly as the fitted objects do."""
    rng = np.random.default_rng(0)

    def linear(names):
        return Linear(
            tuple(names),
            rng.normal(size=len(names)).astype(np.float32),
            rng.uniform(0.5, 2, size=len(names)).astype(np.float32),
            rng.normal(size=len(names)).astype(np.float32),
            0.3,
        )

    reader = Reader(linear(CHEAP), linear(FULL), linear(QUESTION), 0.42, shortlist=7)
    reader.save(tmp_path / "r")
    loaded = Reader.load(tmp_path / "r")
    for part in ("prefilter", "combiner", "abstainer"):
        x = rng.normal(size=(5, len(getattr(reader, part).names))).astype(np.float32)
        np.testing.assert_allclose(getattr(loaded, part)(x), getattr(reader, part)(x), rtol=1e-6)
    assert (loaded.threshold, loaded.shortlist_size) == (0.42, 7)


def test_how_sure_the_reader_is_does_not_depend_on_when_the_question_is_asked_or_the_index_size():
    """The same candidates asked years later of a one-article index (the bundled sample asked today): the combiner may
    rank them differently, but the probability that the best one answers does not fall with the time since or with
    the smaller word-match scores."""
    rng = np.random.default_rng(3)
    weights = rng.normal(size=len(FULL)).astype(np.float32)
    weights[FULL.index("fresh")] = 2.0  # the combiner prefers news of the question's week ...
    weights[FULL.index("log_lexical")] = 1.0  # ... and high BM25 scores
    combiner = Linear(FULL, np.full(len(FULL), 0.3, np.float32), np.ones(len(FULL), np.float32), weights)
    abstainer = Linear(
        QUESTION,
        np.zeros(len(QUESTION), np.float32),
        np.ones(len(QUESTION), np.float32),
        rng.normal(size=len(QUESTION)).astype(np.float32),
    )
    reader = Reader(Linear.zeros(CHEAP), combiner, abstainer, 0.5)
    then = rng.uniform(size=(6, len(FULL))).astype(np.float32)
    then[:, FULL.index("fresh")] = 0.8  # all from the week asked about
    then[:, FULL.index("log_lexical")] = 3.0
    now = then.copy()
    now[:, FULL.index("fresh")] = 0.0
    now[:, FULL.index("log_lexical")] = 0.5
    (then_logits, p_then), (now_logits, p_now) = (
        reader.judge(then, "when", 0.8, 0.0),
        reader.judge(now, "when", 0.8, 0.0),
    )
    assert (now_logits < then_logits).all()  # the time since still ranks ...
    assert p_now == pytest.approx(p_then, abs=1e-6)  # ... but does not say "no answer"


def test_listwise_fit_learns_which_feature_marks_the_answer():
    """Groups where only feature 1 tells the answer apart: the fitted score ranks the answer first in each."""
    rng = np.random.default_rng(1)
    names = ("noise", "signal")
    groups = []
    for _ in range(60):
        x = rng.normal(size=(6, 2)).astype(np.float32)
        y = np.zeros(6, bool)
        y[rng.integers(6)] = True
        x[y, 1] += 3.0
        groups.append((x, y))
    lin = fit_listwise(groups, names, l2=1e-3)
    assert lin.weights[1] > abs(lin.weights[0])
    assert np.mean([y[np.argmax(lin(x))] for x, y in groups]) > 0.9


def test_logistic_fit_separates_the_classes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = x[:, 0] > 0
    lin = fit_logistic(x, y, ("a", "b"), l2=1e-3)
    assert np.mean((lin(x) > 0) == y) > 0.95


def test_the_cross_encoder_scores_each_pair_as_if_alone_whatever_it_is_batched_with():
    """Pairs of very different lengths are batched by length; every score comes back in its pair's place."""
    cross = Reader.load().cross
    question = "When was Israel's ambassador to Turkey appointed?"
    texts = [
        "Israel appointed an ambassador.",
        "Israel's ambassador to Ankara, Irit Lillian, was appointed the following month, after the two countries "
        "announced in August 2022 that they would restore full diplomatic ties and exchange ambassadors again.",
        "Ties had been cut in 2018.",
        "Turkey's president met Israel's president in Ankara in March, the first such visit since 2008, and the two "
        "leaders spoke of a new era in relations between the countries after more than a decade of tension.",
    ]
    together = cross.score(question, texts)
    alone = np.array([cross.score(question, [t])[0] for t in texts])
    assert np.allclose(together, alone, atol=0.05), (together, alone)
    assert len(set(np.round(alone, 2))) == len(texts)  # distinct scores: a misplaced one would be seen


def test_scoring_beside_the_embedding_gives_the_same_scores_and_leaves_torch_threads_as_they_were():
    """The answerer embeds a question's shortlist while the cross-encoder scores it on a thread of its own, each on
    half of torch's threads: the scores are those of scoring alone (bf16 sums split otherwise: within 0.02), the work's
    result comes back, and the thread count is the caller's again afterwards, for threads started later too, also when
    the work fails. Questions scored from several threads at once each get their own scores."""
    import torch

    cross = Reader.load().cross
    question = "When was Israel's ambassador to Turkey appointed?"
    texts = ["Israel's ambassador to Ankara was appointed the following month.", "Ties had been cut in 2018."] * 3
    threads = torch.get_num_threads()
    alone = cross.score(question, texts)
    scored, work_threads = cross.score_beside(question, texts, torch.get_num_threads)
    assert np.allclose(scored, alone, atol=0.02), (scored, alone)
    assert work_threads == threads - threads // 2  # 1 of 2 cores (CI); all of one
    with pytest.raises(ZeroDivisionError):
        cross.score_beside(question, texts, lambda: 1 / 0)
    assert torch.get_num_threads() == threads
    with ThreadPoolExecutor(1) as later:
        assert later.submit(torch.get_num_threads).result() == threads
    with ThreadPoolExecutor(4) as asks:  # the Discord bot answers several questions at once
        scores = list(asks.map(lambda n: cross.score(question, texts[:n]), [2, 6, 3, 5] * 10))
    assert all(np.allclose(got, alone[: len(got)], atol=0.02) for got in scores)


def learned(settings: Settings) -> Settings:
    return settings.model_copy(update={"core": settings.core.model_copy(update={"reader": "learned"})})


@pytest.mark.slow
def test_shipped_reader_ranks_the_known_answer_sentence_first_on_smoke(smoke_index, embedder, seed_questions):
    """The reader in models/ picks a sentence that answers for every answerable seed question (measured: 13 of 13, as
    the rules; issue 23 asks for 13), and the ambassador answer reads September 2022."""
    bot = assemble(learned(Settings.load(None)), smoke_index, embedder, llm=False)
    assert bot.answerer.reader is not None
    hit = []
    for q in (q for q in seed_questions if q["answerable"]):
        answer = bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
        hit.append(not answer.abstained and answer_hit(answer.text, q["answers"]))
    assert all(hit), hit
    seed01 = next(q for q in seed_questions if q["id"] == "seed-01")
    answer = bot.ask(seed01["question"], as_of=date.fromisoformat(seed01["date"]))
    assert "September 2022" in answer.text and answer.short == "September 2022"


EUROVISION = "Which country won the Eurovision Song Contest this week?"
VARIANT = "What is the latest Covid variant surging in the UK?"


@pytest.mark.parametrize(
    ("question", "as_of", "newest", "lag"),
    [
        (EUROVISION, date(2024, 5, 10), date(2024, 5, 10), 0.0),  # the week's news is in
        (EUROVISION, date(2024, 5, 10), date(2024, 4, 10), 0.5),  # the news stops a month before
        (VARIANT, date(2023, 7, 21), date(2022, 12, 30), 1.0),  # half a year before (as dev's null questions)
        (VARIANT, date(2023, 7, 21), None, 0.0),  # an empty index: nothing to weigh
        ("Which New York politician resigned?", date(2023, 7, 21), date(2022, 12, 30), 0.0),  # a name, not "new"
        ("When was the ambassador appointed?", date(2026, 12, 6), date(2022, 9, 27), 0.0),  # old news may answer it
    ],
)
def test_how_far_the_news_stops_before_a_question_about_its_own_time(question, as_of, newest, lag):
    assert behind(question, as_of, newest) == pytest.approx(lag)


def test_the_shipped_reader_is_less_sure_of_this_weeks_news_from_a_corpus_that_stopped_long_before(
    smoke_index, embedder
):
    """The same question about "the latest" on the seed article's story, asked a day after it and half a year later of
    the same index: the reader is less sure later, as the news stops long before the question. A question about
    background ("When was the ambassador appointed?") is as sure years later (the bundled sample asked today)."""
    bot = assemble(learned(Settings.load(None)), smoke_index, embedder, llm=False)
    newest = smoke_index.newest(date(2022, 12, 31))
    about_now = "What is the latest step in restoring Israel and Turkey's security ties?"
    soon, late = (bot.ask(about_now, as_of=newest + timedelta(days=d)) for d in (1, 180))
    assert late.confidence < soon.confidence - 0.05
    background = "When was the ambassador appointed?"
    later, years = (bot.ask(background, as_of=newest + timedelta(days=d)) for d in (200, 1500))
    assert years.confidence == pytest.approx(later.confidence, abs=1e-6) and not years.abstained


@pytest.mark.slow
@pytest.mark.parametrize("folds", [0, 2], ids=["date split", "cross-fitted"])
def test_training_on_smoke_writes_a_reader_that_loads_and_answers(smoke_eval, embedder, tmp_path, folds):
    """`newsbot train`'s pipeline end to end on the smoke set (one small epoch): the folder holds weights, a manifest
    that checks out and a model card with the split and seed; the written reader answers through ask(). Cross-fitted,
    the combiner and abstention fit on every answerable question, not only the latest."""
    import dataclasses
    import pickle

    from bot.reader.fit import FITTED_SEARCH, FitSettings, fit_rows_file, train
    from tests.conftest import SMOKE

    settings, _, _ = smoke_eval
    small = dataclasses.replace(
        FitSettings(),
        cross_layers=1,
        epochs=1,
        cross_soup=1,  # the soup has a test of its own; one fine-tuning keeps this one quick
        shortlist=6,
        cross_folds=folds,
        fold_nulls=bool(folds),
        fold_soup=bool(folds),  # the fold models trained as the served one is (here one fine-tuning each)
        later_share=0.5,
        absent_nulls=True,
        cross_absent=bool(folds),
        refit_search=not folds,  # the search fitted here, or kept as an earlier fit left it
    )
    out = train(settings, SMOKE, tmp_path / "reader", fit_settings=small, progress=False, report=lambda line: None)
    reader = Reader.load(tmp_path / "reader")
    with fit_rows_file(settings).open("rb") as f:  # what the combiner and abstainer saw, for refitting them offline
        rows = pickle.load(f)["rows"]
    # null questions asked before their news, and of the corpus without the articles that hold the answer
    assert {r["kind"] for r in rows} >= {"answerable", "before", "absent"}
    absent = [r for r in rows if r["kind"] == "absent"]
    assert absent and not any(r["labels"].any() for r in absent)
    # questions about their own week asked on their date of news that stops half a year earlier: the gap is seen
    behind = [r for r in rows if r["kind"] == "behind"]
    assert behind and not any(r["labels"].any() for r in behind) and {r["lag"] for r in behind} == {1.0}
    assert max(r["lag"] for r in rows if r["kind"] == "answerable") < 0.25  # asked on their date: days-old news
    assert all(len(r["full"]) == len(r["labels"]) for r in rows)
    assert reader.cross is not None and reader.cross.layers == 1 and reader.shortlist_size == 6
    card = (tmp_path / "reader" / "README.md").read_text()
    assert f"Seed {small.seed}" in card and out["split"]["combiner"]["from"] in card
    cross, combiner = out["split"]["cross_encoder"], out["split"]["combiner"]
    if folds:  # the same questions for both, each scored by a cross-encoder that never saw it
        assert combiner["questions"] == cross["questions"] and "cross-fitted" in card
        # and the early block's questions also asked of the late block's news, as holdout's null questions are
        assert combiner["fold_nulls"] > 0 and f"{combiner['fold_nulls']} of the same kind" in card
        # and answerable questions asked again later, with newer news in the index, beside the null ones
        assert combiner["asked_later"] > 0 and "asked again" in card and "later" in {r["kind"] for r in rows}
        # the absent-answer questions among the cross-encoder's "none of these" groups too
        assert "or of the news without their answer" in card
    else:  # the latest questions, after the cross-encoder's
        assert combiner["from"] >= cross["to"] and "cross-fitted" not in card
    # the search the reader learned behind is the one it serves with, and the card says which and how it was chosen
    fitted = {name: getattr(reader.search, name) for name in FITTED_SEARCH}
    assert fitted == out["search"]["fitted"] and (fitted == FITTED_SEARCH or not folds)
    assert ("fitted on train's questions" if small.refit_search else "fitted on train by an earlier run") in card
    learned_here = settings.model_copy(
        update={"core": settings.core.model_copy(update={"reader": "learned", "reader_dir": tmp_path / "reader"})}
    )
    from bot.service import open_index

    bot = assemble(learned_here, open_index(settings, embedder, smoke_eval[2]["config"]["index"]), embedder, llm=False)
    answer = bot.ask("When was the ambassador appointed?", as_of=date(2022, 10, 26))
    assert answer.answerer == "extractive" and (answer.abstained or answer.citations)


@pytest.mark.slow
def test_corpus_words_finds_every_article_holding_an_answer_as_the_eval_chose_null_questions(smoke_index):
    """An answer is held by the articles holding its longest word of 5+ letters ("Hulusi Akar": "hulusi"), or else
    all of its words; a word in no article finds none (the eval's null questions are chosen that way)."""
    from bot.reader.fit import CorpusWords

    words = CorpusWords(smoke_index)
    akar = words.articles_with(["Hulusi Akar"])
    assert "israel-turkey-security-ties" in akar
    texts = {a.id: (a.title or "") + " ".join(p.text for p in ps) for a, ps in smoke_index.every_article()}
    assert akar == {i for i, text in texts.items() if "hulusi" in text.lower()}
    assert words.articles_with(["Zyxwvut Qwerty"]) == set() and words.articles_with([""]) == set()


def test_fit_settings_overrides_read_each_value_as_its_fields_type():
    """`newsbot train --set`: booleans, numbers and pairs, each as the field holds it."""
    from bot.reader.fit import FitSettings, with_overrides

    s = with_overrides(FitSettings(), ["fold_nulls=on", "later_share=0.5", "later_days=10, 20", "shortlist=8"])
    assert (s.fold_nulls, s.later_share, s.later_days, s.shortlist) == (True, 0.5, (10, 20), 8)
    assert with_overrides(s, []) == s


@pytest.mark.slow
def test_two_trainings_in_two_processes_write_the_same_reader(smoke_eval, tmp_path):
    """`newsbot train` reproduces its reader: run again in another process (another hash salt for Python's sets,
    another load of Chroma's graph) on the same data with the same seed, it writes every weight, threshold and search
    setting to the bit (docs/reader.md, "Why two trainings differed")."""
    from tests.conftest import SMOKE

    settings, _, _ = smoke_eval
    manifests = []
    for salt in ("1", "2"):
        out = tmp_path / f"reader-{salt}"
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "train", str(SMOKE), "--out", str(out)]
            + ["--set", "cross_layers=1", "--set", "epochs=1", "--set", "shortlist=6", "--set", "cross_folds=0"],
            env={**os.environ, "PYTHONHASHSEED": salt, "NEWSBOT_DATA_DIR": str(settings.core.data_dir)},
            cwd=Path(__file__).resolve().parents[2],
            check=True,
            capture_output=True,
        )
        manifests.append(json.loads((out / "manifest.json").read_text()))
    assert manifests[0] == manifests[1]


@pytest.mark.slow
def test_a_cross_encoder_soup_is_the_average_of_fine_tunings_that_drew_differently():
    """cross_soup=2 serves the weight average of two fine-tunings from the same start that drew their negatives, order
    and dropout with seeds 13 and 14; the first of them is the one cross_soup=1 serves."""
    import dataclasses
    from types import SimpleNamespace

    import torch

    from bot.reader.fit import Example, FitSettings, served_cross, train_cross

    sentences = [
        "The ambassador was appointed in September 2022.",
        "Ties had been cut in 2018.",
        "The president visited Ankara in March.",
        "Trade between the two countries grew.",
        "The talks lasted three days.",
        "A new era in relations was announced.",
    ]

    def example(i: int) -> Example:
        pool = [SimpleNamespace(text=f"{t} ({i})") for t in sentences]
        labels = np.array([j == 0 for j in range(len(pool))])
        return Example(
            f"q{i}", f"When was the ambassador appointed? ({i})", "when", ["September 2022"], ["2018"], "answerable",
            pool, labels, shortlist=pool[:4], short_labels=labels[:4],
        )  # fmt: skip

    examples = [example(i) for i in range(6)]
    s = dataclasses.replace(
        FitSettings(), cross_layers=1, epochs=1, group=4, groups_per_step=2, max_length=24, cross_soup=1, date_swap=0.0
    )
    quiet = dict(progress=False, report=lambda line: None)
    first = train_cross(examples, s, **quiet)[0].model.state_dict()
    second = train_cross(examples, s, **quiet, member=1)[0].model.state_dict()
    alone = served_cross(examples, s, **quiet)[0].model.state_dict()
    soup = served_cross(examples, dataclasses.replace(s, cross_soup=2), **quiet)[0].model.state_dict()
    head = "head.weight"
    assert not torch.equal(first[head], second[head])  # the two drew differently ...
    assert all(torch.equal(first[n], alone[n]) for n in first)  # ... the first is what one fine-tuning serves
    assert all(torch.allclose(soup[n].float(), (first[n].float() + second[n].float()) / 2, atol=1e-6) for n in soup)


def test_date_swapping_changes_the_date_phrases_but_never_which_sentences_hold_the_answer():
    """date_swap's training groups name other dates ("In 2018" may become "On Tuesday") so that a past year alone
    stops marking a wrong answer; a sentence whose swap would lose its answer, or gain one, stays as it was."""
    import random

    from bot.reader.fit import swap_dates

    texts = [
        "The ambassador was appointed in September 2022.",  # holds the answer through its date phrase: kept
        "In 2018, Ankara withdrew its ambassador.",
        "Herzog met Erdogan in Ankara in March, and again on Friday.",
        "Trade between the two countries grew.",  # no date phrase
    ]
    holds = [True, False, False, False]
    rng = random.Random(0)
    seen = set()
    for _ in range(40):
        out = swap_dates(texts, holds, ["September 2022"], 2022, rng)
        assert [answer_hit(t, ["September 2022"]) for t in out] == holds
        assert out[0] == texts[0] and out[3] == texts[3]
        assert out[1].endswith(", Ankara withdrew its ambassador.")
        seen.add(out[1].split(",")[0])
    # a year, a month or a weekday, whatever was there
    assert any(s.startswith("On ") for s in seen) and any(s[3:].isdigit() for s in seen) and len(seen) > 10
    # years only: the year of each phrase changes, the weekday and the bare month stay as written
    years = set()
    for _ in range(20):
        out = swap_dates(texts, holds, ["September 2022"], 2022, rng, years_only=True)
        assert out[0] == texts[0] and out[2] == texts[2] and out[3] == texts[3]
        assert out[1][:3] == "In " and out[1][7:] == ", Ankara withdrew its ambassador."
        years.add(int(out[1][3:7]))
    assert min(years) >= 2007 and max(years) <= 2022 and len(years) > 5
