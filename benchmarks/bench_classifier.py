"""How fast and how well gateway.edge.machine classifies.

Run from the repository root: ``python -m benchmarks.bench_classifier``.

Speed: hits per second on one core; the hits are built before the clock starts, so only
``Classifier.classify`` is timed. Quality: the labelled corpus in ``tests/data/classifier/hits.json``
replayed in time order through one ``Classifier`` built as the gateway builds it from default settings,
so bursts and the revisions they make count: each hit is scored by its final verdict (its revision's, when a
later hit revised it). Rows of one ``scenario`` are one campaign and carry their ``recipient`` and ``link``;
any other row is an email of its own. Printed: precision and recall per verdict, and machine precision and
recall for clicks and opens separately, as first classified and final.
``tests/gateway/test_machine_corpus.py`` keeps the quality figures from falling.
"""

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from gateway.config.settings import load_settings
from gateway.edge.machine import Classifier, Hit, Kind, Verdict, classifier_config
from gateway.edge.verdicts import MACHINE_KINDS

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "classifier" / "hits.json"
# Verdicts that say no person was behind the hit; unknown is neither machine nor person.
MACHINE = MACHINE_KINDS


@dataclass(frozen=True)
class Scored:
    """One corpus row with its final verdict, and the verdict it got when it came (``first``)."""

    row: dict[str, Any]
    verdict: Verdict
    first: Verdict

    @property
    def expected(self) -> Kind:
        return Kind(self.row["expect"])


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    """The labelled rows of the corpus."""
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["hits"]
    return rows


def classify_corpus(rows: list[dict[str, Any]], *, revise: bool = True) -> list[Scored]:
    """Replay every row in time order through the gateway's default classifier; final verdicts unless not ``revise``."""
    classifier = Classifier(classifier_config(load_settings({})))
    sent = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    first: dict[int, Verdict] = {}
    final: dict[int, Verdict] = {}
    order = sorted(range(len(rows)), key=lambda n: (rows[n]["seconds_since_send"], n))
    for n in order:
        row = rows[n]
        kind: Literal["open", "click"] = "click" if row["kind"] == "click" else "open"
        hit = Hit(
            kind=kind,
            method=row["method"],
            headers=row["headers"],
            ip=row["ip"],
            campaign_id=row.get("scenario") or f"corpus-{n}",
            recipient=row.get("recipient") or f"r-{n}",
            link_id=(row.get("link") or f"l-{n}") if kind == "click" else None,
            send_time=sent,
            now=sent + timedelta(seconds=row["seconds_since_send"]),
            event_id=str(n),
        )
        verdict = classifier.classify(hit)
        first[n] = final[n] = verdict
        for revision in verdict.revisions if revise else ():
            final[int(revision.event_id)] = Verdict(revision.verdict, revision.reasons)
    return [Scored(row, final[n], first[n]) for n, row in enumerate(rows)]


def _ratio(part: int, whole: int) -> float:
    # Nothing predicted (or nothing to find) is a perfect score: no wrong answer was given.
    return part / whole if whole else 1.0


def per_verdict(scored: list[Scored]) -> dict[Kind, tuple[float, float, int]]:
    """Precision, recall and support of every verdict the corpus expects or the classifier gave."""
    kinds = {s.expected for s in scored} | {s.verdict.kind for s in scored}
    figures = {}
    for kind in sorted(kinds):
        right = sum(1 for s in scored if s.expected == kind and s.verdict.kind == kind)
        given = sum(1 for s in scored if s.verdict.kind == kind)
        wanted = sum(1 for s in scored if s.expected == kind)
        figures[kind] = (_ratio(right, given), _ratio(right, wanted), wanted)
    return figures


def machine_figures(scored: list[Scored], kind: str | None = None) -> tuple[float, float, int]:
    """Machine precision and recall (and how many machine rows) over clicks, opens or both."""
    rows = [s for s in scored if kind is None or s.row["kind"] == kind]
    said = [s for s in rows if s.verdict.kind in MACHINE]
    right = sum(1 for s in said if s.row["label"] == "machine")
    machines = sum(1 for s in rows if s.row["label"] == "machine")
    return _ratio(right, len(said)), _ratio(right, machines), machines


