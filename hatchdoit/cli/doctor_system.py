"""doctor's checks of the machine and the project: python, tmux, git, doit, the config, the
planning repo's view, hatchdoit's hook scripts."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.cli.doctor_check import Check, failed_check, run_tool, version_tuple
from hatchdoit.config.loader import CONFIG_FILE, load_config
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core import bundled
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.planning.formats.registry import view_paths
from hatchdoit.planning.health import plan_commit
from hatchdoit.planning.mount import ensure_view, protection
from hatchdoit.planning.plan import load_plan

HOOK_SCRIPTS = ("stop_hook.sh", "marker_hook.sh", "launch_agent.sh")


def check_tools() -> list[Check]:
    checks = []
    py = sys.version.split()[0]
    ok_py = sys.version_info >= (3, 11)
    checks.append(Check("python", "ok" if ok_py else "fail", py, "" if ok_py else "use 3.11+"))
    for tool, argv, minimum, fix in (
        ("tmux", ["tmux", "-V"], (3, 0), "apt-get install tmux (3.0 or newer)"),
        ("git", ["git", "--version"], (2, 20), "apt-get install git (2.20 or newer)"),
    ):
        code, out = run_tool(argv)
        if code != 0:
            checks.append(Check(tool, "fail", "not installed", fix))
        elif version_tuple(out) < minimum:
            checks.append(Check(tool, "fail", out, fix))
        else:
            checks.append(Check(tool, "ok", out))
    code, out = run_tool(
        [sys.executable, "-c", "import importlib.metadata as m; print(m.version('doit'))"]
    )
    checks.append(
        Check("doit", "ok", f"doit {out}")
        if code == 0
        else Check("doit", "fail", "not importable", "pip install 'doit>=0.37,<0.38'")
    )
    return checks


def check_project(
    root: Path, environ: Mapping[str, str]
) -> tuple[list[Check], set[str], HatchdoitConfig | None]:
    """Config and planning-repo view; also the profile names the project uses."""
    checks: list[Check] = []
    if not (root / CONFIG_FILE).exists() and not (root / "dodo.py").exists():
        checks.append(
            Check(
                "project",
                "warn",
                f"{root} is not a hatchdoit project",
                "hatchdoit init --specs PATH",
            )
        )
    try:
        config = load_config(root, environ)
    except HatchdoitError as exc:
        checks.append(failed_check("config", "fail", exc))
        return checks, set(), None
    source = root / CONFIG_FILE if (root / CONFIG_FILE).is_file() else f"no {CONFIG_FILE}: defaults"
    agents = f"factory {config.agents.factory}, qa {config.agents.qa}"
    checks.append(Check("config", "ok", f"{source} ({agents}, integrate: {config.integrate})"))
    if config.integrate == "pr":
        checks.append(check_gh(root))
    used = {config.agents.factory, config.agents.qa}
    specs = (root / config.specs).absolute()
    try:
        scripts = (root / config.scripts_dir).resolve() if config.scripts_dir else bundled.SCRIPTS
        script = scripts / "mount" / "ensure_readonly_mount.sh"
        view = ensure_view(script, specs, expect=view_paths(config.planning.format, specs))
        detail = f"{specs} -> {view.get('resolved')} ({view.get('mode')})"
        if view.get("writable"):
            checks.append(
                Check("planning repo", "ok", detail + ", writable (hatchdoit only reads)")
            )
        else:
            checks.append(Check("planning repo", "ok", detail + ", read-only"))
    except HatchdoitError as exc:
        checks.append(failed_check("planning repo", "fail", exc))
        return checks, used, config
    checks += check_plan_protection(config, scripts, specs)
    plan = load_plan(specs, planning=config.planning)
    for loaded in plan.taskspecs.values():
        agent = getattr(loaded.spec, "agent", None)
        used.update(
            name for name in (getattr(agent, "factory", None), getattr(agent, "qa", None)) if name
        )
    if plan.errors:
        checks.append(
            Check(
                "planning repo", "warn", f"{len(plan.errors)} spec problem(s)", "hatchdoit validate"
            )
        )
    return checks, used, config


def check_scripts(scripts: Path) -> list[Check]:
    checks = []
    for name in HOOK_SCRIPTS:
        path = scripts / "agent" / name
        if not os.access(path, os.X_OK):
            checks.append(
                Check(
                    f"script {name}",
                    "fail",
                    f"{path} missing or not executable",
                    f"chmod +x {path}",
                )
            )
    code, out = run_tool(
        [sys.executable, "-c", "import hatchdoit.agents.stop_hook, hatchdoit.headless"]
    )
    if code != 0:
        checks.append(
            Check(
                "stop hook",
                "fail",
                out.splitlines()[-1] if out else "import failed",
                f"pip install hatchdoit into {sys.executable}",
            )
        )
    else:
        checks.append(Check("stop hook", "ok", f"{sys.executable} -m hatchdoit.agents.stop_hook"))
    return checks


def check_gh(root: Path) -> Check:
    """`integrate: pr` opens pull requests with gh: it must run and be logged in."""
    from hatchdoit.delivery.pull_request import gh_available

    ok, said = gh_available(root)
    if ok:
        return Check("gh", "ok", said)
    return Check(
        "gh",
        "fail",
        f"integrate: pr needs the GitHub CLI, logged in: {said}",
        "install gh (https://cli.github.com), then `gh auth login` or export GH_TOKEN",
    )


def check_install(root: Path, dirs: tuple[Path, ...], scripts: Path) -> list[Check]:
    """Where the scripts, profiles and templates come from, and whether what `init` wrote was
    written by the installed version."""
    from hatchdoit import __version__
    from hatchdoit.cli.scaffold import STAMPED, stamped_version

    own = [str(d) for d in dirs if d != bundled.AGENTS]
    where = f"hatchdoit {__version__} at {bundled.RESOURCES.parent}"
    checks = [
        Check(
            "install",
            "ok",
            f"{where}; scripts {'bundled' if scripts == bundled.SCRIPTS else scripts}; agents "
            + (f"{own[0]} over the bundled" if own else "bundled"),
        )
    ]
    for name in STAMPED:
        version = stamped_version(root / name)
        if version is not None and version != __version__:
            checks.append(
                Check(
                    f"init {name}",
                    "warn",
                    f"written by hatchdoit init {version}; hatchdoit {__version__} is installed",
                    "hatchdoit init --force --specs PATH shows what changed and rewrites it",
                )
            )
    return checks


def check_plan_protection(config: HatchdoitConfig, scripts: Path, specs: Path) -> list[Check]:
    """How agents are kept from writing the plan here, and which plan the build would record."""
    checks = []
    try:
        kind, why = protection(config.plan_protection, scripts / "mount" / "readonly_view.sh")
        checks.append(Check("plan protection", "ok", f"{kind}: {why}"))
    except HatchdoitError as exc:
        checks.append(failed_check("plan protection", "fail", exc))
    found = plan_commit(specs.resolve())
    if found.commit is None:
        checks.append(
            Check("planning commit", "warn", found.describe(), f"git init and commit {specs}")
        )
    else:
        checks.append(Check("planning commit", "ok", found.describe()))
    return checks
