"""Business events, signed outbound webhooks and the public API (issue 10)."""
