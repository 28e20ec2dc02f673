"""Which Ferry is running, said the same way in the three places a person looks before
and after an upgrade: `flask --app app version`, the page footer and /healthz; and the
CHANGELOG has a section for it."""
import re
from pathlib import Path

from version import version

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_release_in_pyproject_and_the_changelog():
    import tomllib
    release = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version() == release and re.fullmatch(r"\d+\.\d+\.\d+", release)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\d+\.\d+\.\d+)", changelog, re.M)
    assert first and first.group(1) == release, "CHANGELOG.md starts with this release"
    section = changelog[first.start():].split("\n## ", 1)[0]
    assert "Upgrade notes" in section


def test_version_command_names_the_release_and_the_schema(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["version"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Ferry {version()}"
    assert "Database schema: up to date" in result.output

    from app import create_app
    behind = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}"})
    result = behind.test_cli_runner().invoke(args=["version"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"Ferry {version()}"
    assert "migration(s) behind this version" in result.output
    assert "run flask --app app db upgrade" in result.output


def test_footer_shows_the_version_to_people_signed_in_only(client, auth):
    assert f"Ferry {version()}</footer>" not in client.get("/login").get_data(as_text=True)
    auth.login()
    assert f"Ferry {version()}</footer>" in client.get("/settings/").get_data(as_text=True)


def test_healthz_says_the_version(client):
    assert client.get("/healthz").get_json()["version"] == version()
