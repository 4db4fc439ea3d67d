"""Payments: the gateway protocol now; orders, attempts and webhooks come with the payments work."""
