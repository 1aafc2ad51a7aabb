"""Test sessions of the paperzoo workspace.

Every session installs from ``uv.lock`` (``uv sync --locked`` into the
session's virtual environment), so tests run against exactly the locked
versions. ``uv run nox`` runs the default sessions: lint, the unit tests of
each package in an environment holding only that package and its
dependencies, the cross-package integration tests, and the wheel smoke test.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import nox
import tomllib

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests", "integration", "wheels"]
nox.options.error_on_external_run = True

ROOT = Path(__file__).parent
# pytest exits with 5 when it collects no tests (a package without tests yet).
PYTEST_OK = [0, 5]


def _packages() -> dict[str, tuple[str, Path]]:
    """Return ``{short name: (distribution, folder)}`` for the core and every method package."""
    found = {"core": ("paperzoo-core", ROOT / "shared")}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        found[pyproject.parent.name] = (name, pyproject.parent)
    return found


PACKAGES = _packages()


def _sync(session: nox.Session, *args: str) -> None:
    """Install locked dependencies into the session's environment."""
    session.run_install(
        "uv", "sync", "--locked", "--no-default-groups", *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check over the whole tree."""
    _sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """Unit tests of one package, in an environment with only that package installed."""
    distribution, folder = PACKAGES[package]
    extras = ["--all-extras"] if package == "core" else []
    _sync(session, "--package", distribution, *extras, "--group", "test")
    session.run(
        "pytest", str(folder / "tests"), "--timeout=900", *session.posargs,
        success_codes=PYTEST_OK,
    )  # fmt: skip


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: CLIs on real data, multi-process training."""
    _sync(session, "--all-packages", "--all-extras", "--group", "test")
    session.run("pytest", "integration_tests", "--timeout=1800", *session.posargs, success_codes=PYTEST_OK)


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every wheel, install them without the workspace, and smoke-test the CLI.

    paperzoo-* requirements come only from the wheels built here; third-party
    packages come from the index, constrained to the locked versions.
    """
    dist = Path(session.create_tmp()) / "dist"
    for distribution, _ in PACKAGES.values():
        session.run(
            "uv", "build", "--package", distribution, "--no-sources", "--wheel", "--out-dir", str(dist), external=True
        )
    constraints = Path(session.create_tmp()) / "constraints.txt"
    session.run(
        "uv", "export", "--frozen", "--all-packages", "--all-extras", "--no-hashes", "--no-emit-workspace",
        "--no-dev", "--output-file", str(constraints), external=True, silent=True,
    )  # fmt: skip
    wheels_built = sorted(glob.glob(str(dist / "*.whl")))
    session.install("--constraint", str(constraints), *wheels_built)
    output = session.run("paperzoo", "--help", silent=True)
    for name in PACKAGES:
        if name != "core" and name not in output:
            session.error(f"'paperzoo --help' does not list the installed method {name!r}")
    session.run("python", "-c", "import paperzoo.core.training, paperzoo.core.data, paperzoo.core.features")
    session.run("paperzoo", "datasets", env={"PAPERZOO_CACHE": str(Path(session.create_tmp()) / "cache")})
    for name in PACKAGES:
        if name != "core":
            session.run("paperzoo", name, "--help", silent=True)
    session.log(f"installed and ran {len(wheels_built)} wheels: {', '.join(os.path.basename(w) for w in wheels_built)}")
