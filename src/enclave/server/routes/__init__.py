"""One router per area: OpenAI-compatible API, search, documents, audit, cyber, health."""
