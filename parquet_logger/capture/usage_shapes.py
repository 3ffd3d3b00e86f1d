"""Token counts from every shape LangChain and the providers report them in.

LangChain's own `AIMessage.usage_metadata` comes first (every current chat integration fills
it; its input count includes cached input, its output count reasoning). Without it, the
provider's usage object, found in `response_metadata`, `generation_info` or `llm_output`:

- OpenAI Chat Completions (`prompt_tokens`): input `prompt_tokens` (cached included), cache
  read `prompt_tokens_details.cached_tokens`, reasoning
  `completion_tokens_details.reasoning_tokens`;
- OpenAI Responses (`input_tokens` with `total_tokens`): `input_tokens`,
  `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`;
- Anthropic (`input_tokens`, no total): its input excludes the cache, so input is
  `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`;
- Bedrock Converse (`inputTokens`): input `inputTokens + cacheReadInputTokens +
  cacheWriteInputTokens`; Bedrock's invocation metrics (`inputTokenCount`) likewise;
- Gemini / Vertex AI (`prompt_token_count`, or the REST API's camelCase): input the prompt
  (cached included), cache read `cached_content_token_count`, output the candidates plus
  `thoughts_token_count` (reasoning), as langchain-google-genai counts them.

A missing total is input + output when both are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # llm_facts reads results with these functions
    from parquet_logger.capture.llm_facts import Usage

_MAPPING = (dict, Mapping)
# Where a provider's usage object sits in response_metadata, generation_info or llm_output.
PROVIDER_USAGE_KEYS = (
    "token_usage",
    "usage",
    "usage_metadata",
    "amazon-bedrock-invocationMetrics",
)


def add_usage_metadata(usage: Usage, reported: Mapping[str, Any]) -> None:
    """Add LangChain's `usage_metadata` (UsageMetadata) of one generation."""
    usage.add(
        reported.get("input_tokens"), reported.get("output_tokens"), reported.get("total_tokens")
    )
    inp = reported.get("input_token_details")
    out = reported.get("output_token_details")
    if inp or out:
        inp = inp if isinstance(inp, _MAPPING) else {}
        out = out if isinstance(out, _MAPPING) else {}
        usage.add_details(inp.get("cache_read"), inp.get("cache_creation"), out.get("reasoning"))


def add_provider_usage(usage: Usage, raw: Any) -> bool:
    """Add a provider's own usage object (the shapes in the module's table); False when
    `raw` is none of them."""
    if not isinstance(raw, _MAPPING):
        return False
    if "input_token_details" in raw or "output_token_details" in raw:  # LangChain's, dumped
        add_usage_metadata(usage, raw)
        return True
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        details = _get(raw, "prompt_tokens_details")
        _add(
            usage,
            raw.get("prompt_tokens"),
            raw.get("completion_tokens"),
            raw.get("total_tokens"),
            details.get("cached_tokens"),
            details.get("cache_creation_tokens"),
            _get(raw, "completion_tokens_details").get("reasoning_tokens"),
        )
        return True
    if "input_tokens" in raw:
        if "total_tokens" in raw or "input_tokens_details" in raw:  # OpenAI Responses
            _add(
                usage,
                raw.get("input_tokens"),
                raw.get("output_tokens"),
                raw.get("total_tokens"),
                _get(raw, "input_tokens_details").get("cached_tokens"),
                None,
                _get(raw, "output_tokens_details").get("reasoning_tokens"),
            )
        else:  # Anthropic: input_tokens counts only the input after the last cache point
            _add_uncached(
                usage,
                raw.get("input_tokens"),
                raw.get("output_tokens"),
                raw.get("cache_read_input_tokens"),
                raw.get("cache_creation_input_tokens"),
            )
        return True
    if "inputTokens" in raw:  # Bedrock Converse
        _add_uncached(
            usage,
            raw.get("inputTokens"),
            raw.get("outputTokens"),
            raw.get("cacheReadInputTokens"),
            raw.get("cacheWriteInputTokens"),
            raw.get("totalTokens"),
        )
        return True
    if "inputTokenCount" in raw:  # Bedrock's invocation metrics (streamed responses)
        _add_uncached(
            usage,
            raw.get("inputTokenCount"),
            raw.get("outputTokenCount"),
            raw.get("cacheReadInputTokenCount"),
            raw.get("cacheWriteInputTokenCount"),
        )
        return True
    for names in _GEMINI_NAMES:
        if names[0] in raw:
            thoughts: Any = raw.get(names[4])
            candidates: Any = raw.get(names[1])
            output = candidates
            if _is_count(thoughts) and _is_count(candidates):
                output = candidates + thoughts
            _add(
                usage,
                raw.get(names[0]),
                output,
                raw.get(names[2]),
                raw.get(names[3]),
                None,
                thoughts,
            )
            return True
    return False


# prompt, candidates, total, cached, thoughts: the Python SDK's names and the REST API's.
_GEMINI_NAMES = (
    (
        "prompt_token_count",
        "candidates_token_count",
        "total_token_count",
        "cached_content_token_count",
        "thoughts_token_count",
    ),
    (
        "promptTokenCount",
        "candidatesTokenCount",
        "totalTokenCount",
        "cachedContentTokenCount",
        "thoughtsTokenCount",
    ),
)


def _add_uncached(
    usage: Usage, inp: Any, out: Any, cache_read: Any, cache_creation: Any, total: Any = None
) -> None:
    """Counts whose input excludes the cached input: add the cache counts to it."""
    whole = inp
    if _is_count(inp):
        whole = inp + (cache_read if _is_count(cache_read) else 0)
        whole += cache_creation if _is_count(cache_creation) else 0
    _add(usage, whole, out, total, cache_read, cache_creation, None)


def _add(
    usage: Usage,
    inp: Any,
    out: Any,
    total: Any,
    cache_read: Any,
    cache_creation: Any,
    reasoning: Any,
) -> None:
    if total is None and _is_count(inp) and _is_count(out):
        total = inp + out
    usage.add(inp, out, total)
    usage.add_details(cache_read, cache_creation, reasoning)


def _get(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, _MAPPING) else {}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
