"""Shared library of the CRM service set.

Modules are deliberately small and framework-light:

- ``config``     settings from the environment (CONTRACT §2 names)
- ``errors``     the error types every layer raises (no Flask here)
- ``auth``       JWT claims, roles, tenants and business domains (CONTRACT §3)
- ``envelopes``  the three response envelopes (CONTRACT §4)
- ``db``         engine, sessions and the unit of work that writes the outbox
- ``events``     the event shape of CONTRACT §5
- ``logging``    JSON structured logs with ``trace_id`` and ``sub``
- ``web``        the Flask app factory pieces shared by every service
"""

__version__ = "1.0.0"  # the one place of this package's version (make release SERVICE=… VERSION=…)
