"""ApiClient: a create the platform may have acted on is not sent again (``replayable=False``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tillwise.connectors._http import ApiClient, ApiError, RetryPolicy


def _client(answers: list[httpx.Response | type[httpx.TransportError]]) -> tuple[ApiClient, list]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = answers.pop(0)
        if isinstance(answer, type):
            raise answer("boom", request=request)
        return answer

    async def no_sleep(_: float) -> None:
        return None

    client = ApiClient(
        base_url="https://pos.example",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=4),
        sleep=no_sleep,
    )
    return client, sent


def _post(client: ApiClient, replayable: bool) -> httpx.Response:
    async def go() -> httpx.Response:
        try:
            return await client.request("POST", "/orders", json={}, replayable=replayable)
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "unsure",
    [httpx.Response(503), httpx.Response(500), httpx.ReadTimeout, httpx.RemoteProtocolError],
)
def test_an_unsure_outcome_is_sent_once_and_fails_as_retryable(unsure: object) -> None:
    client, sent = _client([unsure, httpx.Response(201)])  # type: ignore[list-item]
    with pytest.raises(ApiError) as err:
        _post(client, replayable=False)
    assert err.value.retryable and "not sent again" in err.value.detail
    assert len(sent) == 1


@pytest.mark.parametrize(
    "not_acted_on", [httpx.Response(429), httpx.ConnectError, httpx.ConnectTimeout]
)
def test_what_surely_did_not_arrive_is_sent_again(not_acted_on: object) -> None:
    client, sent = _client([not_acted_on, httpx.Response(201)])  # type: ignore[list-item]
    assert _post(client, replayable=False).status_code == 201
    assert len(sent) == 2


def test_a_replayable_request_is_retried_after_a_5xx() -> None:
    client, sent = _client([httpx.Response(503), httpx.Response(201)])
    assert _post(client, replayable=True).status_code == 201
    assert len(sent) == 2
