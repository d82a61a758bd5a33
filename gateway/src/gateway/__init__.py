"""The CRM gateway: one entry point in front of every service (CONTRACT §4)."""
