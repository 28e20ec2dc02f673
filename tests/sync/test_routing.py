"""Routing rules: ordered, first match wins, default org, or a sentence."""
from hypothesis import given, strategies as st

from sync.routing import CwRef, Routed, RoutingFacts, RoutingRule, Unroutable, route

PERTH, SYDNEY = CwRef(7, "Perth"), CwRef(2, "Sydney")
RULES = [
    RoutingRule(30, "sydney", location_id=2),
    RoutingRule(10, "adelaide-ms", location_id=1, department_id=10),
    RoutingRule(20, "nz", integrator_tag="NZ-Books"),
    RoutingRule(25, "vendors", company_type="Vendor"),
    RoutingRule(5, "jsmith", member="JSmith"),
]


def test_first_matching_rule_by_position_wins():
    facts = RoutingFacts("invoices", location=SYDNEY, integrator_tags=("nz-books",))
    decision = route(facts, RULES)
    assert decision == Routed("nz", RULES[2])


def test_all_facts_a_rule_names_must_match():
    adelaide = CwRef(1, "Adelaide")
    assert isinstance(route(RoutingFacts("invoices", location=adelaide,
                                         department=CwRef(11, "PS")), RULES), Unroutable)
    assert route(RoutingFacts("invoices", location=adelaide, department=CwRef(10, "MS")),
                 RULES).org == "adelaide-ms"


def test_member_and_company_type_match_case_insensitively():
    assert route(RoutingFacts("bills", member="jsmith "), RULES).org == "jsmith"
    assert route(RoutingFacts("bills", company_types=("Client", "vendor")), RULES).org == \
        "vendors"


def test_default_org_takes_what_no_rule_matches():
    assert route(RoutingFacts("invoices", location=PERTH), RULES, "head-office") == \
        Routed("head-office", None)


def test_unroutable_says_why():
    decision = route(RoutingFacts("invoices", location=PERTH), RULES)
    assert decision == Unroutable(
        "No routing rule sends invoices of location Perth to a Xero organisation, and "
        "there is no default organisation.")
    decision = route(RoutingFacts("bills", department=CwRef(12, "Procurement"),
                                  member="kwu"), [])
    assert decision.sentence.startswith(
        "No routing rule sends bills of department Procurement (member kwu) to")
    assert "without a location" in route(RoutingFacts("expenses"), []).sentence


refs = st.one_of(st.none(), st.builds(CwRef, st.integers(1, 4), st.sampled_from("ABCD")))
facts_st = st.builds(RoutingFacts, st.just("invoices"), refs, refs,
                     st.one_of(st.none(), st.sampled_from(["a", "b"])),
                     st.lists(st.sampled_from(["t1", "t2"]), max_size=2).map(tuple),
                     st.lists(st.sampled_from(["Client", "Vendor"]), max_size=2).map(tuple))
rules_st = st.lists(st.builds(RoutingRule, st.integers(0, 50), st.sampled_from("xyz"),
                              st.one_of(st.none(), st.integers(1, 4)),
                              st.one_of(st.none(), st.integers(1, 4)),
                              st.one_of(st.none(), st.sampled_from(["a", "b"])),
                              st.one_of(st.none(), st.sampled_from(["t1", "t2"])),
                              st.one_of(st.none(), st.sampled_from(["Client", "Vendor"]))),
                    max_size=8)


@given(facts_st, rules_st)
def test_the_chosen_rule_matches_and_no_earlier_rule_does(facts, rules):
    decision = route(facts, rules, "default")
    ordered = sorted(rules, key=lambda r: r.position)
    if decision.rule is None:
        assert not any(r.matches(facts) for r in rules)
    else:
        assert decision.rule.matches(facts)
        earlier = ordered[:ordered.index(decision.rule)]
        assert not any(r.matches(facts) for r in earlier)


@given(facts_st, rules_st)
def test_order_of_the_input_list_does_not_matter(facts, rules):
    assert route(facts, rules) == route(facts, list(reversed(rules))) or \
        len({r.position for r in rules}) < len(rules)
