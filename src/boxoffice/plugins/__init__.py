"""Loading plugins, reading plugins.toml, routing providers per region and currency."""
