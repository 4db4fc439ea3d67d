"""Outgoing webhooks: organizations register HTTPS endpoints for chosen journal entry types;
each entry is delivered signed, retried with backoff, logged, and can be sent again by hand
(docs/webhooks.md)."""
