"""Durable push: channel streams with replay (Redis or in-process), a hub of bounded local
subscriber queues, and the checkpointed fence state. No web framework in here."""
