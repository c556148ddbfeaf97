"""``ga4gw links sign`` and ``ga4gw rewrite``: tracked links and emails for a sending module without an HTTP client.

While a gateway owns the data directory they go through it (``POST /v1/links``), so links and pixels are signed
for its public URL and with its keys, whatever this shell's settings say. With none running they are signed here
with this command's settings (``GA4GW_PUBLIC_URL`` and the keyrings), and a line on stderr says so.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.config.settings import Settings
from gateway.errors import CommandError

from . import remote

__all__ = ["register"]


def _link_options(args: argparse.Namespace) -> dict[str, Any]:
    from gateway.edge.links import Mode

    if args.mode != "anonymous" and not (args.recipient or args.email):
        raise CommandError("--recipient or --email is required unless --mode anonymous", 2)
    return {
        "campaign": args.campaign,
        "recipient": args.recipient,
        "email": args.email,
        "variant": args.variant,
        "mode": Mode[args.mode.upper()],
        "expires_in_days": args.expires_in_days,
    }


def _warn_recipient(options: dict[str, Any]) -> None:
    from gateway.api.links_api import recipient_warnings

    for warning in recipient_warnings(options["recipient"], options["mode"]):
        print(f"ga4gw: warning: {warning}", file=sys.stderr)


def _through(gateway: remote.Remote, options: dict[str, Any], **body: Any) -> dict[str, Any]:
    """``POST /v1/links`` to the running gateway; a 422 is bad input (exit 2), naming the fields."""
    body.update(options, mode=options["mode"].name.lower())
    response = gateway.call("POST", "/v1/links", ["links:write"], json=body, timeout=120)
    if response.status_code == 422:
        answer = response.json()
        fields = answer.get("fields") or {}
        raise CommandError("; ".join(f"{k}: {v}" for k, v in fields.items()) or str(answer.get("detail")), 2)
    answer = gateway.json(response)
    for warning in answer.get("warnings", []):
        print(f"ga4gw: warning: {warning}", file=sys.stderr)
    return answer


def _local(settings: Settings) -> None:
    print(f"ga4gw: {remote.none_runs(settings)}: signed here for {settings.public_url} (GA4GW_PUBLIC_URL)",
          file=sys.stderr)  # fmt: skip


def _links_sign(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.api.links_api import build_link_signer, tracked_links
    from gateway.edge.links import destination_problem

    for url in args.urls:
        if problem := destination_problem(url):
            raise CommandError(f"URL {url[:200]!r} cannot be signed: {problem}", 2)
    options = _link_options(args)
    gateway = remote.find(settings)
    if gateway is not None:
        answer = _through(gateway, options, urls=args.urls)
        print("\n".join(link["tracked"] for link in answer["links"]))
        return 0
    _local(settings)
    try:
        tracked, _ = tracked_links(build_link_signer(settings), urls=args.urls, **options)
    except ValueError as exc:  # a destination outside GA4GW_LINK_DESTINATIONS
        raise CommandError(str(exc), 2) from None
    _warn_recipient(options)
    print("\n".join(tracked))
    return 0


def _rewrite(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.api.links_api import build_link_signer, tracked_html

    # Bytes that are not UTF-8 pass through untouched (surrogateescape both ways).
    html = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    options = _link_options(args)
    gateway = remote.find(settings)
    if gateway is not None:
        if any("\udc80" <= c <= "\udcff" for c in html):  # bytes that were not UTF-8 (surrogateescape)
            raise CommandError("the email is not UTF-8: the running gateway takes UTF-8 only", 2)
        answer = _through(gateway, options, html=html, track_unsubscribe=args.track_unsubscribe)
        out, tracked, untracked = answer["html"], len(answer["links"]), answer["untracked"]
        pixel_added = answer["pixel"] not in html
    else:
        _local(settings)
        # The rewriter never raises: links the signer refuses are left as they were and reported below.
        result, _ = tracked_html(build_link_signer(settings), html, track_unsubscribe=args.track_unsubscribe, **options)
        _warn_recipient(options)
        out, tracked, pixel_added = result.html, len(result.links), result.pixel_inserted
        untracked = [{"tag": u.tag, "url": u.url, "reason": u.reason, "detail": u.detail} for u in result.untracked]
    sys.stdout.buffer.write(out.encode("utf-8", errors="surrogateescape"))
    sys.stdout.flush()
    print(
        f"ga4gw: {tracked} links tracked, {len(untracked)} left untracked,"
        f" pixel {'added' if pixel_added else 'present'}",
        file=sys.stderr,
    )
    for link in untracked:
        detail = f" ({link['detail']})" if link.get("detail") else ""
        print(f"ga4gw: untracked <{link['tag']}> {link['url'][:200]!r}: {link['reason']}{detail}", file=sys.stderr)
    return 0


def _add_link_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--recipient", default="", help="the sending module's subscriber id (kept as given)")
    parser.add_argument("--email", default="", help="recipient email: only its keyed pseudonym goes in the links")
    parser.add_argument("--variant", default="", help="A/B variant")
    parser.add_argument("--mode", default="pseudonymous", choices=["anonymous", "pseudonymous", "identified"])
    parser.add_argument("--expires-in-days", type=int, default=0, help="link lifetime; 0 for none")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``links sign`` and ``rewrite``."""
    links = sub.add_parser("links", help="tracked links").add_subparsers(dest="links_command", required=True)
    sign = links.add_parser("sign", help="print one tracked URL per destination")
    _add_link_options(sign)
    sign.add_argument("urls", nargs="+", metavar="URL", help="absolute http(s) destinations")
    sign.set_defaults(run=_links_sign)

    rewrite = sub.add_parser(
        "rewrite", help="rewrite an email's HTML (stdin) with tracked links and the pixel (stdout)"
    )
    _add_link_options(rewrite)
    rewrite.add_argument("--track-unsubscribe", action="store_true", help="track unsubscribe links too")
    rewrite.set_defaults(run=_rewrite)
