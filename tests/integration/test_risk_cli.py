"""`tillwise risk replay|evaluate|inject` on small generic-event files.

The fixtures come from ``tests/fixtures/risk/make_fixtures.py``: a synthetic shop's stream made
by the seeded scheme of the retail generator, with three loss patterns injected and labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tillwise.cli import app

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


def test_evaluate_prints_precision_and_recall_at_the_capacity() -> None:
    result = runner.invoke(
        app,
        [
            "risk",
            "evaluate",
            "--events",
            str(EVENTS),
            "--labels",
            str(LABELS),
            "--capacity",
            "20",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
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
    tight = runner.invoke(
        app,
        [
            "risk",
            "evaluate",
            "--events",
            str(EVENTS),
            "--labels",
            str(LABELS),
            "--capacity",
            "2",
            "--json",
        ],
    )
    assert json.loads(tight.output)["recall"] < figures["recall"]  # fewer reviewed, fewer caught


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
