"""`tillwise risk stream|replay|evaluate|inject` on small generic-event files.

The fixtures come from ``tests/fixtures/risk/make_fixtures.py``: a synthetic shop's stream as the
simulator POS sends it (its seeded till scheme), with three loss patterns injected and labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tillwise.cli import app
from tillwise.connectors.simulator.export import TILL_EVENTS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "risk"
EVENTS = FIXTURES / "events.jsonl"
LABELS = FIXTURES / "labels.jsonl"
runner = CliRunner()


def test_replay_json_prints_one_object_per_flagged_event() -> None:
    result = runner.invoke(app, ["risk", "replay", "--events", str(EVENTS), "--json"])
    assert result.exit_code == 0, result.output
    flags = [json.loads(line) for line in result.output.splitlines()]
    assert flags, "the injected patterns are flagged"
    for f in flags:
        assert {"id", "event", "score", "decision", "reasons"} <= set(f)
        assert f["decision"] in ("review", "require_manager")
        assert 0.5 <= f["score"] <= 1.0
        assert f["reasons"] and all(
            {"code", "weight", "evidence", "text"} <= set(r) for r in f["reasons"]
        )
        assert f["model"] == "tillwise-risk" and f["version"].startswith("rules-")
    labelled = {(x["event"], x["id"]) for x in map(json.loads, LABELS.read_text().splitlines())}
    caught = [f for f in flags if (f["event"], f["id"]) in labelled]
    assert len(caught) >= len(flags) * 0.8  # mostly the injected events, few others
    codes = {r["code"] for f in caught for r in f["reasons"]}
    assert {"refund_without_receipt", "card_testing", "no_sale_drawer"} <= codes


def test_replay_table_names_the_flags() -> None:
    result = runner.invoke(app, ["risk", "replay", "--events", str(EVENTS)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "events scored" in result.output and "flagged" in result.output
    assert "refund.created" in result.output and "refund_without_receipt" in result.output


def _evaluate(capacity: int) -> dict:
    args = ["risk", "evaluate", "--events", str(EVENTS), "--labels", str(LABELS)]
    result = runner.invoke(app, [*args, "--capacity", str(capacity), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_evaluate_prints_precision_and_recall_at_the_capacity() -> None:
    figures = _evaluate(20)
    assert figures["capacity_per_store_week"] == 20
    assert figures["labelled"] == len(LABELS.read_text().splitlines())
    assert figures["precision"] >= 0.8 and figures["recall"] >= 0.6
    assert figures["case_recall"] == 1.0
    assert figures["false_flag_rate"] <= 0.01
    assert set(figures["recall_by_pattern"]) == {
        "refunds_without_sale",
        "card_testing",
        "no_sale_abuse",
    }
    assert _evaluate(2)["recall"] < figures["recall"]  # fewer reviewed, fewer caught


def test_a_bad_line_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    bad = FIXTURES / "bad.jsonl"
    result = runner.invoke(app, ["risk", "replay", "--events", str(bad), "--json"])
    assert result.exit_code == 1
    assert f"{bad}:2:" in result.output and "data.total_money" in result.output
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"event": "sale.completed"\n')
    result = runner.invoke(app, ["risk", "replay", "--events", str(junk)])
    assert result.exit_code == 1 and f"{junk}:1:" in result.output
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"pattern": "x"}\n')
    result = runner.invoke(
        app, ["risk", "evaluate", "--events", str(EVENTS), "--labels", str(labels)]
    )
    assert result.exit_code == 1 and f"{labels}:1:" in result.output


def test_inject_writes_a_stream_and_labels_that_evaluate_reads(tmp_path: Path) -> None:
    out, labels = tmp_path / "out.jsonl", tmp_path / "labels.jsonl"
    patterns = tmp_path / "patterns.json"
    patterns.write_text(json.dumps([{"pattern": "gift_card_burst", "count": 5}]))
    result = runner.invoke(
        app,
        [
            "risk",
            "inject",
            "--events",
            str(EVENTS),
            "--out",
            str(out),
            "--labels",
            str(labels),
            "--patterns",
            str(patterns),
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    labs = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(labs) == 5 and {x["pattern"] for x in labs} == {"gift_card_burst"}
    assert len(out.read_text().splitlines()) == len(EVENTS.read_text().splitlines()) + 5


def test_stream_writes_the_simulator_replay_that_replay_reads(tmp_path: Path) -> None:
    out = tmp_path / "stream.jsonl"
    result = runner.invoke(app, ["risk", "stream", "--out", str(out), "--limit", "600"])
    assert result.exit_code == 0, result.output
    bodies = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(bodies) == 600 and bodies[0]["event"] == "location.updated"
    assert [b["created_at"] for b in bodies] == sorted(b["created_at"] for b in bodies)
    sales = [b["data"] for b in bodies if b["event"] == "sale.completed"]
    assert sales and all(s["employee_id"] and s["register_id"] for s in sales)
    assert {b["event"] for b in bodies} <= TILL_EVENTS
    replayed = runner.invoke(app, ["risk", "replay", "--events", str(out), "--json"])
    assert replayed.exit_code == 0, replayed.output
