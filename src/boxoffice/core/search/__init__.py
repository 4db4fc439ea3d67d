"""Search: the backend protocol; indexing is driven by journal entries."""
