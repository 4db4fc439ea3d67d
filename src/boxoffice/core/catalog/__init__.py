"""Catalog: events and their lifecycle. The catalog work adds ticket types, quotas, media,
series and the full discovery API on top of these tables."""
