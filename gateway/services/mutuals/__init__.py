"""A mutual and its products from the TOML file (D1-D4, D14-D15).

- checks: Table-driven checking of TOML values: a spec maps each key to a check and a default,
  and
- config: Create or update a mutual from its TOML file (interfaces.md, Files; D1-D4, D14-D15).
- schema: What a mutual's TOML file holds (interfaces.md, Files; D1-D4, D14-D15): the spec of
  each
"""

from gateway.services.mutuals.config import (
    ConfigError,
    load_mutual,
)

__all__ = [
    "ConfigError",
    "load_mutual",
]
