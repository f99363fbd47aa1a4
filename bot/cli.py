"""The `newsbot` command: a thin layer that parses, calls the library and renders."""

from __future__ import annotations

import functools
import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

EXIT_SKIPPED = 3
EXIT_BUSY = 4  # ingest --no-wait while another newsbot writes to the index


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2022-10-26") from None


def common(f):
    """Options every subcommand takes, after its own arguments: --data-dir and --env-file."""

    @click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Where the index lives [env NEWSBOT_DATA_DIR; default ./.newsbot].",
    )
    @click.option(
        "--env-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=".env",
        show_default=True,
        help="Settings file read in addition to the environment.",
    )
    @functools.wraps(f)
    def wrapper(*args, data_dir, env_file, **kwargs):
        from bot.settings import Settings
        from ingest.errors import NewsbotError
        from ingest.lock import IndexBusy

        try:
            settings = Settings.load(env_file, data_dir=data_dir)
            logging.basicConfig(level=settings.core.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
            for noisy in ("chromadb", "httpx", "httpx2", "openai", "sentence_transformers"):
                logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
            return f(*args, settings=settings, **kwargs)
        except IndexBusy as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(EXIT_BUSY)
        except NewsbotError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsbot")
def cli():
    """Ask questions about news articles and get answers with citations you can check."""


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--prune", is_flag=True, help="Delete indexed articles that are no longer in PATHS.")
@click.option(
    "--no-wait", is_flag=True, help="Fail (exit 4) instead of waiting while another newsbot writes to the index."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@common
def ingest(sources, prune, no_wait, as_json, settings):
    """Add articles from files, folders (.txt, .md, .html, .jsonl, .jsonl.gz) or article URLs to the index.

    Unchanged articles are skipped; changed ones are re-embedded. Unreadable input is reported and
    skipped, and the exit code is 3 when that happened.
    """
    from bot.render import printable
    from bot.service import build_embedder, open_index
    from ingest.pipeline import ingest as run_ingest
    from ingest.pipeline import load_sources

    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    report = run_ingest(
        load_sources(sources, settings.fetch_limits),
        index,
        embedder,
        split=settings.core.split,
        prune=prune,
        progress=not as_json and sys.stderr.isatty(),
        wait=not no_wait,
        on_wait=lambda message: click.echo(message, err=True),
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for problem in report.skipped:
            click.echo(printable(f"skipped: {problem}"), err=True)
        click.echo(report.summary())
    if report.skipped:
        sys.exit(EXIT_SKIPPED)


@cli.command()
@click.argument("question")
@click.option("--as-of", callback=_date, help="Answer as on this day (YYYY-MM-DD): later articles are ignored.")
@click.option(
    "--k", type=click.IntRange(1, 50), default=None, help="How many passages to retrieve [default: NEWSBOT_TOP_K]."
)
@click.option(
    "--llm/--no-llm",
    default=None,
    help="Answer with the language model of LLM_PROVIDER, or without [default: LLM_PROVIDER set].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as a JSON object.")
@common
def ask(question, as_of, k, llm, as_json, settings):
    """Answer QUESTION from the ingested articles, citing them as [n]."""
    from bot.render import render_text
    from bot.service import build_bot

    bot = build_bot(settings, llm=llm)
    stream = _Streamer() if not as_json and sys.stdout.isatty() else None
    answer = bot.ask(question, as_of=as_of, k=k, on_token=stream)
    if as_json:
        click.echo(json.dumps(answer.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(answer, streamed=stream.text if stream else None))


class _Streamer:
    """Prints an LLM's answer as it is written (on a terminal), remembering what was shown."""

    def __init__(self):
        self.text = ""

    def __call__(self, piece: str) -> None:
        self.text += piece
        from bot.render import printable

        click.echo(printable(piece), nl=False)
        sys.stdout.flush()


@cli.command()
@click.option("--as-of", callback=_date, help="Answer as on this day (YYYY-MM-DD).")
@click.option("--llm/--no-llm", default=None, help="Answer with the language model of LLM_PROVIDER, or without.")
@common
def chat(as_of, llm, settings):
    """Talk with the bot: follow-up questions ("who did he meet?") use the conversation so far."""
    from bot.render import render_text
    from bot.service import build_bot
    from bot.types import Turn
    from ingest.errors import NewsbotError

    bot = build_bot(settings, llm=llm)
    bot.index.require_content()
    history: list[Turn] = []
    click.echo("Ask about the news; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        click.echo("newsbot> ", nl=False)
        stream = _Streamer() if sys.stdout.isatty() else None
        try:
            answer = bot.ask(question, history=history, as_of=as_of, on_token=stream)
        except NewsbotError as e:
            click.echo(str(e))
            continue
        click.echo(render_text(answer, streamed=stream.text if stream else None))
        history.append(Turn(question, answer.text))


@cli.group()
def feeds():
    """Follow RSS/Atom feeds and folders: `newsbot watch` ingests what they publish."""


@feeds.command("add")
@click.argument("source")
@click.option(
    "--name", default=None, help="A short name for lists and `feeds remove` [default: the host or folder name]."
)
@common
def feeds_add(source, name, settings):
    """Follow SOURCE, a feed URL (RSS or Atom) or a folder of article files."""
    from bot.service import open_sources

    s = open_sources(settings).add(source, name)
    click.echo(f"following {s.kind} {s.name}: {s.url}\nrun `newsbot watch` (or `newsbot serve --watch`) to ingest it")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@common
def feeds_list(as_json, settings):
    """Show the followed feeds and folders with their last poll and error."""
    from bot.service import open_sources
    from ingest.feeds import describe_sources

    rows = describe_sources(open_sources(settings).all())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no feeds or folders followed; add one with `newsbot feeds add URL`")
    for r in [] if as_json else rows:
        state = f"error: {r['last_error']}" if r["last_error"] else f"last ok {r['last_ok'] or 'never'}"
        click.echo(f"{r['name']}  ({r['kind']})  {r['url']}\n    {state}")


@feeds.command("remove")
@click.argument("source")
@common
def feeds_remove(source, settings):
    """Stop following SOURCE (its URL, folder or name); articles already ingested stay."""
    from bot.service import open_sources

    s = open_sources(settings).remove(source)
    click.echo(f"no longer following {s.name}")


@cli.command()
@click.option("--once", is_flag=True, help="Poll every source once and exit (for cron and tests).")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the poll report as JSON.")
@common
def watch(once, as_json, settings):
    """Poll followed feeds and folders every NEWSBOT_WATCH_INTERVAL seconds and ingest new or changed items."""
    import dataclasses
    import time

    from bot.render import printable
    from bot.service import build_bot, build_watcher

    bot = build_bot(settings, llm=False)
    watcher = build_watcher(settings, bot)
    if not watcher.store.all():
        raise click.ClickException("nothing to watch: add a feed or folder with `newsbot feeds add URL`")
    while True:
        report = watcher.poll(force=once)
        if as_json:
            d = dataclasses.asdict(report)
            d["ingest"] = report.ingest.as_dict()
            click.echo(json.dumps(d, indent=2))
        else:
            for problem in report.problems:
                click.echo(printable(f"problem: {problem}"), err=True)
            click.echo(report.summary())
        if once:
            sys.exit(EXIT_SKIPPED if report.problems else 0)
        time.sleep(min(settings.core.watch_interval, 60))


@cli.command()
@click.option("--watch", "with_watch", is_flag=True, help="Also poll followed feeds and folders in the background.")
@common
def serve(with_watch, settings):
    """Run the Discord bot: /ask, /sources, /ingest, and @mentions answered in threads.

    Needs DISCORD_TOKEN (environment or .env); see README "Discord" for creating the app.
    """
    token = settings.discord.token.get_secret_value().strip() if settings.discord.token else ""
    if not token:
        raise click.ClickException(
            "DISCORD_TOKEN is not set: put your bot's token in .env or the environment (README, section Discord)"
        )
    import discord

    from bot.discord_app.app import NewsbotApp
    from bot.service import build_bot, build_watcher

    bot = build_bot(settings)
    bot.embedder.embed(["warm up"])  # load the model before the first question, not during it
    app = NewsbotApp(settings, bot, watcher=build_watcher(settings, bot) if with_watch else None)
    discord.VoiceClient.warn_nacl = False
    try:
        app.run(token, log_handler=None)  # logging is configured above; discord.py never logs the token
    except discord.LoginFailure:
        raise click.ClickException(
            "Discord refused the token in DISCORD_TOKEN; copy it again from the Bot tab"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise click.ClickException(
            "DISCORD_MESSAGE_CONTENT=true needs the Message Content intent switched on in "
            "the Developer Portal (Bot tab), or set it to false"
        ) from None


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as a JSON object.")
@common
def stats(as_json, settings):
    """Show what the index holds: articles, passages, dates, model, last ingest."""
    from bot.service import index_folder
    from ingest.manifest import stats_of

    s = stats_of(index_folder(settings))
    d = {
        "articles": s.articles,
        "passages": s.passages,
        "oldest": s.oldest and s.oldest.isoformat(),
        "newest": s.newest and s.newest.isoformat(),
        "model": s.model,
        "last_ingest": date.fromtimestamp(s.last_ingest).isoformat() if s.last_ingest else None,
    }
    click.echo(json.dumps(d, indent=2) if as_json else "\n".join(f"{k}: {v}" for k, v in d.items()))


@cli.command("eval")
@click.argument("set_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for predictions.jsonl, metrics.json, report.md, report.png [default: runs/<set>].",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option(
    "--k", type=click.IntRange(1, 50), default=None, help="Passages given to the answerer [default: NEWSBOT_TOP_K]."
)
@click.option("--answerer", default="extractive", show_default=True, help="Which answerer to evaluate.")
@click.option(
    "--baseline",
    type=click.Choice(["langchain-tutorial"]),
    default=None,
    help="Evaluate the LangChain RAG tutorial pipeline instead, on the same data and model.",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Another run's metrics.json to print side by side with deltas.",
)
@click.option("--fresh", is_flag=True, help="Answer every question again instead of resuming OUT.")
@click.option("--recompute", is_flag=True, help="Only recompute metrics from OUT/predictions.jsonl and print them.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json instead of the table.")
@common
def eval_(set_dir, out, limit, k, answerer, baseline, compare, fresh, recompute, as_json, settings):
    """Score newsbot on an eval set (e.g. ../shared/eval/dev): retrieval, answers, abstention, speed.

    The set's articles are ingested into an index of their own (reused while corpus, model and
    splitting settings are unchanged); every question is answered through the same ask() as the CLI,
    as of the question's date. Ctrl-C keeps what is done; running again resumes.
    """
    from bot.evaluation.report import answered_by_line, compare_table, load_metrics
    from bot.evaluation.run import recompute as recompute_metrics
    from bot.evaluation.run import run_eval

    out = out or Path("runs") / (set_dir.name + ("-" + baseline if baseline else ""))
    if k:
        settings = settings.model_copy(update={"core": settings.core.model_copy(update={"top_k": k})})
    if recompute:
        click.echo(json.dumps(recompute_metrics(out, set_dir), indent=2))
        return
    if fresh:
        (out / "predictions.jsonl").unlink(missing_ok=True)
    metrics = run_eval(
        set_dir, out, settings, limit=limit, answerer=answerer, baseline=baseline, progress=sys.stderr.isatty()
    )
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    other = load_metrics(compare) if compare else {}
    click.echo(compare_table(metrics, other, metrics["config"]["system"], str(compare) if compare else "–"))
    if by := answered_by_line(metrics):
        click.echo(f"\n{by}")
    click.echo(f"\nwritten: {out}/predictions.jsonl, metrics.json, report.md, report.png")


@cli.command()
@click.argument(
    "set_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default="../shared/eval/train"
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the reader is written [default: NEWSBOT_READER_DIR, the shipped models/reader].",
)
@click.option(
    "--measure",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    multiple=True,
    help="An eval set to score the new reader on afterwards, for its model card (repeatable; never fitted on).",
)
@click.option("--seed", type=int, default=None, help="Random seed [default: the one in FitSettings].")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Train with one FitSettings field changed, e.g. --set fold_nulls=true --set later_days=30,300 (repeatable; "
    "for experiments: the defaults are the shipped reader's recipe).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the training metrics as a JSON object.")
@common
def train(set_dir, out, measure, seed, overrides, as_json, settings):
    """Fit the learned reader (prefilter, cross-encoder, combiner, abstention) on an eval set's questions, e.g.
    ../shared/eval/train, and write it with its model card. Takes tens of minutes; answering never trains.
    """
    import dataclasses

    from bot.reader.fit import FitSettings, with_overrides
    from bot.reader.fit import train as run_training

    fit_settings = FitSettings() if seed is None else dataclasses.replace(FitSettings(), seed=seed)
    try:
        fit_settings = with_overrides(fit_settings, overrides)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--set") from None
    out = out or settings.core.reader_dir
    result = run_training(
        settings,
        set_dir,
        out,
        measure=measure,
        fit_settings=fit_settings,
        progress=sys.stderr.isatty() and not as_json,
        report=lambda line: click.echo(line, err=True),
    )
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        click.echo(f"written: {out} (model card {out / 'README.md'})")


def main() -> None:
    cli(prog_name="newsbot")


if __name__ == "__main__":
    main()
