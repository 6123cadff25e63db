"""Sub-commands: serve, worker, demo, simulate, db, connections, tokens, deadletters,
replay, backfill, inspect, connect, audit, users, regions, modes."""

from __future__ import annotations

import typer

from . import admin, forecast, people, platforms, replenish, risk, runtime, vendors

app = typer.Typer(
    name="tillwise",
    help="Tillwise: the AI layer beside your point of sale.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(runtime.serve)
app.command("worker")(runtime.worker)
app.command("demo")(runtime.demo)
app.command("simulate")(runtime.simulate)
app.command("replay")(admin.replay)
app.command("backfill")(platforms.backfill)
app.command("inspect")(platforms.inspect)
app.command("connect")(platforms.connect)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.connections_app, name="connections")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(admin.deadletters_app, name="deadletters")
app.add_typer(admin.audit_app, name="audit")
admin.audit_app.command("export")(people.audit_export)
app.add_typer(people.users_app, name="users")
app.add_typer(people.regions_app, name="regions")
app.add_typer(people.modes_app, name="modes")
app.add_typer(forecast.forecast_app, name="forecast")
app.add_typer(replenish.replenish_app, name="replenish")
app.add_typer(vendors.vendors_app, name="vendors")
app.add_typer(risk.risk_app, name="risk")
