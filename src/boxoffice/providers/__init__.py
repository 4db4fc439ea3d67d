"""Bundled provider plugins. Each registers through the ``boxoffice`` entry-point group in
pyproject.toml, exactly as a third-party plugin does."""
