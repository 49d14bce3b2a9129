"""values.schema.json: Helm refuses bad values before it renders anything."""

from __future__ import annotations

import pytest

import chart
import helm_python


def test_the_default_values_satisfy_the_schema():
    with chart.load() as loaded:
        loaded.validate_schema({})


@pytest.mark.parametrize("mode", list(chart.MODES))
def test_every_mode_of_the_acceptance_criteria_satisfies_the_schema(mode):
    with chart.load() as loaded:
        loaded.validate_schema(chart.MODES[mode])


def test_zero_shards_are_refused_and_nothing_is_rendered():
    bad = {"sharding": {"enabled": True, "shards": 0}}
    with chart.load() as loaded:
        with pytest.raises(helm_python.HelmValuesError) as refused:
            loaded.validate_schema(bad)
        assert "/sharding/shards" in str(refused.value)

        with pytest.raises(helm_python.HelmValuesError):
            loaded.render(bad, name=chart.RELEASE, namespace=chart.NAMESPACE)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "/securityContext/readOnlyRootFilesystem"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "/securityContext/allowPrivilegeEscalation"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}}, "/securityContext/capabilities/add"),
    ],
)
def test_values_that_would_weaken_the_restricted_pod_are_refused(values, where):
    with chart.load() as loaded:
        with pytest.raises(helm_python.HelmValuesError) as refused:
            loaded.validate_schema(values)

    assert where in str(refused.value)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"shedule": "0 3 * * *"}, "shedule"),
        ({"schedule": "nightly"}, "/schedule"),
        ({"erasure": {"enabled": True}}, "/erasure/ticket"),
        ({"erasure": {"identifyBy": "name"}}, "/erasure/identifyBy"),
        ({"rules": {"location.json": "category: location"}}, "location.json"),
        ({"backoffLimit": -1}, "/backoffLimit"),
    ],
)
def test_misspelt_or_impossible_values_are_refused_with_the_key_named(values, where):
    with chart.load() as loaded:
        with pytest.raises(helm_python.HelmValuesError) as refused:
            loaded.validate_schema(values)

    assert where in str(refused.value)
