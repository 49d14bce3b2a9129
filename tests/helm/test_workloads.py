"""What each workload of the chart runs, and when: the scheduled run, its shards, the
migration hook, the on-demand erasure, and the operator's next steps in NOTES.txt."""

from __future__ import annotations

import pytest

import chart
import helm_python

FULLNAME = f"{chart.RELEASE}-retention"


def cronjob(rendered: chart.Rendered) -> dict:
    return rendered.named("CronJob", FULLNAME)


def run_container(rendered: chart.Rendered) -> dict:
    return chart.main_container(cronjob(rendered)["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def test_the_cronjob_carries_the_schedule_and_never_overlaps_itself():
    rendered = chart.render(
        {
            "schedule": "30 2 * * *",
            "timeZone": "Europe/Berlin",
            "startingDeadlineSeconds": 900,
            "backoffLimit": 4,
            "activeDeadlineSeconds": 7200,
            "successfulJobsHistoryLimit": 2,
            "failedJobsHistoryLimit": 6,
        }
    )
    spec = cronjob(rendered)["spec"]
    job = spec["jobTemplate"]["spec"]

    assert spec["schedule"] == "30 2 * * *"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 900
    assert spec["successfulJobsHistoryLimit"] == 2
    assert spec["failedJobsHistoryLimit"] == 6
    assert job["backoffLimit"] == 4
    assert job["activeDeadlineSeconds"] == 7200
    assert run_container(rendered)["args"][4:] == ["run"]


def test_invalid_configuration_and_guard_refusals_are_not_retried_but_evictions_are():
    job = cronjob(chart.render())["spec"]["jobTemplate"]["spec"]
    rules = job["podFailurePolicy"]["rules"]

    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert {
        "action": "FailJob",
        "onExitCodes": {"containerName": "retention", "operator": "In", "values": [2, 3]},
    } in rules
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]} in rules


def test_the_default_run_is_one_pod_without_a_shard():
    rendered = chart.render()
    job = cronjob(rendered)["spec"]["jobTemplate"]["spec"]

    assert "completionMode" not in job
    assert "completions" not in job and "parallelism" not in job
    assert "--shard" not in run_container(rendered)["args"]


@pytest.mark.parametrize("shards", [1, 3, 7])
def test_sharded_mode_runs_an_indexed_job_whose_pods_each_take_their_own_shard(shards):
    rendered = chart.render({"sharding": {"enabled": True, "shards": shards}})
    job = cronjob(rendered)["spec"]["jobTemplate"]["spec"]
    container = run_container(rendered)

    assert job["completionMode"] == "Indexed"
    assert job["completions"] == shards
    assert job["parallelism"] == shards
    assert container["args"][4:] == ["run", "--shard", f"$(JOB_COMPLETION_INDEX)/{shards}"]
    # $(JOB_COMPLETION_INDEX) in args expands only from a variable the container
    # declares: the downward API annotation the Job controller sets on each pod.
    assert chart.env_named(container, "JOB_COMPLETION_INDEX")["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
    }
    assert chart.env_named(container, "RETENTION_SHARDS")["value"] == str(shards)
    # Sharding replaces the single run; it never adds a second schedule beside it.
    assert len(rendered.of_kind("CronJob")) == 1


def test_run_options_reach_the_scheduled_run():
    rendered = chart.render(
        {
            "sharding": {"enabled": True, "shards": 2},
            "run": {"allowMassDelete": True, "extraArgs": ["--rule", "location"]},
        }
    )

    assert run_container(rendered)["args"][4:] == [
        "run",
        "--allow-mass-delete",
        "--rule",
        "location",
        "--shard",
        "$(JOB_COMPLETION_INDEX)/2",
    ]


def test_migrate_runs_before_every_install_and_upgrade_with_its_own_copy_of_the_config():
    rendered = chart.render({"rules": {"location.yaml": "category: location\n"}})
    job = rendered.named("Job", f"{FULLNAME}-migrate")
    annotations = job["metadata"]["annotations"]
    spec = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v}

    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert chart.main_container(spec)["args"][4:] == ["migrate"]
    # Pre-install hooks run before the release's own objects exist: the ConfigMaps
    # the hook mounts must be hooks themselves, created first (a lower weight).
    for name in volumes.values():
        config_map = rendered.named("ConfigMap", name)
        hook = config_map["metadata"]["annotations"]
        assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert rendered.named("ConfigMap", volumes["rules"])["data"] == {"location.yaml": "category: location\n"}
    # Nor does the chart's own ServiceAccount exist yet.
    assert spec["serviceAccountName"] == "default"


def test_migrate_mounts_existing_configmaps_directly_when_the_operator_brings_them():
    rendered = chart.render({"configExistingConfigMap": "ops-config", "rulesExistingConfigMap": "ops-rules"})
    spec = rendered.named("Job", f"{FULLNAME}-migrate")["spec"]["template"]["spec"]

    assert {v["name"]: v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v} == {
        "config": "ops-config",
        "rules": "ops-rules",
    }
    assert rendered.of_kind("ConfigMap") == []


def test_migrate_can_be_switched_off():
    rendered = chart.render({"migrate": {"enabled": False}})

    assert [j["metadata"]["name"] for j in rendered.of_kind("Job")] == []


