"""Faults at every step of the AWS sinks' writes and deletes, then a second run: it converges, and syncd's marker
sits only on data syncd wrote.

The cases together cover every kind of change a sink makes (create in both Secrets Manager layouts, value
update, tag and description drift, adoption, prune with a recovery window and forced, and for Secrets Manager
the restore of a scheduled deletion). Each case's clean apply is run once to list its AWS calls; then, for each
call N, a fresh copy of the case is applied (one change at a time, so the order of calls is fixed) with a fault
aimed at call N:

- refused, at every call: the call is answered with a 500 that moto never carried out (the sink makes one
  attempt per call, so the error reaches syncd's retry of the whole write);
- lost, at every write: moto carries the call out and the client is answered a 500; botocore does not retry
  (one attempt per call), so syncd's retry sends the write again from its start (a retried CreateSecret or
  PutParameter then finds the name taken by its own first attempt);
- killed, right after every write: moto carries the call out and answers it, and from then on nothing of that
  run reaches moto (`AwsFake.fail_at` in `kill` mode). The server then holds exactly what a process killed
  right after call N would have left, whatever the run's remaining code does, finally blocks included. (A kill
  right after a read leaves what a kill after the write before it leaves: reads change nothing.)

After the fault: every item with this instance's marker holds a value syncd wrote and nobody else's item
changed. A refused call or a lost answer is recovered within the run: it reports only the designed conflicts,
and the next plan shows no change. After a kill, a second run with fresh sinks reports only those conflicts and
a third plan shows no change. After a kill, a person may also write to every item that carries no marker while
the second run no longer adopts: their values survive it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from syncd.model import Ownership
from syncd.testing import MemorySource
from tests.connectors.aws.aws_apply_support import (
    REGION,
    Expectations,
    Held,
    ParametersStore,
    SecretsStore,
    Store,
    conflicts,
    doc,
    plan_only,
    run,
    unsettled,
    write_manifest,
)
from tests.fakes.aws import AwsFake

pytest_plugins = ["tests.fakes.aws"]

INSTANCE = "prod"
OTHER = Ownership("staging", "db")


@pytest.fixture(scope="module")
def backdoors(aws_fake_server: AwsFake) -> dict[str, Any]:
    return {
        "secretsmanager": aws_fake_server.client("secretsmanager", REGION),
        "ssm": aws_fake_server.client("ssm", REGION),
    }


HEADER = """
version: 1
instance: prod
defaults: {prune: true}
source: {type: memory}
targets:
  {TARGET}:
    type: {TYPE}{OPTIONS}
