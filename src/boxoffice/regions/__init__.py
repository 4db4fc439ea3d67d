"""Bundled compliance region packs. Each registers through the ``boxoffice`` entry-point
group in pyproject.toml, exactly as a third-party region pack does."""
