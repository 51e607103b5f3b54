"""The sink contract, run against the `gitlab` sink on the fake GitLab server over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from connectors.gitlab import GitLabDestination, GitLabSink
from connectors.gitlab.address import parse_address
from syncd.testing.contract import SPECIAL_VALUES, PlantUnowned, SinkContract
from tests.connectors.gitlab.gitlab_support import PROJECT, make_sink
from tests.fakes.gitlab import GitLabFake


class TestGitLabSinkContract(SinkContract):
    addresses = (f"project/{PROJECT}/ALPHA", f"project/{PROJECT}/BETA", f"project/{PROJECT}/GAMMA")
    # The contract's values hold newlines and spaces: unmasked, as a `to` entry with masked: false writes them.
    destination = GitLabDestination(project=PROJECT, masked=False)
    special_values = SPECIAL_VALUES

    @pytest.fixture
    def sink(self, gitlab_fake: GitLabFake) -> Iterator[GitLabSink]:
        yield make_sink(gitlab_fake)

    @pytest.fixture
    def plant_unowned(self, gitlab_fake: GitLabFake) -> PlantUnowned:
        def plant(address: str, data: Mapping[str, str]) -> None:
            where = parse_address(address)
            assert where is not None
            (value,) = data.values()
            gitlab_fake.put_variable(
                where.owner.kind, where.owner.path, key=where.key, value=value, environment_scope=where.scope
            )

        return plant
