"""Legal-aid WeChat bot: the engine (settings, app factory, webhook, conversation, outbox)."""
