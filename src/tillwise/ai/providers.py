"""LLM providers: :class:`NoLLM` (the default) and :class:`OpenAICompatible`.

``NoLLM`` answers nothing: ``available`` is False and ``complete`` raises
:class:`~tillwise.ports.llm.LLMNotConfigured`, so callers use their deterministic explanation
(:func:`tillwise.ai.explain` does that for them).

``OpenAICompatible`` speaks the OpenAI chat-completions wire format —
``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>`` — which hosted
services, vLLM (``http://host:8000/v1``) and Ollama (``http://localhost:11434/v1``) all accept.
Give ``base_url`` up to and including the version path. The key is optional (local servers
rarely need one).

Retries: HTTP 429, 408, 500, 502, 503, 504 and connection errors or timeouts are retried up to
``max_retries`` times. The wait follows the server's hint when it gives one (``Retry-After`` in
seconds or as an HTTP date, or ``retry-after-ms``) and is otherwise exponential backoff with
jitter (0.5 s, 1 s, 2 s… capped at 8 s, each scaled by a random 50–100 %). A hint longer than
``max_retry_wait`` is not waited for: the call fails at once with
:class:`~tillwise.ports.llm.LLMRateLimited`. Other 4xx answers fail at once with
:class:`~tillwise.ports.llm.LLMRequestError`.

The API key is sent only in the Authorization header. It is never logged, never part of a
``repr`` and never part of an error message (error messages quote at most 300 characters of
the endpoint's answer, with the key masked should the endpoint echo it back).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tillwise.ports.llm import (
    ChatMessage,
    Completion,
    LLMConnectionError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRequestError,
    LLMResponseError,
    Usage,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_INITIAL_BACKOFF = 0.5
_MAX_BACKOFF = 8.0
_SNIPPET = 300
_MASK = "***"

Sleep = Callable[[float], Awaitable[None]]


class NoLLM:
    """No model: every caller takes its deterministic path."""

    available = False
    model = ""

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        raise LLMNotConfigured(
            "no LLM is configured (set TILLWISE_LLM_BASE_URL and TILLWISE_LLM_MODEL to use one)"
        )

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NoLLM()"


def _safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (safe to log and to put in errors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class OpenAICompatible:
    """An OpenAI-compatible chat-completions endpoint over httpx."""

    available = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"LLM base URL must be an http(s) URL such as https://host/v1; "
                f"got {_safe_url(base_url)!r}"
            )
        if not model:
            raise ValueError("an LLM model name is required")
        if timeout <= 0:
            raise ValueError("LLM timeout must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._safe_url = _safe_url(self._url)
        self._model = model
        self.__key = api_key or None
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._jitter = jitter
        self._timeout = timeout
        self._transport = transport
        # Made on first use, one per event loop: a pooled connection cannot outlive its loop
        # (the CLI may run several loops over one container).
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"OpenAICompatible(url={self._safe_url!r}, model={self._model!r})"

    async def aclose(self) -> None:
        client, loop = self._client, self._client_loop
        self._client = self._client_loop = None
        # A client made in another (finished) loop cannot be closed from this one; its
        # connections went with that loop.
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
            self._client_loop = loop
        return self._client

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": False,
        }
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")

        attempt = 0
        while True:
            attempts_left = self._max_retries - attempt
            try:
                response = await self._http().post(self._url, content=content, headers=headers)
            except httpx.TimeoutException as exc:
                problem = f"timed out ({type(exc).__name__})"
                if attempts_left <= 0:
                    raise LLMConnectionError(self._message(problem, attempt)) from None
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                problem = f"could not be reached ({type(exc).__name__}: {self._scrub(str(exc))})"
                if attempts_left <= 0:
                    raise LLMConnectionError(self._message(problem, attempt)) from None
                delay = self._backoff(attempt)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._parse(response)
                if status not in RETRY_STATUSES:
                    raise LLMRequestError(self._refused(response), status=status)
                problem = f"answered HTTP {status}"
                hint = _retry_after(response.headers)
                if status == 429 and hint is not None and hint > self._max_retry_wait:
                    raise LLMRateLimited(
                        f"LLM endpoint {self._safe_url} is rate limiting (HTTP 429) and asks to "
                        f"wait {hint:.0f} s, longer than the {self._max_retry_wait:.0f} s limit",
                        retry_after=hint,
                    )
                if attempts_left <= 0:
                    message = self._message(problem, attempt) + self._snippet(response)
                    if status == 429:
                        raise LLMRateLimited(message, retry_after=hint)
                    raise LLMConnectionError(message, status=status)
                delay = hint if hint is not None else self._backoff(attempt)
            attempt += 1
            log.warning(
                "LLM endpoint %s %s; retrying in %.2f s (retry %d of %d)",
                self._safe_url,
                problem,
                delay,
                attempt,
                self._max_retries,
            )
            await self._sleep(delay)

    # ------------------------------------------------------------------ helpers

    def _backoff(self, attempt: int) -> float:
        base = min(_MAX_BACKOFF, _INITIAL_BACKOFF * (2**attempt))
        return base * (0.5 + 0.5 * self._jitter())

    def _message(self, problem: str, retries: int) -> str:
        tries = retries + 1
        return (
            f"LLM endpoint {self._safe_url} {problem}"
            f" after {tries} attempt{'s' if tries != 1 else ''}"
        )

    def _scrub(self, text: str) -> str:
        if self.__key:
            text = text.replace(self.__key, _MASK)
        return text

    def _snippet(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except Exception:  # undecodable body
            return ""
        text = " ".join(self._scrub(text).split())
        if not text:
            return ""
        if len(text) > _SNIPPET:
            text = text[:_SNIPPET] + "…"
        return f": {text}"

    def _refused(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403):
            what = "rejected the API key" if self.__key else "requires an API key"
        elif status == 404:
            what = f"has no such endpoint or model ({self._model!r})"
        else:
            what = "refused the request"
        return f"LLM endpoint {self._safe_url} {what} (HTTP {status})" + self._snippet(response)

    def _parse(self, response: httpx.Response) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content")
            if text is None:
                text = choice.get("text") or ""
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise LLMResponseError(
                f"LLM endpoint {self._safe_url} answered HTTP {response.status_code} with "
                f"something that is not a chat completion" + self._snippet(response),
                status=response.status_code,
            ) from None
        usage_data = data.get("usage") if isinstance(data, dict) else None
        usage = Usage()
        if isinstance(usage_data, dict):
            usage = Usage(
                prompt_tokens=_int_or_none(usage_data.get("prompt_tokens")),
                completion_tokens=_int_or_none(usage_data.get("completion_tokens")),
                total_tokens=_int_or_none(usage_data.get("total_tokens")),
            )
        model = data.get("model") if isinstance(data.get("model"), str) else None
        finish = choice.get("finish_reason")
        return Completion(
            text=text,
            model=model or self._model,
            usage=usage,
            finish_reason=finish if isinstance(finish, str) else None,
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _retry_after(headers: httpx.Headers) -> float | None:
    """The server's wait hint in seconds: ``retry-after-ms``, then ``Retry-After``."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
