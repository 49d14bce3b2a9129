"""The chart as a cluster receives it: lint, schema-valid Kubernetes 1.31 objects, and
the restricted pod every mode must run in."""

from __future__ import annotations

import pytest

import chart
import helm_python

MODES = list(chart.MODES)


@pytest.mark.parametrize("mode", MODES)
def test_helm_lint_reports_no_warning_or_error(mode):
    report = helm_python.lint(
        str(chart.CHART_DIR),
        chart.MODES[mode],
        namespace=chart.NAMESPACE,
        strict=True,
        kube_version=f"v{chart.KUBERNETES_VERSION}",
    )

    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [] and report["errors"] == [], report


@pytest.mark.parametrize("mode", MODES)
def test_every_rendered_manifest_is_a_valid_kubernetes_1_31_object(mode, tmp_path):
    rendered = chart.render(chart.MODES[mode])
    files = []
    for path, text in rendered.manifests.items():
        file = tmp_path / path.replace("/", "_")
        file.write_text(text)
        files.append(file)

    result = chart.kubernetes_validate(files)

    assert result.returncode == 0, result.stdout + result.stderr
    # One "passed" line per object: every object was checked, none skipped.
    assert result.stdout.count(" passed for resource ") == len(rendered.objects), result.stdout


def test_kubernetes_validate_rejects_a_misspelt_field(tmp_path):
    # Proves the validation above is strict enough to catch a typo in a template.
    job = tmp_path / "job.yaml"
    job.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n"
        "  completionMod: Indexed\n"
        "  template: {spec: {restartPolicy: Never, containers: [{name: a, image: b}]}}\n"
    )

    result = chart.kubernetes_validate([job])

    assert result.returncode != 0
    assert "completionMod" in result.stdout + result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_every_pod_runs_under_the_restricted_profile(mode):
    specs = chart.render(chart.MODES[mode]).pod_specs()
    assert specs, "the chart rendered no pod"

    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0 and pod["runAsGroup"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert sc.get("privileged", False) is False, name
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), (name, bound)


@pytest.mark.parametrize("mode", MODES)
def test_every_pod_writes_only_to_an_empty_dir_tmp(mode):
    for name, spec in chart.render(chart.MODES[mode]).pod_specs():
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = chart.main_container(spec)["volumeMounts"]
        writable = [m for m in mounts if not m.get("readOnly")]

        assert [m["mountPath"] for m in writable] == ["/tmp"], name
        assert "emptyDir" in volumes[writable[0]["name"]], name


@pytest.mark.parametrize("mode", MODES)
def test_every_container_logs_json(mode):
    for name, spec in chart.render(chart.MODES[mode]).pod_specs():
        args = chart.main_container(spec)["args"]
        assert args[:4] == ["--config", "/etc/retention/retention.yaml", "--log-format", "json"], name


@pytest.mark.parametrize("mode", MODES)
def test_the_chart_creates_no_secret_and_renders_no_secret_value(mode):
    values = {
        **chart.MODES[mode],
        "secrets": {
            "existingSecret": "retention-env",
            "env": [{"name": "S3_SECRET_ACCESS_KEY", "secretName": "s3-credentials", "key": "secret-key"}],
        },
    }
    rendered = chart.render(values)

    assert rendered.of_kind("Secret") == []
    # retention.yaml names its secrets as ${VARS}; the chart passes them through
    # unexpanded for the binary to read from the environment.
    config = rendered.named("ConfigMap", f"{chart.RELEASE}-retention-config")["data"]["retention.yaml"]
    assert "${APP_DATABASE_URL}" in config and "${RETENTION_PSEUDONYM_KEY}" in config
    for name, spec in rendered.pod_specs():
        container = chart.main_container(spec)
        assert container["envFrom"] == [{"secretRef": {"name": "retention-env"}}], name
        s3 = chart.env_named(container, "S3_SECRET_ACCESS_KEY")
        assert s3 == {
            "name": "S3_SECRET_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "secret-key"}},
        }, name
        for env in container["env"]:
            # Only the two plain settings of the chart itself carry inline values.
            if "value" in env:
                assert env["name"] in {"TMPDIR", "RETENTION_SHARDS"}, (name, env)


def test_without_an_existing_secret_the_pods_read_the_secret_named_after_the_release():
    for name, spec in chart.render().pod_specs():
        assert chart.main_container(spec)["envFrom"] == [
            {"secretRef": {"name": f"{chart.RELEASE}-retention"}}
        ], name


@pytest.mark.parametrize("mode", MODES)
def test_every_object_carries_the_helm_convention_labels(mode):
    for obj in chart.render(chart.MODES[mode]).objects:
        labels = obj["metadata"]["labels"]
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert labels["app.kubernetes.io/name"] == "retention", where
        assert labels["app.kubernetes.io/instance"] == chart.RELEASE, where
        assert labels["app.kubernetes.io/managed-by"] == "Helm", where
        assert labels["helm.sh/chart"] == "retention-0.1.0", where
        assert labels["app.kubernetes.io/version"] == "0.1.0", where


def test_the_image_runs_as_the_user_the_chart_expects():
    dockerfile = (chart.REPO / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    values = chart.load().values

    assert final_stage.startswith("gcr.io/distroless/")
    assert "USER 65532:65532" in final_stage
    assert 'ENTRYPOINT ["/usr/local/bin/retention"]' in final_stage
    assert values["podSecurityContext"]["runAsUser"] == 65532
    assert values["securityContext"]["runAsUser"] == 65532