syncs:
"""


@dataclass
class Case:
    """One kind of change: a planted state, the syncs that change it, and what may be found whatever happens.

    Each case runs on its own, so that a sweep over its few calls stays cheap.
    """

    name: str
    service: str
    syncs: str
    source: dict[str, dict[str, str]]
    plant: Callable[[Store], None]
    expect: Expectations
    conflicts: set[str] = field(default_factory=set)
    options: dict[str, Any] = field(default_factory=dict)

    def store(self, fake: AwsFake, backdoors: dict[str, Any]) -> Store:
        client = backdoors[self.service]
        return SecretsStore(fake, client) if self.service == "secretsmanager" else ParametersStore(fake, client)

    def text(self, fake: AwsFake, *, adopt: bool = True, **options: Any) -> str:
        settings = {"region": REGION, "endpoint_url": fake.endpoint, **self.options, **options}
        lines = "".join(f"\n    {key}: {value}" for key, value in settings.items())
        kind = "aws-secrets-manager" if self.service == "secretsmanager" else "aws-ssm"
        target = "sm" if self.service == "secretsmanager" else "ps"
        header = HEADER.replace("{TARGET}", target).replace("{TYPE}", kind).replace("{OPTIONS}", lines)
        text = header + textwrap.indent(textwrap.dedent(self.syncs).strip(), "  ") + "\n"
        return text if adopt else text.replace("on_conflict: adopt", "on_conflict: fail")

    @property
    def names(self) -> set[str]:
        """Every name syncd may write or delete in this case."""
        return {*self.expect.syncd, *self.expect.adopted}


def owner(sync: str) -> Ownership:
    return Ownership(INSTANCE, sync)


def expect(
    syncd: dict[str, set[str]], untouched: dict[str, Held] | None = None, adopted: dict[str, str] | None = None
) -> Expectations:
    return Expectations(INSTANCE, syncd, untouched or {}, adopted or {})


def sm_adopt(store: Store) -> None:
    store.plant("app/adopt", doc(D="person-adopt"))
    store.plant("app/person", doc(P="person-p"))


def sm_restore(store: Store) -> None:
    store.plant("app/back", doc(B="back-0"), owner("back"), scheduled=True)


def sm_prune(store: Store) -> None:
    store.plant("app/keys/K0", "k0-0", owner("keys"))
    store.plant("app/other", doc(O="theirs"), OTHER)


def sm_meta(store: Store) -> None:
    store.plant("app/meta", doc(M="meta-1"), owner("meta"), tags={"team": "old"}, description="meta v1")


def sm_value(store: Store) -> None:
    store.plant("app/val", doc(V="val-1"), owner("val"))


SECRETS = [
    Case(
        "adopt",
        "secretsmanager",
        """
        - {name: adopt, from: apps/adopt, on_conflict: adopt, to: [{target: sm, name: app/adopt, description: mine}]}
        - {name: person, from: apps/person, to: [{target: sm, name: app/person}]}
        """,
        {"apps/adopt": {"D": "adopt-2"}, "apps/person": {"P": "mine-3"}},
        sm_adopt,
        expect(
            {"app/adopt": {doc(D="adopt-2")}},
            {"app/person": Held(doc(P="person-p"), None)},
            {"app/adopt": doc(D="person-adopt")},
        ),
        {"app/person"},
    ),
    Case(
        "restore",
        "secretsmanager",
        "- {name: back, from: apps/back, to: [{target: sm, name: app/back}]}",
        {"apps/back": {"B": "back-1"}},
        sm_restore,
        expect({"app/back": {doc(B="back-0"), doc(B="back-1")}}),
    ),
    Case(
        "create-and-prune",
        "secretsmanager",
        """
        - {name: keys, from: apps/keys, to: [{target: sm, granularity: per-key, name: "app/keys/{key}"}]}
        - {name: new, from: apps/new, to: [{target: sm, name: app/new}]}
        - {name: other, from: apps/other, to: [{target: sm, name: app/other}]}
        """,
        {"apps/keys": {"K1": "k1-1"}, "apps/new": {"N": "new-1"}, "apps/other": {"O": "mine-2"}},
        sm_prune,
        expect(
            {"app/keys/K0": {"k0-0"}, "app/keys/K1": {"k1-1"}, "app/new": {doc(N="new-1")}},
            {"app/other": Held(doc(O="theirs"), OTHER)},
        ),
        {"app/other"},
    ),
    Case(
        "tags-and-description",
        "secretsmanager",
        "- {name: meta, from: apps/meta, to: [{target: sm, name: app/meta, tags: {team: core}, description: meta v2}]}",
        {"apps/meta": {"M": "meta-1"}},
        sm_meta,
        expect({"app/meta": {doc(M="meta-1")}}),
    ),
    Case(
        "value",
        "secretsmanager",
        "- {name: val, from: apps/val, to: [{target: sm, name: app/val}]}",
        {"apps/val": {"V": "val-2"}},
        sm_value,
        expect({"app/val": {doc(V="val-1"), doc(V="val-2")}}),
    ),
]
SECRETS_FORCED = replace(SECRETS[2], name="create-and-prune-forced", options={"force_delete": "true"})


def ssm_adopt(store: Store) -> None:
    store.plant("/app/adopt/D", "person-adopt")
    store.plant("/app/person/P", "person-p")


def ssm_prune(store: Store) -> None:
    store.plant("/app/keys/K0", "k0-0", owner("keys"))
    store.plant("/app/other/O", "theirs", OTHER)


def ssm_meta(store: Store) -> None:
    store.plant("/app/meta/M", "meta-1", owner("meta"), tags={"team": "old"}, description="meta v1")


def ssm_value(store: Store) -> None:
    store.plant("/app/val/V", "val-1", owner("val"))


PARAMETERS = [
    Case(
        "adopt",
        "ssm",
        """
        - {name: adopt, from: apps/adopt, on_conflict: adopt, to: [{target: ps, path: /app/adopt/}]}
        - {name: person, from: apps/person, to: [{target: ps, path: /app/person/}]}
        """,
        {"apps/adopt": {"D": "adopt-2"}, "apps/person": {"P": "mine-3"}},
        ssm_adopt,
        expect(
            {"/app/adopt/D": {"adopt-2"}},
            {"/app/person/P": Held("person-p", None)},
            {"/app/adopt/D": "person-adopt"},
        ),
        {"/app/person/P"},
    ),
    Case(
        "create-and-prune",
        "ssm",
        """
        - {name: keys, from: apps/keys, to: [{target: ps, path: /app/keys/}]}
        - {name: new, from: apps/new, to: [{target: ps, path: /app/new/}]}
        - {name: other, from: apps/other, to: [{target: ps, path: /app/other/}]}
        """,
        {"apps/keys": {"K1": "k1-1"}, "apps/new": {"N": "new-1"}, "apps/other": {"O": "mine-2"}},
        ssm_prune,
        expect(
            {"/app/keys/K0": {"k0-0"}, "/app/keys/K1": {"k1-1"}, "/app/new/N": {"new-1"}},
            {"/app/other/O": Held("theirs", OTHER)},
        ),
        {"/app/other/O"},
    ),
    Case(
        "tags-and-description",
        "ssm",
        """
        - name: meta
          from: apps/meta
          to: [{target: ps, path: /app/meta/, tags: {team: core}, description: meta v2}]
        """,
        {"apps/meta": {"M": "meta-1"}},
        ssm_meta,
        expect({"/app/meta/M": {"meta-1"}}),
    ),
    Case(
        "value",
        "ssm",
        "- {name: val, from: apps/val, to: [{target: ps, path: /app/val/}]}",
        {"apps/val": {"V": "val-2"}},
        ssm_value,
        expect({"/app/val/V": {"val-1", "val-2"}}),
    ),
]

CASES = {f"{case.service}-{case.name}": case for case in [*SECRETS, SECRETS_FORCED, *PARAMETERS]}
# The step mode of each kind of fault.
MODES = {"refused": "refuse", "lost": "lose", "killed": "kill"}


@pytest.fixture
def fresh(aws_fake: AwsFake, backdoors: dict[str, Any]) -> Callable[[Case], Store]:
    """Wipes the fake and plants a case's state."""

    def make(case: Case) -> Store:
        aws_fake.reset()
        store = case.store(aws_fake, backdoors)
        case.plant(store)
        return store

    return make