def print_quality() -> list[Scored]:
    """Print the quality figures over the corpus and return the scored rows."""
    rows = load_corpus()
    scored = classify_corpus(rows)
    scenarios = {row["scenario"] for row in rows if row.get("scenario")}
    labels = Counter(row["label"] for row in rows)
    kinds = Counter(row["kind"] for row in rows)
    print(
        f"corpus {len(rows)} hits ({labels['machine']} machine, {labels['human']} human; "
        f"{kinds['click']} clicks, {kinds['open']} opens; {len(scenarios)} timing scenarios): "
        f"{CORPUS.relative_to(CORPUS.parents[3])}"
    )
    print(f"{'verdict':<12} {'precision':>9} {'recall':>7} {'support':>8}")
    for kind, (precision, recall, support) in per_verdict(scored).items():
        print(f"{kind.value:<12} {precision:>9.2f} {recall:>7.2f} {support:>8}")
    as_first = [Scored(s.row, s.first, s.first) for s in scored]
    revised = sum(1 for s in scored if s.first.kind != s.verdict.kind)
    print(f"machine precision / recall as first classified -> final ({revised} hits revised by later bursts):")
    for name, hit_kind in (("clicks", "click"), ("opens", "open"), ("all", None)):
        p0, r0, _ = machine_figures(as_first, hit_kind)
        precision, recall, machines = machine_figures(scored, hit_kind)
        print(f"machine {name:<6} {p0:.2f} / {r0:.2f} -> precision {precision:.2f} recall {recall:.2f} "
              f"({machines} machine hits)")  # fmt: skip
    for s in scored:
        if s.verdict.kind != s.expected:
            print(
                f"  miss: expected {s.expected.value}, got {s.verdict.kind.value} {s.verdict.reasons}: {s.row['note']}"
            )
    return scored


HITS = 200_000
RECIPIENTS = 20_000

_USER_AGENTS = (
    # (weight, user agent): roughly a consumer list with Apple Mail, Gmail and some B2B scanners.
    (30, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"),
    (25, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"),
    (15, ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")),
    (10, ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
          "Safari/537.36")),
    (5, ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
         "Mobile Safari/537.36")),
    (5, "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; Microsoft Outlook 16.0.17328; ms-office; MSOffice 16)"),
    (4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft-SafeLinks/1.0"),
    (3, "python-requests/2.31.0"),
    (3, ""),
)  # fmt: skip


def _hits(rng: random.Random) -> list[Hit]:
    weights = [weight for weight, _ in _USER_AGENTS]
    agents = [agent for _, agent in _USER_AGENTS]
    sent = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    hits = []
    for n in range(HITS):
        is_click = rng.random() < 0.3
        headers = {"user-agent": rng.choices(agents, weights)[0], "accept": "*/*", "accept-language": "en-GB"}
        if rng.random() < 0.02:
            headers["sec-purpose"] = "prefetch"
        hits.append(
            Hit(
                kind="click" if is_click else "open",
                method="HEAD" if rng.random() < 0.01 else "GET",
                headers=headers,
                ip=f"{rng.choice((17, 66, 198))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                campaign_id=f"c-{rng.randrange(5)}",
                recipient=f"r-{rng.randrange(RECIPIENTS)}",
                link_id=f"l-{rng.randrange(8)}" if is_click else None,
                send_time=sent,
                now=sent + timedelta(seconds=n * 0.05),
            )
        )
    return hits


def main() -> None:
    print_quality()
    hits = _hits(random.Random(7))
    classifier = Classifier()
    classify = classifier.classify
    start = time.perf_counter()
    for one in hits:
        classify(one)
    elapsed = time.perf_counter() - start
    print(f"{HITS} hits in {elapsed:.3f} s: {HITS / elapsed:,.0f} hits/s, {elapsed / HITS * 1e6:.2f} µs per hit")


if __name__ == "__main__":
    main()
