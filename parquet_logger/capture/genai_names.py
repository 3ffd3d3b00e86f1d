"""OpenTelemetry GenAI names for LangChain's facts: `gen_ai.provider.name` for a model's
provider and `gen_ai.operation.name` for a run.

Providers: LangChain integrations name theirs in `metadata["ls_provider"]` (ChatOpenAI
"openai", AzureChatOpenAI "azure", ChatBedrock(Converse) "amazon_bedrock", ChatVertexAI
"google_vertexai", ChatGoogleGenerativeAI "google_genai", ...), and models without it are
known by their `_llm_type` ("openai-chat", "anthropic-chat", ...). The known ones map to the
semantic conventions' well-known values; any other is kept as LangChain names it.
"""

from __future__ import annotations

_WELL_KNOWN: dict[str, tuple[str, ...]] = {
    "openai": ("openai", "openai-chat"),
    "azure.ai.openai": ("azure", "azure_openai", "azure-openai", "azure-openai-chat"),
    "azure.ai.inference": ("azure_ai", "azure-ai-inference", "azure_ai_inference"),
    "anthropic": ("anthropic", "anthropic-chat"),
    "aws.bedrock": (
        "amazon_bedrock",
        "bedrock",
        "aws_bedrock",
        "amazon_bedrock_chat",
        "amazon_bedrock_converse_chat",
    ),
    "gcp.vertex_ai": (
        "google_vertexai",
        "vertexai",
        "google_anthropic_vertex",
        "vertexai_model_garden",
    ),
    "gcp.gemini": ("google_genai", "google_gemini", "chat-google-generative-ai"),
    "mistral_ai": ("mistral", "mistralai", "mistralai-chat"),
    "groq": ("groq", "groq-chat"),
    "cohere": ("cohere", "cohere-chat"),
    "deepseek": ("deepseek", "deepseek-chat"),
    "x_ai": ("xai", "xai-chat"),
    "perplexity": ("perplexity", "perplexitychat"),
    "ibm.watsonx.ai": ("ibm", "watsonx", "ibm_watsonx"),
}
PROVIDER_NAMES: dict[str, str] = {
    alias: name for name, aliases in _WELL_KNOWN.items() for alias in aliases
}


def provider_name(langchain_name: str | None) -> str | None:
    """The `gen_ai.provider.name` of a LangChain provider or LLM type name (case-insensitive);
    an unknown name as it is."""
    if langchain_name is None:
        return None
    known = PROVIDER_NAMES.get(langchain_name)
    if known is None:
        known = PROVIDER_NAMES.get(langchain_name.lower(), langchain_name)
    return known


# gen_ai.operation.name of the run types that have one.
OPERATIONS: dict[str, str] = {
    "chat_model": "chat",
    "llm": "text_completion",
    "embedding": "embeddings",
    "tool": "execute_tool",
    "retriever": "retrieval",
}
# Chains that are agents: the legacy AgentExecutor (LangChain 1.x agents are LangGraph
# graphs, seen as plain chains).
AGENT_CHAIN_NAMES = frozenset({"AgentExecutor"})


def operation_of(run_type: str | None, name: str | None, is_root: bool) -> str | None:
    """A run's `gen_ai.operation.name`: models, tools and retrievers by their run type; an
    agent chain `invoke_agent`; the outermost chain of a trace `invoke_workflow`; any other
    run (a nested chain, a prompt, a parser, a lambda) None: a step, not an operation."""
    operation = OPERATIONS.get(run_type) if run_type is not None else None
    if operation is not None or run_type != "chain":
        return operation
    if name in AGENT_CHAIN_NAMES:
        return "invoke_agent"
    return "invoke_workflow" if is_root else None
