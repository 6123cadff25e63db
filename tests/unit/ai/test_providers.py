"""Providers over httpx's MockTransport: wire format, retries, errors, and the key kept secret."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from tillwise.ai import NoLLM, OpenAICompatible, make_provider
from tillwise.ports.llm import (
    ChatMessage,
    Completion,
    LLMConnectionError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRequestError,
    LLMResponseError,
    LLMUnavailable,
)

E = TypeVar("E", bound=Exception)

KEY = "sk-unit-3c1f0e9d8b7a6f5e4d3c2b1a"
BASE = "https://llm.example.test/v1"
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Explain <<PERSON_1>>.")]


def completion_body(text: str = "Fine.", model: str = "m-1") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


class Script:
    """Answers requests from a list of responses (or exceptions); records every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def provider(
        self, *, key: str | None = KEY, jitter: float = 0.0, **kwargs: Any
    ) -> OpenAICompatible:
        return OpenAICompatible(
            BASE,
            "m-1",
            key,
            transport=httpx.MockTransport(self.handler),
            sleep=self.sleep,
            jitter=lambda: jitter,
            **kwargs,
        )


def run(provider: OpenAICompatible, **kwargs: Any) -> Completion:
    async def scenario() -> Completion:
        try:
            return await provider.complete(MESSAGES, **kwargs)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def failure(provider: OpenAICompatible, error: type[E]) -> E:
    with pytest.raises(error) as info:
        run(provider)
    return info.value


def test_no_llm_is_unavailable_and_refuses_to_complete() -> None:
    provider = NoLLM()
    assert provider.available is False
    with pytest.raises(LLMNotConfigured):
        asyncio.run(provider.complete(MESSAGES))


def test_make_provider() -> None:
    assert isinstance(make_provider(None, None, None, 30), NoLLM)
    assert isinstance(make_provider("", "m", "k", 30), NoLLM)
    with pytest.raises(ValueError, match="TILLWISE_LLM_MODEL"):
        make_provider(BASE, None, SecretStr(KEY), 30)
    provider = make_provider(BASE, "m-1", SecretStr(KEY), 12.5)
    try:
        assert isinstance(provider, OpenAICompatible)
        assert provider.available and provider.model == "m-1"
        assert KEY not in repr(provider)
    finally:
        asyncio.run(provider.aclose())


def test_a_bad_base_url_is_refused_without_echoing_credentials() -> None:
    with pytest.raises(ValueError) as info:
        OpenAICompatible("ftp://user:hunter2@llm.example.test/v1", "m", KEY)
    assert "hunter2" not in str(info.value) and KEY not in str(info.value)


def test_request_is_openai_chat_completions() -> None:
    script = Script(httpx.Response(200, json=completion_body("Hello <<PERSON_1>>.")))
    result = run(script.provider(), temperature=0.2, max_tokens=50)
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "m-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Explain <<PERSON_1>>."},
        ],
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 50,
    }
    assert result.text == "Hello <<PERSON_1>>."
    assert result.model == "m-1" and result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 3)
    assert result.usage.total_tokens == 15


def test_without_a_key_no_authorization_header_is_sent() -> None:
    script = Script(httpx.Response(200, json=completion_body()))
    run(script.provider(key=None))
    assert "authorization" not in script.requests[0].headers


def test_5xx_is_retried_with_exponential_backoff_and_jitter() -> None:
    script = Script(
        httpx.Response(503, text="busy"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, json=completion_body("ok")),
    )
    assert run(script.provider(jitter=1.0)).text == "ok"
    assert len(script.requests) == 3
    assert script.sleeps == [0.5, 1.0]  # 0.5 s then 1 s, at full jitter scale

    script = Script(httpx.Response(500), httpx.Response(200, json=completion_body()))
    run(script.provider(jitter=0.0))
    assert script.sleeps == [0.25]  # jitter scales the wait down to half


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
    ],
)
def test_429_waits_as_the_server_asks(headers: dict[str, str], expected: float) -> None:
    script = Script(
        httpx.Response(429, headers=headers, json={"error": {"message": "slow down"}}),
        httpx.Response(200, json=completion_body("ok")),
    )
    assert run(script.provider(jitter=1.0)).text == "ok"
    assert script.sleeps == [expected]


def test_429_beyond_the_wait_limit_fails_at_once() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    error = failure(script.provider(max_retry_wait=60), LLMRateLimited)
    assert isinstance(error, LLMUnavailable) and error.retry_after == 3600
    assert len(script.requests) == 1 and script.sleeps == []


def test_429_until_retries_run_out() -> None:
    script = Script(*(httpx.Response(429, headers={"Retry-After": "1"}) for _ in range(3)))
    error = failure(script.provider(max_retries=2), LLMRateLimited)
    assert "after 3 attempts" in str(error) and error.status == 429
    assert script.sleeps == [1.0, 1.0]


def test_connection_errors_are_retried_then_reported() -> None:
    request = httpx.Request("POST", f"{BASE}/chat/completions")
    script = Script(
        httpx.ConnectError("connection refused", request=request),
        httpx.ReadTimeout("read timed out", request=request),
    )
    error = failure(script.provider(max_retries=1), LLMConnectionError)
    assert "timed out" in str(error) and "after 2 attempts" in str(error)
    assert len(script.requests) == 2


def test_other_4xx_fail_at_once_with_the_endpoint_s_reason() -> None:
    script = Script(httpx.Response(400, json={"error": {"message": "max_tokens is too large"}}))
    error = failure(script.provider(), LLMRequestError)
    assert error.status == 400
    assert "max_tokens is too large" in str(error)
    assert len(script.requests) == 1 and script.sleeps == []

    script = Script(httpx.Response(404, json={"error": "model not found"}))
    assert "'m-1'" in str(failure(script.provider(), LLMRequestError))


def test_a_rejected_key_is_never_echoed() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        said = request.headers["authorization"]
        return httpx.Response(
            401, json={"error": {"message": f"Incorrect API key provided: {said}"}}
        )

    provider = OpenAICompatible(BASE, "m-1", KEY, transport=httpx.MockTransport(echo))
    error = failure(provider, LLMRequestError)
    assert "rejected the API key (HTTP 401)" in str(error)
    assert "Incorrect API key provided" in str(error)
    assert KEY not in str(error) and KEY not in repr(error)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>proxy login</html>"),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"message": {"content": 42}}]}),
    ],
)
def test_a_2xx_that_is_not_a_completion(response: httpx.Response) -> None:
    error = failure(Script(response).provider(), LLMResponseError)
    assert "not a chat completion" in str(error)


def test_a_null_content_is_an_empty_answer() -> None:
    body = completion_body()
    body["choices"][0]["message"]["content"] = None
    del body["usage"]
    result = run(Script(httpx.Response(200, json=body)).provider())
    assert result.text == "" and result.usage.total_tokens is None
