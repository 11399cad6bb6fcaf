"""Optional answers in sentences from a language model, every sentence checked
against the passages it cites (docs/conversation.md). Off unless ``[llm]
base_url`` is set; nothing here is imported then."""
