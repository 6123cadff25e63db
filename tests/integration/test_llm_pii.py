"""Personal data never reaches the model or the audit log: a real HTTP endpoint, real payloads.

A fake OpenAI-compatible server (FastAPI under uvicorn, on a free 127.0.0.1 port) records every
request it receives and answers with a completion that quotes back the placeholders it saw. The
audited LLM is fed real POS payloads (``tests/fixtures/payloads/pii``) plus a prompt that names
the customer. The personal values each test checks for are picked out of the fixtures here, by
path — independently of the tokenizer's own rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.live import bind_local, run_in_thread
from tillwise.ai import AuditedLLM, NoLLM, OpenAICompatible, explain
from tillwise.governance.audit import AuditEntry, AuditLog
from tillwise.ports.clock import SystemClock
from tillwise.ports.llm import (
    ChatMessage,
    LLMConnectionError,
    LLMNotConfigured,
    LLMRequestError,
)
from tillwise.store.engine import make_engine

T = TypeVar("T")
PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "pii"
API_KEY = "sk-live-TEST-7d3f9a1c5e2b4f6a8c0e1d3b5a7f9c2e"
PLACEHOLDER = re.compile(r"<<[A-Z]+_[0-9a-f]+>>")

# Where the personal data is in each fixture ("*" walks a list).
PERSONAL_PATHS: dict[str, list[str]] = {
    "shopify__rest_2024-04__order__test_14.json": [
        "order.email",
        "order.contact_email",
        "order.phone",
        "order.browser_ip",
        "order.billing_address.first_name",
        "order.billing_address.last_name",
        "order.billing_address.name",
        "order.billing_address.address1",
        "order.billing_address.city",
        "order.billing_address.zip",
        "order.billing_address.phone",
        "order.billing_address.latitude",
        "order.billing_address.longitude",
        "order.shipping_address.name",
        "order.shipping_address.address1",
        "order.shipping_address.phone",
        "order.customer.email",
        "order.customer.first_name",
        "order.customer.last_name",
        "order.customer.phone",
        "order.customer.default_address.address1",
        "order.customer.default_address.city",
        "order.customer.default_address.zip",
        "order.customer.default_address.phone",
    ],
    "shopify__rest__order.json": [
        "order.email",
        "order.payment_details.credit_card_number",
        "order.billing_address.name",
        "order.billing_address.address1",
        "order.billing_address.phone",
        "order.customer.email",
        "order.customer.default_address.phone",
    ],
    "square__api__get_payment_response.json": [
        "payment.card_details.card.bin",
        "payment.card_details.card.last_4",
        "payment.card_details.card.fingerprint",
    ],
    "square__webhook__customer_created_event.json": [
        "data.object.customer.given_name",
        "data.object.customer.family_name",
        "data.object.customer.email_address",
        "data.object.customer.phone_number",
        "data.object.customer.birthday",
        "data.object.customer.address.address_line_1",
        "data.object.customer.address.locality",
        "data.object.customer.address.postal_code",
    ],
    "square__webhook__team_member_created_event.json": [
        "data.object.team_member.given_name",
        "data.object.team_member.family_name",
        "data.object.team_member.email_address",
        "data.object.team_member.phone_number",
    ],
    "lightspeed-x__api2__get_customers__customer_id__200.json": [
        "data.first_name",
        "data.last_name",
        "data.name",
        "data.email",
        "data.phone",
        "data.mobile",
        "data.fax",
        "data.date_of_birth",
        "data.customer_code",
        "data.company_name",
        "data.twitter",
        "data.physical_city",
        "data.physical_postcode",
    ],
    "clover__remotepay__payment_preauth_swiped__windows_sample_messages.json": [
        "cardTransaction.last4",
    ],
}

# Not personal: these must reach the model untouched.
KEPT_PATHS: dict[str, list[str]] = {
    "shopify__rest_2024-04__order__test_14.json": [
        "order.id",
        "order.name",
        "order.total_price",
        "order.created_at",
        "order.line_items.*.sku",
        "order.customer.id",
    ],
    "square__api__get_payment_response.json": [
        "payment.id",
        "payment.location_id",
        "payment.amount_money.amount",
        "payment.created_at",
    ],
    "clover__remotepay__payment_preauth_swiped__windows_sample_messages.json": [
        "amount",
        "order.id",
        "cardTransaction.authCode",
    ],
}


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def values_at(data: Any, path: str) -> list[Any]:
    current = [data]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if part == "*":
                nxt.extend(item)
            else:
                nxt.append(item[part])
        current = nxt
    return current


def personal_values(name: str) -> set[str]:
    payload = load(name)
    found: set[str] = set()
    for path in PERSONAL_PATHS[name]:
        for value in values_at(payload, path):
            assert value not in (None, ""), f"{name}: {path} is empty; fix the path list"
            found.add(str(value))
    return found


def leaks(text: str, values: set[str]) -> set[str]:
    """The values that appear in ``text`` as a whole word (any case; phones any punctuation)."""
    found = set()
    for value in values:
        if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
            found.add(value)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7 and re.search(
            rf"(?<!\d){digits}(?!\d)", re.sub(r"[\s().+-]", "", text)
        ):
            found.add(value)
    return found


# --------------------------------------------------------------------------- the fake endpoint


@dataclass
class Recorded:
    body: str
    headers: dict[str, str]

    @property
    def text(self) -> str:
        """The messages' contents, JSON string escapes undone."""
        return "\n".join(m["content"] for m in json.loads(self.body)["messages"])


