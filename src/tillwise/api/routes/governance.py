"""People, approvals and rollout: login, users, regions, stores, proposals, workflow modes,
approval rules, rollouts. Every route is authorized here by permission and store scope; every
change is audited by the governance services it calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, SecretStr

from tillwise.ai import explain
from tillwise.domain.locations import Location, store_key
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, ProposalKind, proposal_id
from tillwise.governance import costs
from tillwise.governance.approvals import STATUSES, ProposalRecord
from tillwise.governance.principal import Principal
from tillwise.governance.rbac import ROLES
from tillwise.governance.rollout import ANY, MODES, Guardrail, Rollout
from tillwise.governance.users import TooManyAttempts, User
from tillwise.ports.repositories import Page
from tillwise.workflows.registry import default_workflows

from ..deps import SESSION_COOKIE, ContainerDep, CurrentPrincipal, in_scope, require
from ..problems import Problem
from ..schemas.common import Amount, ListPublic, MoneyPublic, RequestBody

router = APIRouter()
v1 = "/v1"

# ---------------------------------------------------------------------------- sessions


class LoginBody(RequestBody):
    username: str = Field(min_length=1, max_length=100)
    password: SecretStr = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    id: str
    username: str
    display_name: str
    role: str
    stores: list[str]
    regions: list[str]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User, principal: Principal, regions: dict[str, list[str]]) -> UserPublic:
        """The user as ``principal`` may see it: of its stores, those in the caller's scope; of
        its regions (``regions``: each region's stores), those with a store in it."""
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            stores=[s for s in user.stores if principal.sees(s)],
            regions=[
                r
                for r in user.regions
                if principal.stores is None or set(regions.get(r, ())) & principal.stores
            ],
            disabled=user.disabled_at is not None,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class MePublic(BaseModel):
    kind: str
    id: str
    name: str
    role: str
    permissions: list[str]
    stores: list[str] | None = Field(description="store scope; null: every store")
    csrf_token: str | None = Field(description="echo in X-CSRF-Token on changes (sessions)")


def _me(principal: Principal) -> MePublic:
    return MePublic(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        permissions=sorted(principal.permissions),
        stores=None if principal.stores is None else sorted(principal.stores),
        csrf_token=principal.csrf_token,
    )


@router.post("/auth/login", response_model=MePublic, tags=["auth"], operation_id="auth-login")
def login(body: LoginBody, request: Request, response: Response, container: ContainerDep) -> Any:
    """Log in to the dashboard: sets the session cookie; answers with the CSRF token."""
    try:
        session = container.users.login(body.username, body.password.get_secret_value())
    except TooManyAttempts as exc:
        raise Problem(
            429,
            exc.code,
            str(exc),
            field="username",
            headers={"Retry-After": str(int(exc.retry_after) + 1)},
        ) from None
    if session is None:
        raise Problem(401, "invalid_credentials", "wrong username or password", field="password")
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        expires=session.expires_at,
    )
    principal = container.users.authenticate_session(session.token)
    assert principal is not None
    return _me(principal)


