"""Service-to-service endpoints (``/internal/...``), not routed by the gateway."""
