"""Final verdicts: a revision of an earlier hit's verdict is an event of its own, and one view applies them.

When a burst shows that earlier opens or clicks were a scanner's, the edge records a ``verdict_revision``
event (``source = 'revision'``) naming the revised event in ``params['revises']`` with the new verdict and
its reasons. The revision travels through the outbox and the writer like any event; the revised row itself
is never rewritten. Why not update the row: ``events`` is a ReplacingMergeTree with no version column,
keyed by (campaign_id, event_name, event_time, event_id), so which of two rows with one key survives a merge
is not defined; and the writer's insert deduplication token is the hash of the batch's event ids, so a
batch re-inserting an event id already inserted in a batch of the same ids is dropped, while a crash
re-drain of the original row after the revision could bring the old verdict back. A revision with its own
id has none of these hazards: it is inserted once (its own token), the original can be re-drained any
number of times, and the final verdict is computed when reading.

The final verdict lives in one place, two views (migration 10):

* ``event_verdicts``: per revised event id, the latest revision's verdict and reasons (latest by the
  revision's time, then its id, so the answer is deterministic);
* ``events_final``: ``events`` deduplicated (``FINAL``) with every hit's final verdict and reasons in
  ``verdict`` and ``verdict_reasons``, revision events left out. The engagement views and
  ``attribution_events`` read it; any new view that filters on the verdict should too.
"""

from .ddl import Dialect

__all__ = [
    "FINAL_EVENTS",
    "PREVIOUS_PARAM",
    "REVISES_PARAM",
    "REVISION_EVENT",
    "REVISION_SOURCE",
    "final_verdict_views",
]

REVISION_EVENT = "verdict_revision"
REVISION_SOURCE = "revision"
REVISES_PARAM = "revises"  # the event id whose verdict is revised
PREVIOUS_PARAM = "previous_verdict"
FINAL_EVENTS = "events_final"


def final_verdict_views(d: Dialect) -> list[str]:
    """The ``event_verdicts`` and ``events_final`` views (see the module docstring)."""
    events = d.qualified("events")
    verdicts = d.qualified("event_verdicts")
    latest = f"""SELECT revised AS event_id, final_verdict, final_reasons
FROM (
    SELECT
        params['{REVISES_PARAM}'] AS revised,
        argMax(verdict, (event_time, event_id)) AS final_verdict,
        argMax(verdict_reasons, (event_time, event_id)) AS final_reasons
    FROM {events}
    WHERE event_name = '{REVISION_EVENT}' AND source = '{REVISION_SOURCE}'
    GROUP BY revised
)"""
    final = f"""SELECT e.* REPLACE (
    if(v.event_id != '', v.final_verdict, e.verdict) AS verdict,
    if(v.event_id != '', v.final_reasons, e.verdict_reasons) AS verdict_reasons
)
FROM {events} AS e FINAL
LEFT JOIN {verdicts} AS v ON e.event_id = v.event_id
WHERE e.source != '{REVISION_SOURCE}'"""
    return d.create_view("event_verdicts", latest) + d.create_view(FINAL_EVENTS, final)
