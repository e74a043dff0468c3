from __future__ import annotations

from pathlib import Path

import pytest

from labellake.errors import LabellakeError
from labellake.settings import load_settings


def test_defaults_live_under_the_home(isolated_env: Path) -> None:
    settings = load_settings()
    assert settings.home == Path("~/.labellake").expanduser()
    assert settings.lake_uri == str(settings.home / "lake")
    assert settings.objects_uri == str(settings.home / "objects")
    assert settings.state_db == settings.home / "state.db"


def test_flags_beat_env_beat_toml_beat_defaults(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (isolated_env / "labellake.toml").write_text(
        f'home = "{tmp_path / "toml"}"\naws_region = "eu-west-1"\n'
        f'objects_uri = "s3://raw-bucket/objects"\n'
    )
    settings = load_settings()
    assert settings.home == tmp_path / "toml"
    assert settings.aws_region == "eu-west-1"
    assert settings.lake_uri == str(tmp_path / "toml/lake")

    monkeypatch.setenv("LABELLAKE_HOME", str(tmp_path / "env"))
    monkeypatch.setenv("LABELLAKE_AWS_REGION", "us-west-2")
    settings = load_settings()
    assert settings.home == tmp_path / "env"
    assert settings.aws_region == "us-west-2"
    assert settings.objects_uri == "s3://raw-bucket/objects"  # still from the file

    settings = load_settings(home=tmp_path / "flag", objects_uri=None)
    assert settings.home == tmp_path / "flag"
    assert settings.state_db == tmp_path / "flag/state.db"
    assert settings.objects_uri == "s3://raw-bucket/objects"


def test_empty_env_var_means_unset(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELLAKE_HOME", "")
    assert load_settings().home == Path("~/.labellake").expanduser()


def test_unknown_key_in_toml_is_named(isolated_env: Path) -> None:
    (isolated_env / "labellake.toml").write_text('hoem = "/tmp/x"\n')
    with pytest.raises(LabellakeError, match="unknown setting 'hoem' in labellake.toml"):
        load_settings()


def test_malformed_toml_names_the_file(isolated_env: Path) -> None:
    (isolated_env / "labellake.toml").write_text("home = [\n")
    with pytest.raises(LabellakeError, match="labellake.toml: not valid TOML"):
        load_settings()


def test_bad_value_names_the_field(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_env / "labellake.toml").write_text("aws_region = 3\n")
    with pytest.raises(LabellakeError, match="setting 'aws_region'.*LABELLAKE_AWS_REGION"):
        load_settings()


def test_the_aws_profile_names_everything_from_one_prefix(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_env / "labellake.toml").write_text('profile = "aws"\n')
    monkeypatch.setenv("LABELLAKE_AWS_REGION", "eu-west-1")
    monkeypatch.setenv("LABELLAKE_AWS_ACCOUNT_ID", "123456789012")
    settings = load_settings()
    assert settings.profile == "aws" and settings.query_engine == "athena"
    assert load_settings(query_engine="duckdb").query_engine == "duckdb"
    assert settings.aws_bucket == "labellake-123456789012-eu-west-1"
    assert settings.lake_uri == "s3://labellake-123456789012-eu-west-1/lake"
    assert settings.objects_uri == "s3://labellake-123456789012-eu-west-1/objects"
    assert settings.aws_topic_arn == "arn:aws:sns:eu-west-1:123456789012:labellake-notifications"
    assert settings.aws_role_arn == "arn:aws:iam::123456789012:role/labellake-groundtruth"
    names = settings.aws_names()
    assert names["glue_database"] == "labellake" and names["state_table"] == "labellake-state"

    monkeypatch.setenv("LABELLAKE_AWS_PREFIX", "team-b")
    monkeypatch.setenv("LABELLAKE_AWS_BUCKET", "shared-lake")
    settings = load_settings()
    assert settings.lake_uri == "s3://shared-lake/lake"  # an override wins
    assert settings.aws_names()["events_queue"] == "team-b-labeling-events"
    assert settings.aws_names()["glue_database"] == "team_b"
    local = load_settings(profile="local")
    assert local.lake_uri == str(settings.home / "lake") and local.query_engine == "duckdb"


def test_a_bad_prefix_is_named(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELLAKE_AWS_PREFIX", "Team_B")
    with pytest.raises(LabellakeError, match="setting 'aws_prefix'"):
        load_settings()


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("engine", "query_engine", "athena"),
        ("workflow_engine", "orchestrator", "stepfunctions"),
        ("backend", "labeling_backend", "local"),
        ("store", "state_store", "dynamodb"),
    ],
)
def test_renamed_settings_keep_their_old_names(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, value: str
) -> None:
    # As a keyword (a CLI flag), in labellake.toml and as a LABELLAKE_* variable.
    assert getattr(load_settings(**{old: value}), new) == value
    (isolated_env / "labellake.toml").write_text(f'{old} = "{value}"\n')
    assert getattr(load_settings(), new) == value
    (isolated_env / "labellake.toml").unlink()
    monkeypatch.setenv(f"LABELLAKE_{old.upper()}", value)
    assert getattr(load_settings(), new) == value
    # The new name wins over the old one, in the same place or a lower one.
    default = getattr(load_settings(profile="local", **{old: None}), new)
    monkeypatch.setenv(f"LABELLAKE_{new.upper()}", default)
    assert getattr(load_settings(), new) == default
    assert getattr(load_settings(**{old: value, new: default}), new) == default


def test_the_old_query_engine_flag_still_works(isolated_env: Path) -> None:
    from click.testing import CliRunner

    from labellake.portal.cli.main import cli

    for flag in ("--engine", "--query-engine"):
        result = CliRunner().invoke(cli, [flag, "athena", "doctor"])
        assert "query_engine" in result.output and "athena" in result.output, result.output
