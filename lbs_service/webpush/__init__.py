"""Web Push to people whose app is closed: the allow-list of push services, the VAPID key, users'
subscriptions, and the sender that delivers what the outbox owes them (outbox/pushes.py)."""