@dataclass
class FakeEndpoint:
    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    # Responses to give before the normal completion: (status, headers, JSON body).
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.script.clear()


def fake_app(endpoint: FakeEndpoint) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        raw = (await request.body()).decode("utf-8")
        with endpoint.lock:
            endpoint.requests.append(Recorded(raw, dict(request.headers)))
            scripted = endpoint.script.pop(0) if endpoint.script else None
        if scripted is not None:
            status, headers, body = scripted
            return JSONResponse(body, status_code=status, headers=headers)
        body = json.loads(raw)
        seen = " ".join(m["content"] for m in body["messages"])
        placeholders = list(dict.fromkeys(PLACEHOLDER.findall(seen)))
        text = "Noted for " + ", ".join(placeholders) + "." if placeholders else "Noted."
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"] + "-fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(seen) // 4,
                    "completion_tokens": 9,
                    "total_tokens": len(seen) // 4 + 9,
                },
            }
        )

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[FakeEndpoint]:
    sock, url = bind_local()
    endpoint = FakeEndpoint(base_url=f"{url}/v1")
    try:
        with run_in_thread(fake_app(endpoint), sock, lifespan="off"):
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(f"the fake LLM endpoint: {exc}")


@pytest.fixture
def endpoint(server: FakeEndpoint) -> Iterator[FakeEndpoint]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def audit(sqlite_url: str) -> Iterator[AuditLog]:
    engine = make_engine(sqlite_url)
    yield AuditLog(engine, SystemClock())
    engine.dispose()


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def provider(
    endpoint: FakeEndpoint, sleeps: Sleeps | None = None, **kwargs: Any
) -> OpenAICompatible:
    return OpenAICompatible(
        endpoint.base_url,
        "tillwise-test-model",
        API_KEY,
        timeout=10,
        sleep=sleeps or Sleeps(),
        **kwargs,
    )


def entry_text(entry: AuditEntry) -> str:
    return json.dumps({"inputs": entry.inputs, "outputs": entry.outputs}, ensure_ascii=False)


async def ask(llm: AuditedLLM, prompt: str, context: dict[str, Any], **kwargs: Any) -> str:
    messages = [
        ChatMessage("system", "You are a store assistant. Answer briefly."),
        ChatMessage("user", prompt),
    ]
    completion = await llm.complete(
        messages,
        actor="user:42",
        purpose="copilot.answer",
        store="L88917AVBK2S5",
        context=context,
        **kwargs,
    )
    return completion.text