# Case name → the calls of its clean apply (operation, is a write), worked out once per worker.
_CALLS: dict[str, list[tuple[str, bool]]] = {}


def calls_of_a_clean_apply(
    fake: AwsFake, case: Case, fresh: Callable[[Case], Store], folder: Path, *, writes_only: bool
) -> list[str]:
    """The calls (or the write calls) of the case's apply, in order; that apply is checked to converge and to
    touch nobody else's item."""
    key = f"{case.service}-{case.name}"
    if key not in _CALLS:
        _CALLS[key] = _clean_apply(fake, case, fresh, folder)
    return [operation for operation, write in _CALLS[key] if write or not writes_only]


def _clean_apply(fake: AwsFake, case: Case, fresh: Callable[[Case], Store], folder: Path) -> list[tuple[str, bool]]:
    store = fresh(case)
    manifest = write_manifest(folder, case.text(fake), "clean.yaml")
    source = MemorySource(secrets=case.source)
    done = run(manifest, source, before_apply=fake.reset_counts)
    assert set(done.failed) == case.conflicts
    assert not case.expect.violations(store.state())
    assert not unsettled(plan_only(manifest, source))
    return [(call.operation, call.is_write) for call in fake.calls if call.service == case.service]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CASES)
def test_a_fault_at_any_write_call_then_a_second_run_converges_with_markers_only_on_syncds_data(
    aws_fake: AwsFake, fresh: Callable[[Case], Store], tmp_path: Path, name: str, mode: str
) -> None:
    """A fault at each write call leaves syncd's marker only on data syncd wrote and nobody else's item changed;
    an error or a lost answer is recovered within the run, and after a kill a second run converges."""
    case = CASES[name]
    step_mode = MODES[mode]
    # A refused read is an error syncd must handle too; a read answered and then lost or killed is a state some
    # write's fault already covers, as reads change nothing.
    writes_only = step_mode != "refuse"
    calls = calls_of_a_clean_apply(aws_fake, case, fresh, tmp_path, writes_only=writes_only)
    faulted = write_manifest(tmp_path, case.text(aws_fake), "faulted.yaml")
    again = write_manifest(tmp_path, case.text(aws_fake), "again.yaml")
    source = MemorySource(secrets=case.source)
    problems: list[str] = []
    for index, operation in enumerate(calls, start=1):
        where = f"{mode} at {'write' if writes_only else 'call'} {index} ({operation})"
        store = fresh(case)

        def arm(i: int = index) -> None:
            aws_fake.fail_at(i, step_mode, service=case.service, writes_only=writes_only)

        first = run(faulted, source, before_apply=arm)
        aws_fake.heal()
        problems += [f"{where}: {v}" for v in case.expect.violations(store.state())]
        if step_mode != "kill" and set(first.failed) != case.conflicts:
            problems.append(f"{where}: the faulted run failed {first.failed}")
            continue
        if step_mode == "kill":
            second = run(again, source)
            problems += [f"{where}, second run: {v}" for v in case.expect.violations(store.state())]
            if set(second.failed) != case.conflicts:
                problems.append(f"{where}: the second run failed {second.failed}")
        third = plan_only(again, source)
        if unsettled(third) or conflicts(third) != case.conflicts:
            problems.append(f"{where}: not converged: {unsettled(third)}, conflicts {sorted(conflicts(third))}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [name for name in CASES if "adopt" in name or "create" in name])
def test_a_persons_change_after_a_kill_survives_the_next_run(
    aws_fake: AwsFake, fresh: Callable[[Case], Store], tmp_path: Path, name: str
) -> None:
    """After a kill at each write call, a person writes to every item of the case that carries no marker, and
    the next run no longer adopts: every value the person wrote is still there after it, and nothing is left
    to do but conflicts."""
    case = CASES[name]
    writes = calls_of_a_clean_apply(aws_fake, case, fresh, tmp_path, writes_only=True)
    manifest = write_manifest(tmp_path, case.text(aws_fake), "faulted.yaml")
    withdrawn = write_manifest(tmp_path, case.text(aws_fake, adopt=False), "withdrawn.yaml")
    source = MemorySource(secrets=case.source)
    problems: list[str] = []
    for index, operation in enumerate(writes, start=1):
        where = f"kill at write {index} ({operation})"
        store = fresh(case)
        run(
            manifest,
            source,
            before_apply=lambda i=index: aws_fake.fail_at(i, "kill", service=case.service, writes_only=True),
        )
        aws_fake.heal()
        held = store.state()
        edited = {n for n in case.names if (n not in held or held[n].owner is None) and n not in case.expect.untouched}
        for person_name in sorted(edited):
            store.edit(person_name, f"person-{index}")
        after_edit = store.state()
        expectations = replace(
            case.expect,
            untouched={**case.expect.untouched, **{n: after_edit[n] for n in edited}},
            adopted={},
        )
        run(withdrawn, source)
        problems += [f"{where}: {v}" for v in expectations.violations(store.state())]
        third = plan_only(withdrawn, source)
        if unsettled(third) or conflicts(third) - edited != case.conflicts:
            problems.append(f"{where}: not converged: {unsettled(third)}, conflicts {sorted(conflicts(third))}")
    assert not problems, "\n".join(problems)


# The fake's step faults themselves.


def test_a_refused_call_is_never_carried_out(aws_fake: AwsFake, backdoors: dict[str, Any]) -> None:
    """`refuse` answers the chosen write with a 500 and moto never sees it; other calls pass."""
    client = aws_fake.client("secretsmanager", REGION, record=True)
    aws_fake.fail_at(2, "refuse", service="secretsmanager", writes_only=True)
    client.create_secret(Name="a", SecretString="1")
    client.list_secrets()
    with pytest.raises(ClientError, match="InternalServiceError"):
        client.create_secret(Name="b", SecretString="2")
    client.create_secret(Name="c", SecretString="3")
    assert sorted(SecretsStore(aws_fake, backdoors["secretsmanager"]).state()) == ["a", "c"]


def test_a_lost_answer_is_carried_out_and_answered_with_an_error(aws_fake: AwsFake, backdoors: dict[str, Any]) -> None:
    """`lose` lets moto carry the call out and answers the client with a 500 instead."""
    client = aws_fake.client("ssm", REGION, record=True)
    aws_fake.fail_at(1, "lose", service="ssm")
    with pytest.raises(ClientError, match="InternalServerError"):
        client.put_parameter(Name="/a", Value="1", Type="String")
    assert backdoors["ssm"].get_parameter(Name="/a")["Parameter"]["Value"] == "1"
    assert [(call.operation, call.status, call.faulted) for call in aws_fake.calls] == [("PutParameter", 500, True)]


def test_after_a_kill_nothing_of_the_run_reaches_moto(aws_fake: AwsFake, backdoors: dict[str, Any]) -> None:
    """`kill` answers the chosen call normally, then refuses every later call until `heal`; the backdoor still
    works, and after `heal` calls pass again."""
    client = aws_fake.client("secretsmanager", REGION, record=True)
    aws_fake.fail_at(1, "kill", service="secretsmanager", writes_only=True)
    client.create_secret(Name="a", SecretString="1")
    for call in (client.list_secrets, lambda: client.create_secret(Name="b", SecretString="2")):
        with pytest.raises(ClientError, match="SimulatedCrash"):
            call()
    backdoors["secretsmanager"].create_secret(Name="planted", SecretString="3")
    aws_fake.heal()
    client.create_secret(Name="c", SecretString="4")
    assert sorted(SecretsStore(aws_fake, backdoors["secretsmanager"]).state()) == ["a", "c", "planted"]
