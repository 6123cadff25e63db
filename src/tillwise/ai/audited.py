"""The only way our code talks to a model: tokenize, call, restore, audit.

:class:`AuditedLLM` wraps a provider. For each call it

1. starts a fresh :class:`~tillwise.ai.pii.PiiTokenizer` session (``tokenizer_factory``);
2. learns the personal values in ``context`` (structured data: a POS order, a customer…),
   tokenizes it and adds it to the conversation as a system message ("Context data (JSON)");
3. tokenizes every message — so a name, e-mail or phone from the context that also appears in
   the prompt text is replaced there too — and, when anything was replaced, tells the model to
   copy placeholders verbatim;
4. calls the provider with the tokenized messages only;
5. restores the placeholders in the answer and returns it;
6. appends **one** audit entry, action ``llm.call``: inputs are the purpose, the provider's
   model, the messages exactly as sent (with placeholders), the sampling settings and how many
   values of each kind were replaced; outputs are the answer as received (with placeholders),
   the answering model, finish reason and usage — or, when the call failed, the error. The
   personal values themselves are never in the entry.

With :class:`~tillwise.ai.providers.NoLLM` (``available`` False) ``complete`` raises
:class:`~tillwise.ports.llm.LLMNotConfigured` and nothing is audited: no call was made.
:func:`explain` is the helper most callers want: the deterministic text when there is no model
(or it fails), the model's rewording when there is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tillwise.ai.pii import PiiTokenizer
from tillwise.ports.llm import (
    AuditSink,
    ChatMessage,
    Completion,
    LLMError,
    LLMNotConfigured,
    LLMProvider,
)

log = logging.getLogger(__name__)

AUDIT_ACTION = "llm.call"
PLACEHOLDER_NOTE = (
    "Personal data in this conversation has been replaced by placeholders of the form "
    "<<KIND_N>> (KIND is PERSON, EMAIL, PHONE, ADDRESS, CARD, LOYALTY, BIRTHDATE, COMPANY or "
    "PERSONAL). When you refer to one, copy the placeholder exactly as written; never guess "
    "what it stands for."
)
CONTEXT_HEADER = "Context data (JSON):"


class AuditedLLM:
    """A provider behind PII tokenization and the audit log (see the module docstring)."""

    def __init__(
        self,
        provider: LLMProvider,
        audit: AuditSink,
        tokenizer_factory: Callable[[], PiiTokenizer] = PiiTokenizer,
    ) -> None:
        self._provider = provider
        self._audit = audit
        self._tokenizer_factory = tokenizer_factory

    @property
    def available(self) -> bool:
        return self._provider.available

    @property
    def model(self) -> str:
        return self._provider.model

    async def aclose(self) -> None:
        """Close the provider's HTTP client."""
        await self._provider.aclose()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        actor: str,
        purpose: str,
        store: str | None = None,
        context: Mapping[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """The model's answer to ``messages`` (+ ``context``), personal data restored.

        Raises :class:`~tillwise.ports.llm.LLMNotConfigured` without a model, and any other
        :class:`~tillwise.ports.llm.LLMError` the provider raises (after auditing it).
        """
        if not self._provider.available:
            raise LLMNotConfigured("no LLM is configured; use the deterministic text")
        if not actor or not purpose:
            raise ValueError("an LLM call needs an actor and a purpose (both are audited)")

        tokenizer = self._tokenizer_factory()
        safe_context: Any = None
        if context is not None:
            safe_context = tokenizer.tokenize_data(context)
        sent = [ChatMessage(m.role, tokenizer.tokenize_text(m.content)) for m in messages]
        sent = _with_context(sent, safe_context, tokenized=bool(tokenizer.placeholder_counts))

        inputs: dict[str, Any] = {
            "purpose": purpose,
            "provider_model": self._provider.model,
            "messages": [{"role": m.role, "content": m.content} for m in sent],
            "temperature": temperature,
            "max_output": max_tokens,
            "placeholders": tokenizer.placeholder_counts,
        }
        try:
            completion = await self._provider.complete(
                sent, temperature=temperature, max_tokens=max_tokens
            )
        except LLMError as exc:
            failure: dict[str, Any] = {
                "error": type(exc).__name__,
                "status": exc.status,
                "message": tokenizer.tokenize_text(str(exc)),
            }
            await self._append(actor, store, inputs, failure)
            raise
        # Audit what came back as it came back; a known value the model produced on its own
        # (it should not be able to) is tokenized too, so the entry stays free of it.
        outputs: dict[str, Any] = {
            "text": tokenizer.tokenize_text(completion.text),
            "model": completion.model,
            "finish_reason": completion.finish_reason,
            "usage": {
                "prompt": completion.usage.prompt_tokens,
                "completion": completion.usage.completion_tokens,
                "total": completion.usage.total_tokens,
            },
        }
        await self._append(actor, store, inputs, outputs)
        return dataclasses.replace(completion, text=tokenizer.restore_text(completion.text))

    async def _append(
        self, actor: str, store: str | None, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        # The audit log writes to the database synchronously; keep the event loop free.
        await asyncio.to_thread(
            self._audit.append,
            actor=actor,
            action=AUDIT_ACTION,
            store=store,
            inputs=inputs,
            outputs=outputs,
        )


def _with_context(
    messages: list[ChatMessage], safe_context: Any, *, tokenized: bool
) -> list[ChatMessage]:
    parts: list[str] = []
    if tokenized:
        parts.append(PLACEHOLDER_NOTE)
    if safe_context is not None:
        data = json.dumps(safe_context, ensure_ascii=False, default=str, indent=1)
        parts.append(f"{CONTEXT_HEADER}\n{data}")
    if not parts:
        return messages
    extra = ChatMessage("system", "\n\n".join(parts))
    at = 0
    while at < len(messages) and messages[at].role == "system":
        at += 1
    return [*messages[:at], extra, *messages[at:]]


DEFAULT_INSTRUCTION = (
    "You explain the decisions of a retail store's software to the people who run the store. "
    "Rewrite the facts you are given as a short, plain explanation (at most a few sentences). "
    "Use only those facts; do not add numbers, causes or advice that they do not contain."
)


@dataclass(frozen=True)
class Explanation:
    text: str
    model: str | None = None  # None: the deterministic text (no model, or the model failed)

    @property
    def deterministic(self) -> bool:
        return self.model is None

    def __str__(self) -> str:
        return self.text


async def explain(
    facts_text: str,
    *,
    llm: AuditedLLM | None,
    actor: str = "system:explain",
    purpose: str = "explain",
    store: str | None = None,
    context: Mapping[str, Any] | None = None,
    instruction: str = DEFAULT_INSTRUCTION,
    max_tokens: int | None = 300,
    plain: str | None = None,
) -> Explanation:
    """``facts_text`` reworded by the model, or the deterministic text: ``plain`` where the
    model is given more facts than a person should read as they are (a payload), else
    ``facts_text`` itself.

    The deterministic text is returned as is when ``llm`` is None or has no model, and also
    when the call fails or comes back empty (the failure is audited and logged, never raised):
    an explanation must never be what breaks a workflow.
    """
    fallback = Explanation(facts_text if plain is None else plain)
    if llm is None or not llm.available:
        return fallback
    messages = [ChatMessage("system", instruction), ChatMessage("user", facts_text)]
    try:
        completion = await llm.complete(
            messages,
            actor=actor,
            purpose=purpose,
            store=store,
            context=context,
            temperature=0.2,
            max_tokens=max_tokens,
        )
    except LLMError as exc:
        log.warning("LLM explanation failed (%s); using the deterministic text", type(exc).__name__)
        return fallback
    text = completion.text.strip()
    if not text:
        return fallback
    return Explanation(text, model=completion.model)
