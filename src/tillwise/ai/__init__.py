"""Model-facing helpers: LLM providers, PII tokenization, audited calls, explanations.

By default there is no model (:class:`NoLLM`) and every explanation is the deterministic text
built from structured facts. Configure ``TILLWISE_LLM_BASE_URL``, ``TILLWISE_LLM_MODEL`` (and
``TILLWISE_LLM_API_KEY`` if the endpoint wants one) to use any OpenAI-compatible endpoint.

Callers go through :class:`AuditedLLM` — never a provider directly — so personal data is
replaced by placeholders before anything leaves (:mod:`tillwise.ai.pii` says exactly what is
and is not replaced) and every call is audited with placeholders, not personal data::

    llm = AuditedLLM(make_provider(...), audit=audit_log)
    explanation = await explain(facts, llm=llm, actor="workflow:replenishment@1",
                                purpose="replenishment.explain", store=store_id,
                                context={"order": order_payload})
    explanation.text          # the model's wording, real names restored; or the facts text
"""

from __future__ import annotations

from pydantic import SecretStr

from tillwise.ai.audited import AuditedLLM, Explanation, explain
from tillwise.ai.pii import PiiKind, PiiTokenizer
from tillwise.ai.providers import NoLLM, OpenAICompatible
from tillwise.ports.llm import LLMProvider

__all__ = [
    "AuditedLLM",
    "Explanation",
    "LLMProvider",
    "NoLLM",
    "OpenAICompatible",
    "PiiKind",
    "PiiTokenizer",
    "explain",
    "make_provider",
]


def make_provider(
    base_url: str | None,
    model: str | None = None,
    api_key: str | SecretStr | None = None,
    timeout: float = 30.0,
    *,
    max_retries: int = 2,
) -> LLMProvider:
    """:class:`NoLLM` when ``base_url`` is empty, else an :class:`OpenAICompatible` provider.

    Raises ``ValueError`` (naming the setting, never the key) when a base URL is given without
    a model or is not an http(s) URL.
    """
    if not base_url or not base_url.strip():
        return NoLLM()
    if not model or not model.strip():
        raise ValueError("TILLWISE_LLM_MODEL must be set when TILLWISE_LLM_BASE_URL is set")
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return OpenAICompatible(
        base_url.strip(),
        model.strip(),
        key or None,
        timeout=timeout,
        max_retries=max_retries,
    )
