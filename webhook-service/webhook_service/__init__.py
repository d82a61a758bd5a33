"""webhook-service: subscriptions of outside systems and the delivery of events to them (CONTRACT §6)."""
