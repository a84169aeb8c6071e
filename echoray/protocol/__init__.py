"""Wire models (protocol layer, pydantic only): what clients send and receive.

- ``openai``: OpenAI's chat, completion, embedding and model shapes, plus echoray's
  ``echo`` extension and feedback;
- ``memory``: the memory, archive and admin API;
- ``ids``: the one rule for tenant, user, session and memory identifiers.
"""
