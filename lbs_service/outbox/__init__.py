"""The transactional outbox: messages written in the transaction of the event that caused them
(writer.py), moved to the channel streams after commit (relay.py)."""
