"""Two syncd instances writing the same variables at once, on the fake GitLab server: every variable ends in one
instance's hands, holding that instance's value, and the other reports the ones it lost."""

from __future__ import annotations

import threading

from connectors.gitlab import marker
from syncd.model import Ownership
from tests.connectors.gitlab.gitlab_support import PROJECT, apply, item, make_sink, plan
from tests.fakes.gitlab import GitLabFake

KEYS = [f"RACE_{index:02d}" for index in range(24)]
INSTANCES = {
    "first": Ownership("gl-first", "race"),
    "second": Ownership("gl-second", "race"),
}


def test_two_instances_creating_the_same_variables_at_once_never_share_one(gitlab_fake: GitLabFake) -> None:
    """Both instances plan every variable as a create, then apply at the same time: each variable carries exactly
    one instance's marker and that instance's value, and each variable is reported failed by the other."""
    plans = {}
    for name, owner in INSTANCES.items():
        sink = make_sink(gitlab_fake)
        desired = [item(sink, key, f"{name}-value-{key}", owner=owner) for key in KEYS]
        plans[name] = (sink, plan(sink, desired, instance=owner.instance))
    results: dict[str, dict[str, bool]] = {}
    start = threading.Barrier(len(INSTANCES))

    def run(name: str) -> None:
        sink, changes = plans[name]
        start.wait()
        outcome = apply(sink, changes, instance=INSTANCES[name].instance)
        results[name] = {r.change.address.rsplit("/", 1)[-1]: r.ok for r in outcome}

    threads = [threading.Thread(target=run, args=(name,)) for name in INSTANCES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = {v["key"]: v for v in gitlab_fake.variables("project", PROJECT)}
    assert sorted(stored) == KEYS
    for key, variable in stored.items():
        _, owner = marker.parse(variable["description"])
        winner = next(name for name, o in INSTANCES.items() if o == owner)
        assert variable["value"] == f"{winner}-value-{key}", key
        assert results[winner][key] is True
        assert [results[name][key] for name in INSTANCES if name != winner] == [False]
