"""The HTTP API (Litestar): the app factory, one controller module per domain."""