def run(scenario: Callable[[], Awaitable[T]], *providers: OpenAICompatible) -> T:
    """Run ``scenario`` in a fresh event loop, closing the providers' connections after."""

    async def main() -> T:
        try:
            return await scenario()
        finally:
            for llm_provider in providers:
                await llm_provider.aclose()

    return asyncio.run(main())


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(PERSONAL_PATHS))
def test_no_personal_value_of_a_real_payload_reaches_the_endpoint_or_the_audit(
    name: str, endpoint: FakeEndpoint, audit: AuditLog, sqlite_url: str
) -> None:
    payload = load(name)
    personal = personal_values(name)
    # The detector below does find every one of them in the payload as it is.
    assert leaks(json.dumps(payload, ensure_ascii=False), personal) == personal
    some = sorted(personal, key=len, reverse=True)[:3]
    prompt = f"Summarise what we know about {'; '.join(some)}."

    llm_provider = provider(endpoint)
    llm = AuditedLLM(llm_provider, audit)
    answer = run(lambda: ask(llm, prompt, {"payload": payload}), llm_provider)

    # Nothing personal in what the endpoint received — body or headers.
    assert len(endpoint.requests) == 1
    received = endpoint.requests[0]
    assert leaks(received.body, personal) == set()
    assert leaks(received.text, personal) == set()
    assert leaks(json.dumps(received.headers), personal) == set()
    assert PLACEHOLDER.search(received.text)
    for path in KEPT_PATHS.get(name, []):
        for value in values_at(payload, path):
            assert json.dumps(value, ensure_ascii=False) in received.text, path

    # The answer quoted placeholders back; the caller gets the real values.
    assert "<<" not in answer
    for value in some:
        assert value in answer

    # One audit entry: placeholders in, placeholders out, no personal value anywhere.
    (entry,) = audit.list(action="llm.call")
    assert entry.actor == "user:42" and entry.store == "L88917AVBK2S5"
    assert entry.inputs["purpose"] == "copilot.answer"
    assert entry.inputs["provider_model"] == "tillwise-test-model"
    assert entry.outputs["model"] == "tillwise-test-model-fake"
    assert entry.outputs["usage"]["completion"] == 9
    assert PLACEHOLDER.search(entry_text(entry))
    assert PLACEHOLDER.search(entry.outputs["text"])
    assert leaks(entry_text(entry), personal) == set()
    assert audit.verify().ok

    # …and none on disk either (the test database holds only the audit log).
    db = Path(sqlite_url.split(":///", 1)[1])
    stored = b"".join(f.read_bytes() for f in (db, Path(f"{db}-wal")) if f.exists())
    assert b"llm.call" in stored
    assert leaks(stored.decode("latin-1"), personal) == set()


def test_all_payloads_in_one_call_with_free_text_about_the_customer(
    endpoint: FakeEndpoint, audit: AuditLog
) -> None:
    names = sorted(PERSONAL_PATHS)
    personal = set().union(*(personal_values(n) for n in names))
    order = load("shopify__rest_2024-04__order__test_14.json")["order"]
    clover = load("clover__remotepay__payment_preauth_swiped__windows_sample_messages.json")
    prompt = (
        f"{order['customer']['first_name']} {order['customer']['last_name']} "
        f"({order['customer']['email'].upper()}, tel. {order['billing_address']['phone']}) says "
        f"the card ending in {clover['cardTransaction']['last4']} was charged twice "
        f"for order {order['name']} ({order['total_price']} {order['currency']}). "
        "bob norman also asked us to ship to Chestnut Street 92, Louisville instead. What now?"
    )
    llm_provider = provider(endpoint)
    llm = AuditedLLM(llm_provider, audit)
    context = {n: load(n) for n in names}
    answer = run(lambda: ask(llm, prompt, context, temperature=0.1, max_tokens=200), llm_provider)

    received = endpoint.requests[0]
    assert leaks(received.body, personal) == set()
    assert leaks(received.text, personal) == set()
    sent = json.loads(received.body)
    assert sent["temperature"] == 0.1 and sent["max_tokens"] == 200
    user_text = sent["messages"][-1]["content"]
    assert "#1001" in user_text and "598.94 USD" in user_text
    assert "Bob" not in user_text and "Norman" not in user_text

    assert "Bob Norman" in answer and "bob.norman@mail.example.com" in answer
    assert "Chestnut Street 92" in answer and "9571" in answer

    (entry,) = audit.list(action="llm.call")
    assert leaks(entry_text(entry), personal) == set()
    assert entry.inputs["placeholders"]["PERSON"] >= 10


def test_429_with_retry_after_is_retried_and_audited_once(
    endpoint: FakeEndpoint, audit: AuditLog
) -> None:
    endpoint.script.append(
        (
            429,
            {"Retry-After": "2"},
            {"error": {"message": "Rate limit reached", "type": "requests"}},
        )
    )
    sleeps = Sleeps()
    payload = load("square__webhook__customer_created_event.json")
    llm_provider = provider(endpoint, sleeps)
    llm = AuditedLLM(llm_provider, audit)
    answer = run(lambda: ask(llm, "Greet Jenkins Smorly.", {"event": payload}), llm_provider)

    assert sleeps.waits == [2.0]  # the server's hint, honoured
    assert len(endpoint.requests) == 2
    assert endpoint.requests[0].body == endpoint.requests[1].body
    assert "Jenkins Smorly" in answer
    personal = personal_values("square__webhook__customer_created_event.json")
    assert all(leaks(r.text, personal) == set() for r in endpoint.requests)
    assert len(audit.list(action="llm.call")) == 1


