"""``ga4gw settings``: the effective settings (secrets masked), or the README's reference table.

While a gateway owns the data directory it is asked (``GET /v1/settings``): its port, public URL and GA4 mode
are its own process's, which the shell running this command may not share. With none running, the command's own
settings are printed under a line saying so: what a gateway started from this shell would run with.
"""

from __future__ import annotations

import argparse

from gateway.config.settings import SPECS, Settings, shown

from . import remote

__all__ = ["register"]


def _settings_cmd(settings: Settings, args: argparse.Namespace) -> int:
    if args.markdown:
        print("| variable | default | what it does |\n|---|---|---|")
        for spec in SPECS:
            default = f"`{spec.default}`" if spec.default else "(empty)"
            print(f"| `{spec.env}` | {default} | {spec.help} |")
        return 0
    gateway = remote.find(settings)
    if gateway is not None:
        answer = gateway.json(gateway.call("GET", "/v1/settings", ["admin"]))
        print(f"# the settings of {gateway.name}, data directory {answer['gateway']['data_dir']}")
        rows = list(answer["settings"].items())
    else:
        print(f"# {remote.none_runs(settings)}: this command's own settings (what `ga4gw serve` would start with)")
        rows = shown(settings)
    for name, value in rows:
        print(f"{name}={value}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``settings``."""
    show = sub.add_parser(
        "settings", help="print the effective settings (secrets masked): the running gateway's, else this command's"
    )
    show.add_argument("--markdown", action="store_true", help="print the settings reference table instead")
    show.set_defaults(run=_settings_cmd)
