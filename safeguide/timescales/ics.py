"""A deadline plan as an iCalendar file (RFC 5545) that Outlook and Google Calendar import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from safeguide.timescales.rules import PlanStep


def plan_to_ics(steps: list[PlanStep], title: str, citations: dict[str, str]) -> bytes:
    """One all-day event per deadline; the description carries the explanation and the citation."""
    cal = Calendar()
    cal.add("prodid", "-//safeguide//timescales//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", title)
    stamp = datetime.now(UTC).replace(microsecond=0)
    for step in steps:
        event = Event()
        event.add("uid", f"{step.rule_id}-{step.occurrence}-{step.due.due.isoformat()}@safeguide")
        event.add("dtstamp", stamp)
        event.add("dtstart", step.due.due)
        event.add("dtend", step.due.due + timedelta(days=1))
        event.add("summary", f"{step.name} (due)")
        lines = [step.due.explanation, *step.due.warnings]
        if step.rule_id in citations:
            lines.append(f"Source: {citations[step.rule_id]}")
        lines.append("Check the date against your own authority's procedures.")
        event.add("description", "\n".join(lines))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())
