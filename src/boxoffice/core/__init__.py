"""The domain: it knows no concrete provider, only the protocols in each domain package."""
