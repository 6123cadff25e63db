"""AuditedLLM and explain() with an in-memory provider and audit sink (no I/O)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from tillwise.ai import AuditedLLM, NoLLM, explain
from tillwise.ai.audited import CONTEXT_HEADER, PLACEHOLDER_NOTE
from tillwise.ports.llm import (
    ChatMessage,
    Completion,
    LLMConnectionError,
    LLMNotConfigured,
    Usage,
)


class ListSink:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def append(
        self,
        *,
        actor: str,
        action: str,
        store: str | None = None,
        inputs: Any = None,
        outputs: Any = None,
    ) -> object:
        entry = {"actor": actor, "action": action, "store": store, "inputs": inputs}
        entry["outputs"] = outputs
        self.entries.append(entry)
        return entry


class EchoProvider:
    """Answers with a fixed text (or raises); records what it was sent."""

    available = True
    model = "echo-1"

    def __init__(self, answer: str = "", error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.sent: list[list[ChatMessage]] = []

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        self.sent.append(list(messages))
        if self.error is not None:
            raise self.error
        return Completion(self.answer, "echo-1-0613", Usage(10, 5, 15), "stop")

    async def aclose(self) -> None:
        return None


CUSTOMER = {"customer": {"first_name": "Jan", "last_name": "Fisher", "email": "jan@example.org"}}


def test_no_llm_raises_and_audits_nothing() -> None:
    sink = ListSink()
    llm = AuditedLLM(NoLLM(), sink)
    assert llm.available is False
    with pytest.raises(LLMNotConfigured):
        asyncio.run(llm.complete([ChatMessage("user", "hi")], actor="a", purpose="p"))
    assert sink.entries == []


def test_explain_without_a_model_is_the_deterministic_text() -> None:
    sink = ListSink()
    for llm in (None, AuditedLLM(NoLLM(), sink)):
        result = asyncio.run(explain("Reorder 12 units of SKU-1.", llm=llm))
        assert result.text == "Reorder 12 units of SKU-1." and result.deterministic
    assert sink.entries == []


def test_context_and_prompt_are_tokenized_and_the_answer_restored() -> None:
    provider = EchoProvider("Email <<PERSON_3>> at <<EMAIL_1>>.")
    sink = ListSink()
    llm = AuditedLLM(provider, sink)
    messages = [
        ChatMessage("system", "You help store staff."),
        ChatMessage("user", "Draft a note to Jan Fisher about order #1001 (598.94 USD)."),
    ]
    completion = asyncio.run(
        llm.complete(
            messages, actor="user:7", purpose="copilot.answer", store="s-1", context=CUSTOMER
        )
    )
    assert completion.text == "Email Jan Fisher at jan@example.org."
    assert completion.model == "echo-1-0613"

    (sent,) = provider.sent
    assert [m.role for m in sent] == ["system", "system", "user"]
    assert sent[0].content == "You help store staff."
    assert sent[1].content.startswith(PLACEHOLDER_NOTE)
    context_json = sent[1].content.split(CONTEXT_HEADER, 1)[1]
    assert json.loads(context_json) == {
        "customer": {
            "first_name": "<<PERSON_1>>",
            "last_name": "<<PERSON_2>>",
            "email": "<<EMAIL_1>>",
        }
    }
    assert sent[2].content == "Draft a note to <<PERSON_3>> about order #1001 (598.94 USD)."

    (entry,) = sink.entries
    assert entry["action"] == "llm.call" and entry["actor"] == "user:7" and entry["store"] == "s-1"
    assert entry["inputs"]["purpose"] == "copilot.answer"
    assert entry["inputs"]["provider_model"] == "echo-1"
    assert entry["inputs"]["messages"] == [{"role": m.role, "content": m.content} for m in sent]
    assert entry["inputs"]["placeholders"] == {"PERSON": 3, "EMAIL": 1}
    assert entry["outputs"]["text"] == "Email <<PERSON_3>> at <<EMAIL_1>>."
    assert entry["outputs"]["usage"] == {"prompt": 10, "completion": 5, "total": 15}
    dumped = json.dumps(sink.entries)
    for value in ("Jan", "Fisher", "jan@example.org"):
        assert value not in dumped


def test_a_failed_call_is_audited_and_explain_falls_back() -> None:
    provider = EchoProvider(
        error=LLMConnectionError("endpoint down for jan@example.org", status=503)
    )
    sink = ListSink()
    result = asyncio.run(
        explain(
            "Jan Fisher's return was flagged: 3 returns in 7 days.",
            llm=AuditedLLM(provider, sink),
            actor="workflow:risk@1",
            purpose="risk.explain",
            context=CUSTOMER,
        )
    )
    assert result.text == "Jan Fisher's return was flagged: 3 returns in 7 days."
    assert result.deterministic
    (entry,) = sink.entries
    assert entry["outputs"] == {
        "error": "LLMConnectionError",
        "status": 503,
        "message": "endpoint down for <<EMAIL_1>>",
    }
    assert "Jan" not in json.dumps(entry)


def test_explain_uses_the_model_s_wording() -> None:
    provider = EchoProvider("  <<PERSON_3>> returned three items this week.  ")
    result = asyncio.run(
        explain(
            "Jan Fisher: 3 returns in 7 days.",
            llm=AuditedLLM(provider, ListSink()),
            context=CUSTOMER,
        )
    )
    assert result.text == "Jan Fisher returned three items this week."
    assert result.model == "echo-1-0613" and not result.deterministic


def test_the_model_may_be_given_more_facts_than_a_person_is_shown() -> None:
    plain = "Order 12 units of SKU-1: below its reorder point of 20."
    facts = plain + '\nPayload (JSON): {"lines":[{"sku":"SKU-1","quantity":12}]}'
    # without a model, or when the call fails, the person reads the plain text, not the payload
    assert asyncio.run(explain(facts, llm=None, plain=plain)).text == plain
    down = EchoProvider(error=LLMConnectionError("endpoint down", status=503))
    failed = asyncio.run(explain(facts, llm=AuditedLLM(down, ListSink()), plain=plain))
    assert failed.text == plain and failed.deterministic
    # with one, the model reads every fact
    provider = EchoProvider("Twelve more SKU-1, since stock is below the reorder point.")
    worded = asyncio.run(explain(facts, llm=AuditedLLM(provider, ListSink()), plain=plain))
    assert worded.text.startswith("Twelve more") and not worded.deterministic
    assert '"quantity":12' in provider.sent[0][-1].content
