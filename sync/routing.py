"""Which Xero organisation a CW record goes to: ordered rules, first match wins.

A rule names up to five facts (location, department, member, integrator tag, company
type); every fact it names must match, the ones it leaves empty match anything. When no
rule matches the default organisation takes the record; without one the record is
`Unroutable` and the sentence says which facts found no rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class CwRef:
    """A CW reference as the mapping screens show it: the stable id and a name."""
    id: int | None
    name: str


@dataclass(frozen=True)
class RoutingFacts:
    """What the jobs layer knows of one record, filled from CW data.

    `record_kind` is plural for sentences ("invoices", "credit memos", "bills").
    `member` is the invoice's sales rep or the PO's owner, by member identifier.
    """
    record_kind: str
    location: CwRef | None = None
    department: CwRef | None = None
    member: str | None = None
    integrator_tags: tuple[str, ...] = ()
    company_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingRule:
    """One row of the routing table. `position` orders the rules (lowest first)."""
    position: int
    org: str
    location_id: int | None = None
    department_id: int | None = None
    member: str | None = None
    integrator_tag: str | None = None
    company_type: str | None = None

    def matches(self, facts: RoutingFacts) -> bool:
        return (
            _same_id(self.location_id, facts.location)
            and _same_id(self.department_id, facts.department)
            and (self.member is None or _fold(self.member) == _fold(facts.member))
            and (self.integrator_tag is None
                 or _fold(self.integrator_tag) in {_fold(t) for t in facts.integrator_tags})
            and (self.company_type is None
                 or _fold(self.company_type) in {_fold(t) for t in facts.company_types})
        )


@dataclass(frozen=True)
class Routed:
    org: str
    rule: RoutingRule | None     # None: the default organisation took it


@dataclass(frozen=True)
class Unroutable:
    sentence: str


def route(facts: RoutingFacts, rules: Iterable[RoutingRule],
          default_org: str | None = None) -> Routed | Unroutable:
    for rule in sorted(rules, key=lambda r: r.position):
        if rule.matches(facts):
            return Routed(rule.org, rule)
    if default_org:
        return Routed(default_org, None)
    return Unroutable(
        f"No routing rule sends {facts.record_kind} {_describe(facts)} to a Xero "
        "organisation, and there is no default organisation.")


def _same_id(wanted: int | None, ref: CwRef | None) -> bool:
    return wanted is None or (ref is not None and ref.id == wanted)


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def _describe(facts: RoutingFacts) -> str:
    parts = []
    if facts.location:
        parts.append(f"location {facts.location.name}")
    if facts.department:
        parts.append(f"department {facts.department.name}")
    if facts.member:
        parts.append(f"member {facts.member}")
    if facts.company_types:
        parts.append(f"company type {', '.join(facts.company_types)}")
    if not parts:
        return "without a location or department"
    first, rest = parts[0], parts[1:]
    return f"of {first}" + (f" ({', '.join(rest)})" if rest else "")
