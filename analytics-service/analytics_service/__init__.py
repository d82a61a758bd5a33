"""analytics-service."""

__version__ = "0.1.0"  # the one place of this package's version (make release SERVICE=… VERSION=…)
