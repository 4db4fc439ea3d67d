"""Notifications: the channel protocol; templates and delivery come with the notifications work."""