@router.post("/auth/logout", status_code=204, tags=["auth"], operation_id="auth-logout")
def logout(
    request: Request, response: Response, container: ContainerDep, _p: CurrentPrincipal
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        container.users.logout(token)
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/auth/me", response_model=MePublic, tags=["auth"], operation_id="auth-me")
def me(principal: CurrentPrincipal) -> Any:
    return _me(principal)


# ---------------------------------------------------------------------------- users


def _visible_user(principal: Principal, user: User, regions: dict[str, list[str]]) -> bool:
    if principal.stores is None:
        return True
    stores = set(user.stores) | {s for r in user.regions for s in regions.get(r, [])}
    return bool(stores & principal.stores)


@router.get(
    f"{v1}/users", response_model=ListPublic[UserPublic], tags=["users"], operation_id="users-list"
)
def list_users(container: ContainerDep, principal: Principal = require("users:read")) -> Any:
    regions = container.users.regions()
    data = [
        UserPublic.of(u, principal, regions)
        for u in container.users.list()
        if _visible_user(principal, u, regions)
    ]
    return {"data": data, "count": len(data)}


RoleName = Annotated[str, Field(description=f"one of: {', '.join(ROLES)}")]


class UserCreate(RequestBody):
    username: str = Field(min_length=1, max_length=100)
    password: SecretStr = Field(min_length=1, max_length=1024)
    role: RoleName
    display_name: str | None = Field(default=None, max_length=200)
    stores: list[str] = Field(default_factory=list, max_length=10_000)
    regions: list[str] = Field(default_factory=list, max_length=1000)


@router.post(
    f"{v1}/users",
    response_model=UserPublic,
    status_code=201,
    tags=["users"],
    operation_id="users-create",
)
def create_user(
    body: UserCreate, container: ContainerDep, principal: Principal = require("users:write")
) -> Any:
    user = container.users.add(
        body.username,
        body.password.get_secret_value(),
        role=body.role,
        actor=principal.actor,
        display_name=body.display_name,
        stores=body.stores,
        regions=body.regions,
    )
    return UserPublic.of(user, principal, container.users.regions())


class UserUpdate(RequestBody):
    role: RoleName | None = None
    display_name: str | None = Field(default=None, max_length=200)
    stores: list[str] | None = Field(default=None, max_length=10_000)
    regions: list[str] | None = Field(default=None, max_length=1000)
    disabled: bool | None = None
    password: SecretStr | None = Field(default=None, max_length=1024)


@router.patch(
    f"{v1}/users/{{user_id}}",
    response_model=UserPublic,
    tags=["users"],
    operation_id="users-update",
)
def update_user(
    user_id: str,
    body: UserUpdate,
    container: ContainerDep,
    principal: Principal = require("users:write"),
) -> Any:
    if body.disabled and user_id == principal.id:
        raise Problem(409, "own_account", "you cannot disable yourself", field="disabled")
    user = container.users.update(
        user_id,
        actor=principal.actor,
        role=body.role,
        stores=body.stores,
        regions=body.regions,
        display_name=body.display_name,
        disabled=body.disabled,
    )
    if body.password is not None:
        container.users.set_password(
            user_id, body.password.get_secret_value(), actor=principal.actor
        )
    return UserPublic.of(user, principal, container.users.regions())


# ---------------------------------------------------------------------------- stores, regions


class StorePublic(BaseModel):
    store: str = Field(description="store key: <connection_id>:<location_external_id>")
    connection_id: str
    location_id: str
    name: str
    time_zone: str
    country_code: str | None


def known_stores(container: Any, principal: Principal | None = None) -> list[StorePublic]:
    out: list[StorePublic] = []
    after: str | None = None
    with container.uow() as uow:
        while True:
            page = uow.records.find(Location, page=Page(limit=1000, after=after))
            for loc in page:
                key = store_key(loc.source.connection_id, loc.external_id)
                if principal is None or principal.sees(key):
                    out.append(
                        StorePublic(
                            store=key,
                            connection_id=loc.source.connection_id,
                            location_id=loc.external_id,
                            name=loc.name,
                            time_zone=loc.time_zone,
                            country_code=loc.country_code,
                        )
                    )
            if len(page) < 1000:
                break
            after = page[-1].id
    return sorted(out, key=lambda s: (s.name, s.store))


@router.get(
    f"{v1}/stores",
    response_model=ListPublic[StorePublic],
    tags=["stores"],
    operation_id="stores-list",
)
def list_stores(container: ContainerDep, principal: Principal = require("locations:read")) -> Any:
    """The stores in the caller's scope."""
    data = known_stores(container, principal)
    return {"data": data, "count": len(data)}


class RegionPublic(BaseModel):
    name: str
    stores: list[str]


@router.get(
    f"{v1}/regions",
    response_model=ListPublic[RegionPublic],
    tags=["settings"],
    operation_id="regions-list",
)
def list_regions(container: ContainerDep, principal: Principal = require("settings:read")) -> Any:
    """The regions that have a store in the caller's scope, with those of their stores."""
    data = [
        RegionPublic(name=n, stores=[x for x in s if principal.sees(x)])
        for n, s in container.users.regions().items()
        if principal.stores is None or set(s) & principal.stores
    ]
    return {"data": data, "count": len(data)}


class RegionBody(RequestBody):
    stores: list[str] = Field(max_length=10_000)


@router.put(
    f"{v1}/regions/{{name}}",
    response_model=RegionPublic,
    tags=["settings"],
    operation_id="regions-set",
)
def set_region(
    name: str,
    body: RegionBody,
    container: ContainerDep,
    principal: Principal = require("settings:write"),
) -> Any:
    stores = container.users.set_region(name, body.stores, actor=principal.actor)
    return RegionPublic(name=name, stores=stores)


# ---------------------------------------------------------------------------- proposals


class ApprovalPublic(BaseModel):
    by: str
    name: str | None = None
    role: str
    at: str
    edited: bool = False
    comment: str | None = None


class ProposalPublic(BaseModel):
    id: str
    kind: str
    workflow: str
    workflow_version: str
    proposed_by: str
    connection_id: str
    location_id: str | None
    store: str | None
    status: str
    mode: str | None
    summary: str
    explanation: str
    payload: dict[str, Any]
    value: MoneyPublic | None
    new_vendor: bool
    inputs: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    required_role: str | None
    required_approvals: int
    approvals: list[ApprovalPublic]
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    result: dict[str, Any] | None
    costs_hidden: bool = Field(
        default=False, description="costs left out: the caller lacks costs:read"
    )

    @classmethod
    def of(cls, r: ProposalRecord, principal: Principal) -> ProposalPublic:
        """The record as ``principal`` may see it (costs only with ``costs:read``)."""
        p, result, hidden = costs.proposal_shown_to(principal, r.proposal, r.result)
        return cls(
            id=p.id,
            kind=p.kind,
            workflow=p.workflow,
            workflow_version=p.workflow_version,
            proposed_by=p.proposed_by,
            connection_id=p.connection_id,
            location_id=p.location_external_id,
            store=r.store,
            status=r.status,
            mode=r.mode,
            summary=p.summary,
            explanation=p.explanation,
            payload=p.payload,
            value=None if p.value is None else MoneyPublic.of(p.value),
            new_vendor=p.new_vendor,
            inputs=p.inputs,
            created_at=r.created_at,
            updated_at=r.updated_at,
            expires_at=r.expires_at,
            required_role=r.required_role,
            required_approvals=r.required_approvals,
            approvals=[ApprovalPublic.model_validate(a) for a in r.approvals],
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            reason=r.reason,
            result=result,
            costs_hidden=hidden,
        )


class ProposalList(BaseModel):
    data: list[ProposalPublic]
    count: int
    next_before: str | None = None


# a proposal id (a UUID) in the path: a longer one is refused, never echoed back in full
ProposalIdPath = Annotated[str, PathParam(min_length=1, max_length=64)]
StatusQuery = Annotated[
    str | None, Query(description=f"one of: {', '.join(STATUSES)}", max_length=16)
]


@router.get(
    f"{v1}/proposals",
    response_model=ProposalList,
    tags=["proposals"],
    operation_id="proposals-list",
)
def list_proposals(
    container: ContainerDep,
    status: StatusQuery = None,
    kind: str | None = Query(None, max_length=64),
    workflow: str | None = Query(None, max_length=64),
    store: str | None = Query(None, max_length=330),
    limit: int = Query(50, ge=1, le=500),
    before: str | None = Query(None, max_length=36, description="id of the last item seen"),
    principal: Principal = require("proposals:read"),
) -> Any:
    if status and status not in STATUSES:
        raise Problem(422, "invalid_status", f"status must be one of {STATUSES}", field="status")
    records = container.approvals.list(  # a filter left empty (a form's ?store=) is none
        principal,
        status=status or None,
        kind=kind or None,
        workflow=workflow or None,
        store=store or None,
        limit=limit,
        before=before or None,
    )
    data = [ProposalPublic.of(r, principal) for r in records]
    return {
        "data": data,
        "count": len(data),
        "next_before": data[-1].id if len(data) == limit else None,
    }


@router.get(
    f"{v1}/proposals/counts",
    response_model=dict[str, int],
    tags=["proposals"],
    operation_id="proposals-counts",
)
def proposal_counts(
    container: ContainerDep, principal: Principal = require("proposals:read")
) -> Any:
    return container.approvals.counts(principal)


@router.get(
    f"{v1}/proposals/{{proposal_id}}",
    response_model=ProposalPublic,
    tags=["proposals"],
    operation_id="proposals-get",
)
def get_proposal(
    proposal_id: ProposalIdPath,
    container: ContainerDep,
    principal: Principal = require("proposals:read"),
) -> Any:
    public = ProposalPublic.of(container.approvals.get(proposal_id, principal), principal)
    if not _open_order(public):
        return public
    with container.uow() as uow:
        stops = uow.replenishment.reorder_stops(public.connection_id, public.location_id or "")
    return with_stops_marked(public, stops)


def _open_order(public: ProposalPublic) -> bool:
    """A purchase order still to be decided (new or pending)."""
    return public.kind == ProposalKind.DRAFT_PURCHASE_ORDER and public.status in ("new", "pending")


def with_stops_marked(public: ProposalPublic, stops: Mapping[str, Any]) -> ProposalPublic:
    """An open purchase order with its lines for items whose reordering was since stopped at
    its store marked (:func:`~tillwise.workflows.replenishment.planner.with_stopped_lines`)."""
    from tillwise.workflows.replenishment.planner import with_stopped_lines

    if not stops or not _open_order(public):
        return public
    return public.model_copy(update={"payload": with_stopped_lines(public.payload, stops)})


class ProposalCreate(RequestBody):
    kind: Literal["stock_adjustment"] = Field(description="kinds people may propose by hand")
    connection_id: str = Field(min_length=1, max_length=64)
    location_id: str = Field(min_length=1, max_length=255)
    summary: str = Field(min_length=1, max_length=500)
    explanation: str = Field(default="", max_length=4000)
    sku: str = Field(min_length=1, max_length=255)
    delta: int = Field(ge=-1_000_000, le=1_000_000)
    value: Amount | None = Field(default=None, description="what it is worth")
    currency: str | None = Field(default=None, min_length=3, max_length=3)


@router.post(
    f"{v1}/proposals",
    response_model=ProposalPublic,
    status_code=201,
    tags=["proposals"],
    operation_id="proposals-create",
)
def create_proposal(
    body: ProposalCreate,
    container: ContainerDep,
    principal: Principal = require("proposals:create"),
) -> Any:
    """A person proposes (e.g. a stock correction after a count); someone else approves it."""
    if body.delta == 0:
        raise Problem(422, "invalid", "delta must not be zero", field="delta")
    if (body.value is None) != (body.currency is None):
        raise Problem(422, "invalid", "give value and currency together", field="currency")
    now = container.clock.now()
    value = None
    if body.value is not None and body.currency is not None:
        try:
            value = Money.from_decimal(body.value, body.currency.upper())
        except ValueError as exc:
            raise Problem(422, "invalid", str(exc), field="value") from None
    proposal = Proposal(
        id=proposal_id("manual", body.kind, f"{principal.actor}\x1f{now.isoformat()}"),
        kind=body.kind,
        workflow="manual",
        proposed_by=principal.actor,
        connection_id=body.connection_id,
        location_external_id=body.location_id,
        created_at=now,
        summary=body.summary,
        explanation=body.explanation,
        payload={"sku": body.sku, "location_external_id": body.location_id, "delta": body.delta},
        value=value,
    )
    return ProposalPublic.of(container.approvals.submit(proposal, principal), principal)


class ExplanationPublic(BaseModel):
    text: str
    model: str | None = Field(description="the model that worded it; null: deterministic")


EXPLAIN_PAYLOAD_CHARS = 8_000  # of a proposal's payload given to the language model


@router.post(
    f"{v1}/proposals/{{proposal_id}}/explain",
    response_model=ExplanationPublic,
    tags=["proposals"],
    operation_id="proposals-explain",
)
async def explain_proposal(
    proposal_id: ProposalIdPath,
    container: ContainerDep,
    principal: Principal = require("proposals:read"),
) -> Any:
    """Why the workflow proposed this, in plain words: the configured language model rewords
    the deterministic explanation (given the payload as JSON too; personal data replaced by
    placeholders before anything is sent, the call audited), or, with no model, the
    deterministic summary and explanation themselves."""
    record = container.approvals.get(proposal_id, principal)
    # what the reader may not see is not worded for them either
    p, _, _ = costs.proposal_shown_to(principal, record.proposal)
    plain = "\n".join(line for line in (p.summary, p.explanation) if line)
    payload = json.dumps(p.payload, default=str, ensure_ascii=False, separators=(",", ":"))
    if len(payload) > EXPLAIN_PAYLOAD_CHARS:  # a long order: its first lines are enough
        payload = f"{payload[:EXPLAIN_PAYLOAD_CHARS]}… ({len(payload):,} characters in all)"
    facts = "\n".join(
        line
        for line in (
            plain,
            f"Value: {p.value.display()}" if p.value is not None else "",
            f"Payload (JSON): {payload}",
        )
        if line
    )
    result = await explain(
        facts,
        plain=plain,
        llm=container.llm,
        actor=principal.actor,
        purpose=f"proposal.explain:{p.kind}",
        store=record.store,
        context={"inputs": p.inputs},
    )
    return ExplanationPublic(text=result.text, model=result.model)


class ApproveBody(RequestBody):
    edits: dict[str, Any] | None = Field(
        default=None, description="payload changes to apply before approving (edit then approve)"
    )
    comment: str | None = Field(default=None, max_length=500)


@router.post(
    f"{v1}/proposals/{{proposal_id}}/approve",
    response_model=ProposalPublic,
    tags=["proposals"],
    operation_id="proposals-approve",
)
async def approve_proposal(
    proposal_id: ProposalIdPath,
    container: ContainerDep,
    body: ApproveBody | None = None,
    principal: Principal = require("proposals:approve"),
) -> Any:
    body = body or ApproveBody()
    record = await container.approvals.approve(
        proposal_id, principal, edits=body.edits, comment=body.comment
    )
    return ProposalPublic.of(record, principal)


class ReasonBody(RequestBody):
    reason: str = Field(min_length=1, max_length=1000)


@router.post(
    f"{v1}/proposals/{{proposal_id}}/reject",
    response_model=ProposalPublic,
    tags=["proposals"],
    operation_id="proposals-reject",
)
def reject_proposal(
    proposal_id: ProposalIdPath,
    body: ReasonBody,
    container: ContainerDep,
    principal: Principal = require("proposals:approve"),
) -> Any:
    return ProposalPublic.of(
        container.approvals.reject(proposal_id, principal, reason=body.reason), principal
    )


@router.post(
    f"{v1}/proposals/{{proposal_id}}/revert",
    response_model=ProposalPublic,
    tags=["proposals"],
    operation_id="proposals-revert",
)
async def revert_proposal(
    proposal_id: ProposalIdPath,
    body: ReasonBody,
    container: ContainerDep,
    principal: Principal = require("proposals:approve"),
) -> Any:
    record = await container.approvals.revert(proposal_id, principal, reason=body.reason)
    return ProposalPublic.of(record, principal)


# ---------------------------------------------------------------------------- workflows


class ModePublic(BaseModel):
    store: str
    mode: str
    auto_limit: str | None
    updated_at: datetime | None
    updated_by: str | None


class RolloutPublic(BaseModel):
    id: str
    workflow: str
    target_mode: str
    fallback_mode: str
    auto_limit: str | None = Field(description="set on every store; null: each keeps its own")
    stores: list[str]
    steps: list[int]
    stage: int
    enrolled: list[str]
    status: str
    guardrail: dict[str, Any] | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    reason: str | None

    @classmethod
    def of(cls, r: Rollout) -> RolloutPublic:
        return cls(
            id=r.id,
            workflow=r.workflow,
            target_mode=r.target_mode,
            fallback_mode=r.fallback_mode,
            auto_limit=None if r.auto_limit is None else str(r.auto_limit),
            stores=list(r.stores),
            steps=list(r.steps),
            stage=r.stage,
            enrolled=list(r.enrolled),
            status=r.status,
            guardrail=None if r.guardrail is None else r.guardrail.as_dict(),
            created_by=r.created_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
            reason=r.reason,
        )


class WorkflowPublic(BaseModel):
    name: str
    version: str
    subscribes_to: list[str]
    proposes: list[str] = Field(description="proposal kinds it makes; empty: modes do not apply")
    default_mode: str
    modes: list[ModePublic] = Field(description="per-store modes in the caller's scope")


def _workflow_names() -> dict[str, Any]:
    return {w.name: w for w in default_workflows()}


@router.get(
    f"{v1}/workflows",
    response_model=ListPublic[WorkflowPublic],
    tags=["workflows"],
    operation_id="workflows-list",
)
def list_workflows(
    container: ContainerDep, principal: Principal = require("workflows:read")
) -> Any:
    data = []
    for name, wf in _workflow_names().items():
        settings = container.modes.modes(name)
        default = next((m.mode for m in settings if m.store == ANY), None)
        data.append(
            WorkflowPublic(
                name=name,
                version=wf.version,
                subscribes_to=sorted(wf.subscribes_to),
                proposes=sorted(wf.proposes),
                default_mode=default or container.modes.mode_for(name, None).mode,
                modes=[
                    ModePublic(
                        store=m.store,
                        mode=m.mode,
                        auto_limit=None if m.auto_limit is None else str(m.auto_limit),
                        updated_at=m.updated_at,
                        updated_by=m.updated_by,
                    )
                    for m in settings
                    if m.store != ANY and principal.sees(m.store)
                ],
            )
        )
    return {"data": data, "count": len(data)}


class ModeBody(RequestBody):
    mode: Literal["off", "shadow", "draft", "auto"] = Field(description=", ".join(MODES))
    auto_limit: Amount | None = Field(default=None, description="auto mode: up to")
    reason: str | None = Field(default=None, max_length=500)


def _known_workflow(name: str) -> None:
    if name not in _workflow_names():
        raise Problem(404, "not_found", f"no workflow {name!r}", field="workflow")


@router.put(
    f"{v1}/workflows/{{workflow}}/modes/{{store}}",
    response_model=ModePublic,
    tags=["workflows"],
    operation_id="workflows-set-mode",
)
def set_mode(
    workflow: str,
    store: str,
    body: ModeBody,
    container: ContainerDep,
    principal: Principal = require("workflows:write"),
) -> Any:
    """Set a workflow's mode for one store (``*``: the default for every store, which only a
    principal that sees every store may change)."""
    _known_workflow(workflow)
    if store == ANY:
        if principal.stores is not None:
            raise Problem(
                403, "forbidden", "only an all-stores role sets the default", field="store"
            )
    else:
        _known_store(container, principal, store)
    m = container.modes.set_mode(
        workflow,
        store,
        body.mode,
        actor=principal.actor,
        auto_limit=body.auto_limit,
        reason=body.reason,
    )
    return ModePublic(
        store=m.store,
        mode=m.mode,
        auto_limit=None if m.auto_limit is None else str(m.auto_limit),
        updated_at=m.updated_at,
        updated_by=m.updated_by,
    )


@router.get(
    f"{v1}/rollouts",
    response_model=ListPublic[RolloutPublic],
    tags=["workflows"],
    operation_id="rollouts-list",
)
def list_rollouts(container: ContainerDep, principal: Principal = require("workflows:read")) -> Any:
    data = [
        RolloutPublic.of(r)
        for r in container.modes.rollouts()
        if principal.stores is None or set(r.stores) <= principal.stores
    ]
    return {"data": data, "count": len(data)}


class GuardrailBody(RequestBody):
    max_override_share: float = Field(0.3, gt=0, lt=1)
    window_hours: int = Field(168, ge=1, le=24 * 90)
    min_decisions: int = Field(5, ge=1, le=10_000)


class RolloutCreate(RequestBody):
    workflow: str = Field(min_length=1, max_length=64)
    target_mode: Literal["shadow", "draft", "auto"] = "auto"
    fallback_mode: Literal["off", "shadow", "draft"] = "draft"
    auto_limit: Amount | None = Field(
        default=None,
        description="a rollout to auto: the limit for every store; default: each keeps its own",
    )
    stores: list[str] | None = Field(
        default=None, description="the stores (canary order); default: every store in scope"
    )
    percentages: list[int] | None = Field(default=None, description="e.g. [10, 50, 100]")
    canary: bool = Field(default=False, description="one store per step, in the order given")
    guardrail: GuardrailBody | None = None


@router.post(
    f"{v1}/rollouts",
    response_model=RolloutPublic,
    status_code=201,
    tags=["workflows"],
    operation_id="rollouts-create",
)
def create_rollout(
    body: RolloutCreate, container: ContainerDep, principal: Principal = require("workflows:write")
) -> Any:
    _known_workflow(body.workflow)
    known = {s.store for s in known_stores(container, principal)}
    stores = body.stores if body.stores is not None else sorted(known)
    for i, s in enumerate(stores):
        if s not in known:
            raise Problem(404, "not_found", f"no store {s!r} in your scope", field=f"stores.{i}")
    guard = None if body.guardrail is None else Guardrail(**body.guardrail.model_dump())
    rollout = container.modes.start_rollout(
        body.workflow,
        actor=principal.actor,
        stores=stores,
        target_mode=body.target_mode,
        fallback_mode=body.fallback_mode,
        percentages=body.percentages,
        canary=body.canary,
        guardrail=guard,
        auto_limit=body.auto_limit,
    )
    return RolloutPublic.of(rollout)


def _rollout_in_scope(container: Any, principal: Principal, rollout_id: str) -> Rollout:
    rollout = container.modes.get_rollout(rollout_id)
    if principal.stores is not None and not set(rollout.stores) <= principal.stores:
        raise Problem(404, "not_found", f"no rollout {rollout_id!r}", field="rollout_id")
    return rollout


@router.post(
    f"{v1}/rollouts/{{rollout_id}}/advance",
    response_model=RolloutPublic,
    tags=["workflows"],
    operation_id="rollouts-advance",
)
def advance_rollout(
    rollout_id: str, container: ContainerDep, principal: Principal = require("workflows:write")
) -> Any:
    _rollout_in_scope(container, principal, rollout_id)
    return RolloutPublic.of(container.modes.advance(rollout_id, actor=principal.actor))


@router.post(
    f"{v1}/rollouts/{{rollout_id}}/roll-back",
    response_model=RolloutPublic,
    tags=["workflows"],
    operation_id="rollouts-roll-back",
)
def roll_back_rollout(
    rollout_id: str,
    body: ReasonBody,
    container: ContainerDep,
    principal: Principal = require("workflows:write"),
) -> Any:
    _rollout_in_scope(container, principal, rollout_id)
    rollout = container.modes.roll_back(rollout_id, actor=principal.actor, reason=body.reason)
    return RolloutPublic.of(rollout)


# ---------------------------------------------------------------------------- approval rules


class RulePublic(BaseModel):
    kind: str
    store: str
    regional_above: str | None
    two_approvers_above: str | None
    new_vendor_needs_regional: bool
    expire_after_hours: int


def _rule_public(r: Any) -> RulePublic:
    return RulePublic(
        kind=r.kind,
        store=r.store,
        regional_above=None if r.regional_above is None else str(r.regional_above),
        two_approvers_above=None if r.two_approvers_above is None else str(r.two_approvers_above),
        new_vendor_needs_regional=r.new_vendor_needs_regional,
        expire_after_hours=r.expire_after_hours,
    )


@router.get(
    f"{v1}/approval-rules",
    response_model=ListPublic[RulePublic],
    tags=["settings"],
    operation_id="approval-rules-list",
)
def list_rules(container: ContainerDep, principal: Principal = require("settings:read")) -> Any:
    data = [
        _rule_public(r)
        for r in container.modes.rules()
        if r.store == ANY or principal.sees(r.store)
    ]
    return {"data": data, "count": len(data)}


class RuleBody(RequestBody):
    kind: str = Field(default=ANY, min_length=1, max_length=64)
    store: str = Field(default=ANY, min_length=1, max_length=330)
    regional_above: Amount | None = None
    two_approvers_above: Amount | None = None
    new_vendor_needs_regional: bool = True
    expire_after_hours: int = Field(default=72, ge=1, le=24 * 90)


def _known_store(container: Any, principal: Principal, store: str) -> None:
    """404 for a store the principal cannot see or no connection has."""
    in_scope(principal, store, "store", store)
    if store not in {s.store for s in known_stores(container)}:
        raise Problem(404, "not_found", f"no store {store!r}", field="store")


@router.put(
    f"{v1}/approval-rules",
    response_model=RulePublic,
    tags=["settings"],
    operation_id="approval-rules-set",
)
def set_rule(
    body: RuleBody, container: ContainerDep, principal: Principal = require("settings:write")
) -> Any:
    kinds = sorted(k.value for k in ProposalKind)
    if body.kind != ANY and body.kind not in kinds:
        raise Problem(
            422,
            "invalid",
            f"no proposal kind {body.kind!r}: one of {', '.join(kinds)}",
            field="kind",
        )
    if body.store != ANY:
        _known_store(container, principal, body.store)
    rule = container.modes.set_rule(actor=principal.actor, **body.model_dump())
    # what awaits approval answers to the rules as they now stand (never to looser ones)
    container.approvals.apply_rules(None if body.kind == ANY else body.kind, actor=principal.actor)
    return _rule_public(rule)
