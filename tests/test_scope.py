"""A target's scope: the literal starts a sink lists under, and the addresses the core may prune."""

from syncd.connector import Scope


def test_prefixes_are_the_literal_starts_without_those_inside_another() -> None:
    scope = Scope("prod", ("apps/*", "apps/api/*", "prod/db", "team-*/x"))
    assert scope.prefixes == ("apps/", "prod/db", "team-")


def test_a_wildcard_pattern_covers_every_address_under_its_literal_start() -> None:
    scope = Scope("prod", ("apps/*",))
    assert scope.covers("apps/db") and scope.covers("apps/a/b/c")
    assert not scope.covers("app/db") and not scope.covers("other/apps/db")


def test_a_literal_name_covers_itself_only() -> None:
    """An item named like a literal destination plus more (prod/db2 beside prod/db) is outside the scope: no
    destination could name it, and the least-privilege policy grants nothing on it."""
    scope = Scope("prod", ("prod/db",))
    assert scope.covers("prod/db")
    assert not scope.covers("prod/db2") and not scope.covers("prod/db/x")


def test_no_pattern_covers_nothing() -> None:
    assert Scope("prod").prefixes == ()
    assert not Scope("prod").covers("anything")
