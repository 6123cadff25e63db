"""create_app(container): the FastAPI application (no import-time app, engine or settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tillwise import __version__
from tillwise.bootstrap import Container

from . import webhooks
from .problems import RefuseNul, install_problem_handlers
from .routes import admin, governance, oauth, pipeline, records, replenishment, risk, vendors


def _operation_id(route: APIRoute) -> str:
    return route.name


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def create_app(
    container: Container,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Tillwise",
        version=__version__,
        summary="The AI layer beside your point of sale.",
        lifespan=lifespan or _no_lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.container = container
    install_problem_handlers(app)
    # The ingest hot path sits on the app's own router, matched first: an included router
    # costs every request FastAPI's per-inclusion route resolution (same route, same OpenAPI).
    for route in webhooks.router.routes:
        if isinstance(route, APIRoute):  # the operation id an inclusion would have given it
            route.unique_id = route.operation_id or _operation_id(route)
    app.router.routes[:0] = webhooks.router.routes
    app.add_middleware(webhooks.WebhookFastPath)
    app.add_middleware(RefuseNul)
    app.include_router(records.router)
    app.include_router(pipeline.router)
    app.include_router(admin.router)
    app.include_router(governance.router)
    app.include_router(oauth.router)
    app.include_router(replenishment.router)
    app.include_router(risk.router)
    app.include_router(vendors.router)
    from tillwise.web.routes import mount_dashboard

    mount_dashboard(app)

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