def test_the_api_key_is_sent_as_bearer_and_nowhere_else(
    endpoint: FakeEndpoint, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # First a retryable failure (logged as a warning), then success.
    endpoint.script.append((503, {}, {"error": {"message": "overloaded"}}))
    llm_provider = provider(endpoint, jitter=lambda: 0.5)
    llm = AuditedLLM(llm_provider, audit)
    run(lambda: ask(llm, "Hello", {"customer": {"first_name": "Amelia"}}), llm_provider)
    assert [r.headers.get("authorization") for r in endpoint.requests] == [f"Bearer {API_KEY}"] * 2

    # Then the endpoint rejects the key and echoes it back in its error body.
    endpoint.script.append(
        (
            401,
            {},
            {
                "error": {
                    "message": f"Incorrect API key provided: {API_KEY}",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    llm_provider = provider(endpoint)
    with pytest.raises(LLMRequestError) as info:
        run(lambda: ask(AuditedLLM(llm_provider, audit), "Hello again", {}), llm_provider)
    assert info.value.status == 401
    assert "rejected the API key" in str(info.value)
    assert "Incorrect API key provided: ***" in str(info.value)  # the echo, masked

    # An unreachable endpoint, too.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = OpenAICompatible(
        f"http://127.0.0.1:{closed_port}/v1", "m", API_KEY, max_retries=1, sleep=Sleeps()
    )
    with pytest.raises(LLMConnectionError) as down:
        run(lambda: ask(AuditedLLM(unreachable, audit), "Hello", {}), unreachable)

    assert any("retrying" in r.getMessage() for r in caplog.records)
    texts = [str(info.value), repr(info.value), str(down.value), repr(down.value)]
    texts += [repr(llm_provider), repr(unreachable)]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [entry_text(e) for e in audit.list(action="llm.call")]
    for text in texts:
        assert API_KEY not in text
        assert API_KEY[8:] not in text  # not even the key without its prefix
    assert len(audit.list(action="llm.call")) == 3  # the success, the 401 and the outage


def test_without_a_model_nothing_is_sent_or_audited(
    endpoint: FakeEndpoint, audit: AuditLog
) -> None:
    llm = AuditedLLM(NoLLM(), audit)
    with pytest.raises(LLMNotConfigured):
        asyncio.run(ask(llm, "Explain", {"customer": {"first_name": "Amelia"}}))
    facts = "Reorder 24 units of IPOD2008GREEN: 6 days of cover left at 4 a day."
    result = asyncio.run(explain(facts, llm=llm, actor="workflow:replenishment@1"))
    assert result.text == facts and result.deterministic
    assert endpoint.requests == [] and audit.list() == []


def test_explain_through_the_endpoint_restores_names(
    endpoint: FakeEndpoint, audit: AuditLog
) -> None:
    payload = load("square__webhook__team_member_created_event.json")
    member = payload["data"]["object"]["team_member"]
    facts = f"{member['given_name']} {member['family_name']} is short 2 shifts next week."

    async def scenario() -> Any:
        llm_provider = provider(endpoint)
        try:
            return await explain(
                facts,
                llm=AuditedLLM(llm_provider, audit),
                actor="workflow:scheduling@1",
                purpose="scheduling.explain",
                store="L1",
                context={"team_member": member},
            )
        finally:
            await llm_provider.aclose()

    result = asyncio.run(scenario())
    assert result.model == "tillwise-test-model-fake"
    assert "Amelia Earhart" in result.text and "<<" not in result.text
    assert leaks(endpoint.requests[0].text, {"Amelia", "Earhart", member["email_address"]}) == set()
    (entry,) = audit.list(action="llm.call")
    assert (
        entry.actor == "workflow:scheduling@1" and entry.inputs["purpose"] == "scheduling.explain"
    )


def test_one_provider_serves_several_event_loops(endpoint: FakeEndpoint, audit: AuditLog) -> None:
    # The CLI builds one container and may run several loops over it.
    llm_provider = provider(endpoint)
    llm = AuditedLLM(llm_provider, audit)
    for _ in range(2):
        assert asyncio.run(ask(llm, "Hello jan@example.org", {})) == "Noted for jan@example.org."
    asyncio.run(llm_provider.aclose())
    assert len(endpoint.requests) == 2 and len(audit.list(action="llm.call")) == 2
