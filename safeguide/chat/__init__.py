"""The chat: a question in, a checked and cited answer out.

- ``chain``: the answer pipeline (checks, routing to timescales, next steps, comparison or retrieval,
  composing, verifying, notices) and its streaming;
- ``verify``: every sentence of a drafted answer checked against the passage it cites;
- ``pathway``: "what do I do next?", the child-protection process as data and a question placed on it;
- ``prompts``: the prompt templates in ``prompts/``;
- ``conversations``: the stored conversations and feedback (personal details already removed).
"""