def test_rules_and_config_from_values_are_mounted_where_the_config_expects_them():
    rules = {"location.yaml": "category: location\nretain: 90d\n", "orders.yaml": "category: orders\n"}
    rendered = chart.render({"rules": rules})
    spec = cronjob(rendered)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    mounts = {m["name"]: m for m in chart.main_container(spec)["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}

    assert rendered.named("ConfigMap", volumes["rules"]["configMap"]["name"])["data"] == rules
    assert mounts["rules"]["mountPath"] == "/etc/retention/rules"
    assert mounts["config"]["mountPath"] == "/etc/retention/retention.yaml"
    config = rendered.named("ConfigMap", volumes["config"]["configMap"]["name"])["data"]["retention.yaml"]
    # retention.yaml resolves relative paths against its own directory (SPEC §2).
    assert "rules: ./rules" in config


def test_existing_configmaps_replace_the_charts_own():
    rendered = chart.render(
        {"configExistingConfigMap": "ops-config", "rulesExistingConfigMap": "ops-rules", "migrate": {"enabled": False}}
    )
    spec = cronjob(rendered)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}

    assert rendered.of_kind("ConfigMap") == []
    assert volumes["config"]["configMap"]["name"] == "ops-config"
    assert volumes["rules"]["configMap"]["name"] == "ops-rules"


def test_erasure_is_off_unless_asked_for():
    rendered = chart.render()

    assert all(not j["metadata"]["name"].endswith("-erase") for j in rendered.of_kind("Job"))


def test_an_erasure_reads_the_subject_from_a_secret_and_never_puts_it_in_its_arguments():
    rendered = chart.render(chart.MODES["erasure"])
    job = rendered.named("Job", f"{FULLNAME}-erase")
    container = chart.main_container(job["spec"]["template"]["spec"])

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert container["args"][4:] == ["erase", "--subject", "$(RETENTION_ERASE_IDENTIFIER)", "--ticket", "DSAR-17"]
    assert chart.env_named(container, "RETENTION_ERASE_IDENTIFIER")["valueFrom"] == {
        "secretKeyRef": {"name": "dsar-17", "key": "subject"}
    }
    assert job["spec"]["backoffLimit"] == 0


def test_an_erasure_by_email_passes_the_identifier_as_email_and_can_be_a_dry_run():
    rendered = chart.render(
        {
            "erasure": {
                "enabled": True,
                "ticket": "DSAR-18",
                "identifyBy": "email",
                "secretKeyRef": {"name": "dsar-18", "key": "email"},
                "dryRun": True,
            }
        }
    )
    container = chart.main_container(rendered.named("Job", f"{FULLNAME}-erase")["spec"]["template"]["spec"])

    assert container["args"][4:] == [
        "erase",
        "--email",
        "$(RETENTION_ERASE_IDENTIFIER)",
        "--ticket",
        "DSAR-18",
        "--dry-run",
    ]


def test_an_inline_subject_reaches_the_container_only_through_its_environment():
    rendered = chart.render({"erasure": {"enabled": True, "ticket": "DSAR-19", "subject": "acct-4711"}})
    container = chart.main_container(rendered.named("Job", f"{FULLNAME}-erase")["spec"]["template"]["spec"])

    assert "acct-4711" not in " ".join(container["args"])
    assert chart.env_named(container, "RETENTION_ERASE_IDENTIFIER")["value"] == "acct-4711"


@pytest.mark.parametrize(
    ("erasure", "message"),
    [
        ({"ticket": "DSAR-1"}, "needs who to erase"),
        (
            {"ticket": "DSAR-1", "subject": "a", "secretKeyRef": {"name": "s", "key": "k"}},
            "either inline",
        ),
        ({"ticket": "DSAR-1", "secretKeyRef": {"name": "s", "key": ""}}, "needs key"),
    ],
)
def test_an_erasure_that_does_not_say_whom_to_erase_is_refused(erasure, message):
    with pytest.raises(helm_python.HelmError) as refused:
        chart.render({"erasure": {"enabled": True, **erasure}})

    assert message in str(refused.value)


def test_helm_test_checks_plans_and_verifies_the_audit_log_without_changing_anything():
    pods = chart.render().of_kind("Pod")
    commands = {}
    for pod in pods:
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        commands[pod["metadata"]["name"]] = chart.main_container(pod["spec"])["args"][4:]

    assert commands == {
        f"{FULLNAME}-test-check": ["check", "--connect"],
        f"{FULLNAME}-test-plan": ["plan", "--format", "text"],
        f"{FULLNAME}-test-audit-verify": ["audit", "verify"],
    }


def test_long_release_names_keep_the_cronjob_name_within_52_characters():
    release = "a-very-long-release-name-for-the-privacy-team-nightly"
    rendered = chart.render(release=release)

    assert len(rendered.of_kind("CronJob")[0]["metadata"]["name"]) <= 52


def test_the_notes_tell_the_operator_how_to_check_plan_run_erase_and_verify():
    notes = chart.render().notes

    assert f"helm test {chart.RELEASE} -n {chart.NAMESPACE} --logs" in notes
    assert f"create job --from=cronjob/{FULLNAME}" in notes
    assert "--set erasure.enabled=true --set erasure.ticket=" in notes
    assert "audit verify" in notes
    assert f"get secret {FULLNAME}" in notes
    assert "no rule files are configured" in notes


def test_the_notes_name_the_shards_and_an_enabled_erasure():
    sharded = chart.render(chart.MODES["sharded"]).notes
    erasure = chart.render(chart.MODES["erasure"]).notes

    assert "Indexed Job of 7 pods" in sharded
    assert "erasure ENABLED for ticket DSAR-17" in erasure
    assert "no rule files are configured" not in chart.render({"rulesExistingConfigMap": "ops-rules"}).notes
