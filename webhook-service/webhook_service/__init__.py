"""webhook-service: subscriptions of outside systems and the delivery of events to them (CONTRACT §6)."""

__version__ = "1.0.0"  # the one place of this package's version (make release SERVICE=… VERSION=…)
