"""The LLM port: a chat-completion provider, its errors, and the audit sink an LLM call writes to.

Implementations live in :mod:`tillwise.ai.providers` (``NoLLM``, the default, and
``OpenAICompatible``). Nothing outside ``tillwise.ai`` should call a provider directly: go
through :class:`tillwise.ai.AuditedLLM`, which tokenizes personal data first and audits the call.

Errors
------
Every failure of a call is an :class:`LLMError`::

    LLMError                    base class; ``status`` is the HTTP status when there was one
    ├── LLMUnavailable          no answer can be had now: use the deterministic text instead
    │   ├── LLMNotConfigured    no provider is configured (NoLLM, the default)
    │   ├── LLMRateLimited      HTTP 429 after every retry, or a Retry-After beyond the limit
    │   └── LLMConnectionError  unreachable, timed out, or HTTP 5xx after every retry
    ├── LLMRequestError         the endpoint refused the request (HTTP 4xx other than 429:
    │                           wrong key, unknown model, bad parameters); retrying will not help
    └── LLMResponseError        a 2xx answer that is not an OpenAI-style chat completion

Error messages never contain the API key, request headers or the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts as the endpoint reported them (None when it did not)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    model: str  # the model that answered, as the endpoint names it
    usage: Usage = Usage()
    finish_reason: str | None = None


class LLMError(Exception):
    """A chat completion could not be had (see the module docstring for the tree)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LLMUnavailable(LLMError):
    """No answer can be had now; callers fall back to their deterministic text."""


class LLMNotConfigured(LLMUnavailable):
    """No LLM provider is configured (the default)."""


class LLMRateLimited(LLMUnavailable):
    """The endpoint kept answering 429 (``retry_after``: its last hint in seconds, if any)."""

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class LLMConnectionError(LLMUnavailable):
    """The endpoint could not be reached, timed out, or kept failing with 5xx."""


class LLMRequestError(LLMError):
    """The endpoint refused the request (4xx other than 429); a configuration problem."""


class LLMResponseError(LLMError):
    """The endpoint answered 2xx with something that is not a chat completion."""


class LLMProvider(Protocol):
    """A chat-completion endpoint. ``available`` False means every call raises
    :class:`LLMNotConfigured`; callers should then use their deterministic text."""

    @property
    def available(self) -> bool: ...

    @property
    def model(self) -> str:
        """The configured model name ("" when none)."""
        ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion: ...

    async def aclose(self) -> None:
        """Release connections (the composition root calls it on shutdown)."""
        ...


class AuditSink(Protocol):
    """Where an audited LLM call is recorded; ``tillwise.governance.audit.AuditLog`` fits."""

    def append(
        self,
        *,
        actor: str,
        action: str,
        store: str | None = None,
        inputs: Any = None,
        outputs: Any = None,
    ) -> object: ...
