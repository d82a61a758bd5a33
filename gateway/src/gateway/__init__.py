"""The CRM gateway: one entry point in front of every service (CONTRACT §4)."""

__version__ = "1.0.0"  # the one place of this package's version (make release SERVICE=… VERSION=…)
