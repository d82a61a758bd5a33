"""Wires webhook-service's parts once per process (as the gateway's ``Gateway``)."""
from __future__ import annotations

from dataclasses import dataclass

from crm_common.config import Settings

from .config import WebhookSettings
from .domain.targets import TargetPolicy


@dataclass(frozen=True)
class Webhooks:
    settings: WebhookSettings
    targets: TargetPolicy


def bootstrap(settings: Settings) -> Webhooks:
    webhook_settings = WebhookSettings.from_settings(settings)
    return Webhooks(webhook_settings, webhook_settings.target_policy())
