"""The store-finder and proximity push service: HTTP, websockets, storage, CLI."""
