"""``ga4gw settings``: the effective settings (secrets masked), or the README's reference table."""

from __future__ import annotations

import argparse

from gateway.config.settings import SPECS, Settings

__all__ = ["register"]


def _settings_cmd(settings: Settings, args: argparse.Namespace) -> int:
    if args.markdown:
        print("| variable | default | what it does |\n|---|---|---|")
        for spec in SPECS:
            default = f"`{spec.default}`" if spec.default else "(empty)"
            print(f"| `{spec.env}` | {default} | {spec.help} |")
        return 0
    for spec in SPECS:
        value = getattr(settings, spec.name)
        if isinstance(value, tuple):  # the environment's own form, not Python's ('a', 'b')
            value = ",".join(str(item) for item in value)
        shown = ("(set)" if str(value) else "(empty)") if spec.secret else value
        print(f"{spec.env}={shown}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``settings``."""
    show = sub.add_parser("settings", help="print the effective settings (secrets masked)")
    show.add_argument("--markdown", action="store_true", help="print the settings reference table instead")
    show.set_defaults(run=_settings_cmd)
