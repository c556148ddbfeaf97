"""The HTTP edge of ga4-gateway: settings, the Starlette app, API tokens, the analyst SQL interface, the CLI."""

from .app import create_app
from .auth import Principal, TokenAuthority
from .errors import AuthError, GatewayError, ScopeMissing, SettingsError, TokenInvalid
from .settings import Settings, load_settings

__all__ = [
    "AuthError",
    "GatewayError",
    "Principal",
    "ScopeMissing",
    "Settings",
    "SettingsError",
    "TokenAuthority",
    "TokenInvalid",
    "create_app",
    "load_settings",
]
