"""token-issuer tests: ``unit/`` touch no I/O; ``integration/`` run the Flask app in
process against a real PostgreSQL database created for this run (Redis for the shared
guessing limits)."""
