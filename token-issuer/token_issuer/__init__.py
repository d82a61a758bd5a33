"""token-issuer."""

__version__ = "1.0.0"  # the one place of this package's version (make release SERVICE=… VERSION=…)
