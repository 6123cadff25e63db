"""``tillwise risk stream|replay|evaluate|inject``: the risk scorer offline, on a file of generic
events (``stream`` writes one from the simulator POS).

The file holds one generic webhook body per line (``{"event", "created_at", "data"}``, see
``docs/generic-connector.md``), in time order. Each line goes through the generic connector's
parser and normalizer, then :func:`~tillwise.workflows.risk.from_canonical`, then the scorer,
whose baselines are learned from the stream as it goes (score, then observe). Lines the scorer
does not score (products, stock, customers, ...) are read and skipped; ``location.updated``
gives the stores' time zones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ._common import console, fail, print_table

risk_app = typer.Typer(
    help="Risk scoring offline: replay a file of generic events, evaluate against labels.",
    no_args_is_help=True,
)


class BadLine(Exception):
    def __init__(self, path: Path, lineno: int, detail: str) -> None:
        super().__init__(f"{path}:{lineno}: {detail}")


@dataclass(frozen=True)
class Replayed:
    lineno: int
    event: str  # the generic event name
    id: str  # the event data's id
    risk: Any  # RiskEvent
    assessment: Any  # Assessment


def replay_file(path: Path, scorer: Any, *, connection: str = "replay") -> Iterator[Replayed]:
    """Every scored event of the file, in order (the scorer assesses each: score, observe).
    :class:`BadLine` names the file and line of the first line that is not a valid body."""
    from tillwise.connectors.generic.normalize import PLATFORM, normalize
    from tillwise.domain.errors import DomainError
    from tillwise.domain.locations import Location
    from tillwise.ports.inbox import RawDelivery
    from tillwise.ports.platform import PayloadError
    from tillwise.workflows.risk import from_canonical

    locations: dict[str, Location] = {}
    received = datetime.now(UTC)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BadLine(path, 0, f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            delivery = RawDelivery(
                platform=PLATFORM,
                connection_id=connection,
                event_id=f"line-{lineno}",
                topic="",
                body=raw.strip(),
                received_at=received,
            )
            try:
                batch = normalize(delivery)
            except PayloadError as exc:
                raise BadLine(path, lineno, exc.detail) from exc
            except (DomainError, ValueError, TypeError) as exc:
                raise BadLine(path, lineno, str(exc)) from exc
            records = {r.id: r for r in batch.records}
            for rec in batch.records:
                if isinstance(rec, Location):
                    locations[rec.external_id] = rec
            for env in batch.events:
                record = records.get(env.subject or "")
                loc_id = env.data.get("location_external_id")
                if loc_id is None and record is not None:
                    loc_id = getattr(record, "location_external_id", None)
                ev = from_canonical(env, record, locations.get(str(loc_id)))
                if ev is None:
                    continue
                # the canonical type: the generic name, with the alias sale.refunded resolved
                yield Replayed(lineno, env.type, ev.id, ev, scorer.assess(ev))


def _scorer(review: float, manager: float, seed: int) -> Any:
    from tillwise.workflows.risk import RiskScorer

    try:
        return RiskScorer(review_threshold=review, manager_threshold=manager, seed=seed)
    except ValueError as exc:
        fail(str(exc))


def flag_json(r: Replayed) -> dict[str, Any]:
    a = r.assessment
    return {
        "id": r.id,
        "event": r.event,
        "score": round(a.score, 4),
        "decision": a.decision,
        "reasons": [
            {"code": x.code, "weight": round(x.weight, 4), "evidence": x.evidence, "text": x.text}
            for x in a.reasons
        ],
        "store": a.store,
        "occurred_at": r.risk.occurred_at.isoformat().replace("+00:00", "Z"),
        "employee_id": r.risk.employee_id,
        "model": a.model,
        "version": a.version,
    }


REVIEW = typer.Option(0.5, "--review-threshold", help="score from which an event is flagged")
MANAGER = typer.Option(0.8, "--manager-threshold", help="score from which a manager must approve")
CONNECTION = typer.Option("replay", "--connection", help="connection id the stores belong to")
SEED = typer.Option(0, "--seed", help="seed of the anomaly model")


@risk_app.command("stream")
def stream_cmd(
    out: Path = typer.Option(..., "--out", help="where to write the events (JSON lines)"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="at most this many events"),
    data: Path | None = typer.Option(
        None, "--data", help="a parquet file of Online Retail II rows (default: the bundled subset)"
    ),
    seed: int | None = typer.Option(None, "--seed", help="seed of the simulator's till scheme"),
    everything: bool = typer.Option(
        False, "--all", help="every event the POS sends (products, customers, stock levels too)"
    ),
) -> None:
    """Write the simulator POS's replay as generic webhook bodies, one per line, in time order:
    what ``risk replay --events`` and ``risk inject --events`` read."""
    from tillwise.connectors.simulator.dataset import load_invoices
    from tillwise.connectors.simulator.export import TILL_EVENTS, webhook_bodies, write_jsonl
    from tillwise.connectors.simulator.tills import DEFAULT_SEED

    try:
        invoices = load_invoices(data)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"{data or 'the bundled subset'}: {exc}")
    bodies = webhook_bodies(
        invoices,
        seed=DEFAULT_SEED if seed is None else seed,
        events=None if everything else TILL_EVENTS,
        limit=limit,
    )
    n = write_jsonl(bodies, out)
    console.print(f"wrote {n} events ({len(invoices)} invoices) to {out}")


@risk_app.command("replay")
def replay_cmd(
    events: Path = typer.Option(..., "--events", help="JSON lines: one generic webhook body each"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per flagged event"),
    review: float = REVIEW,
    manager: float = MANAGER,
    connection: str = CONNECTION,
    seed: int = SEED,
) -> None:
    """Replay events through the scorer (baselines learned as it goes) and print the flags."""
    scorer = _scorer(review, manager, seed)
    table = Table(title=str(events))
    for name in ("line", "event", "id", "score", "decision", "reasons"):
        table.add_column(name, overflow="fold")
    scored = flagged = 0
    try:
        for r in replay_file(events, scorer, connection=connection):
            scored += 1
            if r.assessment.decision == "allow":
                continue
            flagged += 1
            if as_json:
                typer.echo(json.dumps(flag_json(r), default=str, separators=(",", ":")))
            else:
                table.add_row(
                    str(r.lineno),
                    r.event,
                    r.id,
                    f"{r.assessment.score:.2f}",
                    r.assessment.decision,
                    ", ".join(x.code for x in r.assessment.reasons),
                )
    except BadLine as exc:
        fail(str(exc))
    if not as_json:
        print_table(table)
        console.print(f"{scored} events scored, {flagged} flagged; model {scorer.version}")


def read_labels(path: Path) -> list[dict[str, str]]:
    """JSON lines ``{"id", "event"?, "pattern"?, "case"?}`` (what ``risk inject`` writes)."""
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadLine(path, 0, f"cannot read: {exc.strerror or exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise BadLine(path, lineno, f"not valid JSON: {exc}") from exc
        if not isinstance(obj, dict) or not obj.get("id"):
            raise BadLine(path, lineno, "a label needs an id (and may name its event)")
        out.append({k: str(v) for k, v in obj.items() if v is not None})
    return out


def week_of(r: Replayed) -> str:
    y, w, _ = r.risk.local_day.isocalendar()
    return f"{y}-W{w:02d}"


@risk_app.command("evaluate")
def evaluate_cmd(
    events: Path = typer.Option(..., "--events", help="JSON lines: one generic webhook body each"),
    labels: Path = typer.Option(..., "--labels", help="JSON lines: {id, event, pattern, case}"),
    capacity: int = typer.Option(20, "--capacity", min=1, help="flags reviewed per store-week"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    review: float = REVIEW,
    manager: float = MANAGER,
    connection: str = CONNECTION,
    seed: int = SEED,
) -> None:
    """Precision and recall of the flags reviewers can work: the top --capacity of every
    store-week."""
    from tillwise.workflows.risk.injector import Scored, evaluate_flags

    scorer = _scorer(review, manager, seed)
    try:
        labs = read_labels(labels)
        scored = [
            Scored(
                event=r.event,
                id=r.id,
                store=r.assessment.store,
                week=week_of(r),
                score=r.assessment.score,
                decision=r.assessment.decision,
            )
            for r in replay_file(events, scorer, connection=connection)
        ]
    except BadLine as exc:
        fail(str(exc))
    ev = evaluate_flags(scored, labs, capacity)
    if as_json:
        typer.echo(json.dumps(ev.as_dict(), indent=2))
        return
    console.print(
        f"[bold]top {capacity} flags per store-week[/]: precision {ev.precision:.1%} "
        f"({ev.hits}/{ev.selected}), recall {ev.recall:.1%} "
        f"({ev.hits}/{ev.labelled + ev.labels_missing}), cases caught {ev.case_recall:.1%} "
        f"({ev.cases_hit}/{ev.cases})"
    )
    console.print(
        f"untouched events flagged: {ev.false_flag_rate:.2%} "
        f"({ev.untouched_flagged}/{ev.untouched}); {ev.scored} events scored, "
        f"{ev.flagged} flagged"
    )
    table = Table("pattern", "caught", "labelled", "recall")
    for name, (hit, total) in sorted(ev.by_pattern.items()):
        table.add_row(name, str(hit), str(total), f"{hit / total:.0%}" if total else "—")
    console.print(table)


@risk_app.command("inject")
def inject_cmd(
    events: Path = typer.Option(..., "--events", help="JSON lines: one generic webhook body each"),
    out: Path = typer.Option(..., "--out", help="where to write the stream with the patterns"),
    labels: Path = typer.Option(..., "--labels", help="where to write the labels (JSON lines)"),
    seed: int = typer.Option(0, "--seed", help="seed of the injector"),
    per_kind: int = typer.Option(3, "--per-kind", min=0, help="incidents of every pattern"),
    patterns: Path | None = typer.Option(
        None, "--patterns", help='JSON list of patterns, e.g. [{"pattern": "card_testing"}]'
    ),
) -> None:
    """Inject known loss patterns (seeded) and write the stream and its labels."""
    from tillwise.connectors.simulator.export import write_jsonl
    from tillwise.workflows.risk.injector import default_patterns, inject, pattern_from_dict

    bodies = []
    try:
        text = events.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{events}: cannot read: {exc.strerror or exc}")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
        except ValueError as exc:
            fail(f"{events}:{lineno}: not valid JSON: {exc}")
        if not isinstance(body, dict) or "event" not in body or "data" not in body:
            fail(f"{events}:{lineno}: expected a generic webhook body (event, created_at, data)")
        bodies.append(body)
    if patterns is not None:
        try:
            specs = json.loads(patterns.read_text(encoding="utf-8"))
            chosen = [pattern_from_dict(s) for s in specs]
        except (OSError, ValueError, TypeError) as exc:
            fail(f"{patterns}: {exc}")
    else:
        chosen = default_patterns(per_kind, seed)
    try:
        result = inject(bodies, chosen, seed=seed)
    except (ValueError, KeyError) as exc:
        fail(f"{events}: {exc}")
    write_jsonl(result.events, out)
    write_jsonl(result.labels, labels)
    console.print(
        f"wrote {len(result.events)} events to {out} and {len(result.labels)} labels "
        f"({len({lab['case'] for lab in result.labels})} incidents) to {labels}"
    )
