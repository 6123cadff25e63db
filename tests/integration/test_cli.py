"""The `tillwise` command against a real SQLite database, as an operator would use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.helpers import REFERENCE_SALE_BYTES, make_container, run
from tillwise.cli import app
from tillwise.cli._common import open_container
from tillwise.ports.inbox import RawDelivery


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TILLWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'tw.db'}")
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return runner


def test_connection_and_token_are_created_and_printed_as_json(cli: CliRunner) -> None:
    added = cli.invoke(
        app,
        ["connections", "add", "generic", "--name", "Main St", "--secret-stdin", "--json"],
        input="whsec_from_stdin\n",
    )
    assert added.exit_code == 0, added.output
    connection = json.loads(added.output)
    assert connection["webhook_path"] == f"/webhooks/generic/{connection['id']}"
    assert "whsec_from_stdin" not in added.output

    created = cli.invoke(app, ["tokens", "create", "--role", "admin", "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["token"].startswith("tw_")


def test_bad_input_gets_a_clear_message_and_changes_nothing(cli: CliRunner) -> None:
    no_secret = cli.invoke(app, ["connections", "add", "generic", "--name", "X"])
    assert no_secret.exit_code == 1 and "--secret-stdin" in no_secret.output
    unknown = cli.invoke(
        app, ["connections", "add", "nopos", "--name", "X", "--secret-stdin"], input="s\n"
    )
    assert unknown.exit_code == 1 and "unknown platform 'nopos'" in unknown.output
    role = cli.invoke(app, ["tokens", "create", "--role", "emperor"])
    assert role.exit_code == 1 and "unknown role 'emperor'" in role.output
    url = ["--api-base-url", "ftp://pos.example"]
    bad_url = cli.invoke(
        app, ["connections", "add", "generic", "--name", "Y", "--secret-stdin", *url], input="s\n"
    )
    assert bad_url.exit_code == 1 and "api_base_url must be an http(s) URL" in bad_url.output
    listed = cli.invoke(app, ["connections", "list"])
    assert "nopos" not in listed.output and "Y" not in listed.output.split()


def test_a_connection_takes_the_pos_api_that_write_backs_go_to(cli: CliRunner) -> None:
    added = cli.invoke(
        app,
        ["connections", "add", "generic", "--name", "Sim", "--secret-stdin", "--json"]
        + ["--api-base-url", "http://127.0.0.1:8001"],
        input="s3cret\n",
    )
    assert added.exit_code == 0, added.output
    connection = json.loads(added.output)
    assert connection["api_base_url"] == "http://127.0.0.1:8001"
    with open_container() as c:
        stored = c.connections.get(connection["id"])
    assert stored is not None and stored.api_base_url == "http://127.0.0.1:8001"
    # the POS moved: write-backs follow it
    moved = cli.invoke(app, ["connections", "set-api-url", connection["id"], "https://pos.example"])
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.output)["api_base_url"] == "https://pos.example"
    bad = cli.invoke(app, ["connections", "set-api-url", connection["id"], "pos.example"])
    assert bad.exit_code == 1 and "api_base_url must be an http(s) URL" in bad.output
    unknown = cli.invoke(app, ["connections", "set-api-url", "con_doesnotexist0000", ""])
    assert unknown.exit_code == 1 and "no connection 'con_doesnotexist0000'" in unknown.output
    with open_container() as c:
        stored = c.connections.get(connection["id"])
    assert stored is not None and stored.api_base_url == "https://pos.example"


def test_audit_verify_names_the_first_edited_entry(cli: CliRunner, tmp_path: Path) -> None:
    for name in ("A", "B", "C"):
        cli.invoke(
            app,
            ["connections", "add", "generic", "--name", name, "--secret-stdin"],
            input="s3cret\n",
        )
    ok = cli.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "3 entries verified" in ok.output

    container = make_container(f"sqlite:///{tmp_path / 'tw.db'}", tmp_path)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = 2"))
    run(container.close())

    broken = cli.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 2
    assert "entry 2" in broken.output


def test_dead_letters_are_listed_and_replayed(cli: CliRunner, tmp_path: Path) -> None:
    # given a stored delivery whose shape is wrong, parked as a dead letter by the pipeline
    from tests.helpers import pump

    url = f"sqlite:///{tmp_path / 'tw.db'}"
    container = make_container(url, tmp_path)
    conn = container.connections.create("generic", "S", ["s"], actor="test")
    bad = json.loads(REFERENCE_SALE_BYTES)
    bad["data"]["line_items"][0]["price"] = "lots"
    run(
        container.inbox.accept(
            RawDelivery(
                platform="generic",
                connection_id=conn.id,
                event_id="e1",
                topic="sale.completed",
                body=json.dumps(bad).encode(),
                received_at=container.clock.now(),
            )
        )
    )
    run(pump(container))
    run(container.close())

    listed = cli.invoke(app, ["deadletters", "list", "--json"])
    [letter] = json.loads(listed.output)
    assert letter["consumer"] == "normalizer"

    replayed = cli.invoke(app, ["deadletters", "replay", str(letter["id"])])
    assert replayed.exit_code == 0 and "replayed 1" in replayed.output
    again = cli.invoke(app, ["deadletters", "replay", str(letter["id"])])
    assert again.exit_code == 1 and "already replayed" in again.output
    assert json.loads(cli.invoke(app, ["deadletters", "list", "--json"]).output) == []


def test_replay_rebuilds_canonical_state_from_the_inbox(cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    container = make_container(url, tmp_path)
    conn = container.connections.create("generic", "S", ["s"], actor="test")
    run(
        container.inbox.accept(
            RawDelivery(
                platform="generic",
                connection_id=conn.id,
                event_id="e1",
                topic="sale.completed",
                body=REFERENCE_SALE_BYTES,
                received_at=container.clock.now(),
            )
        )
    )
    run(container.close())

    result = cli.invoke(app, ["replay", "--connection", conn.id])
    assert result.exit_code == 0, result.output
    assert "replayed 1 deliveries, 0 failed" in result.output
    container = make_container(url, tmp_path)
    with container.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1
    run(container.close())


def test_worker_refuses_an_unmigrated_database_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLWISE_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "tillwise db upgrade" in result.output and "revision none" in result.output


def test_users_are_added_listed_and_disabled_and_the_audit_exports(
    cli: CliRunner, tmp_path: Path
) -> None:
    added = cli.invoke(
        app,
        [
            "users",
            "add",
            "mia",
            "--role",
            "store_manager",
            "--store",
            "con_x:loc-1",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    short = cli.invoke(
        app, ["users", "add", "bo", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "password" in short.output
    unscoped = cli.invoke(
        app,
        ["users", "add", "al", "--role", "associate", "--password-stdin"],
        input="a long enough password\n",
    )
    assert unscoped.exit_code == 1 and "stores" in unscoped.output

    listed = cli.invoke(app, ["users", "list", "--json"])
    [user] = json.loads(listed.output)
    assert user["username"] == "mia" and user["stores"] == ["con_x:loc-1"]
    assert "password" not in listed.output

    assert cli.invoke(app, ["users", "disable", "mia"]).exit_code == 0
    assert json.loads(cli.invoke(app, ["users", "list", "--json"]).output)[0]["disabled_at"]

    out = tmp_path / "audit.jsonl"
    exported = cli.invoke(app, ["audit", "export", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    actions = [json.loads(line)["action"] for line in out.read_text().splitlines()]
    assert actions == ["user.added", "user.disabled"]
    assert "a long enough password" not in out.read_text()
    assert cli.invoke(app, ["audit", "verify"]).exit_code == 0
