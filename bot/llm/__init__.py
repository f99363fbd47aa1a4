"""The optional LLM answerer: LangChain chat models, prompts from prompts/, every citation verified."""
