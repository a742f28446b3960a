"""A stand-in for the `gh` CLI, for tests of `integrate: pr`: the subset hatchdoit uses, with
gh's argv and JSON contract, keeping its pull requests in a JSON file instead of GitHub.

    FAKE_GH_STATE=state.json FAKE_GH_CALLS=calls.jsonl fake_gh.py pr create --head ... --base ...

Every call is appended to FAKE_GH_CALLS (argv, cwd, whether GH_TOKEN was in the environment).
Like gh, it refuses what gh would refuse: a `pr create` whose head branch has an open PR
already, a missing --title or --body-file, a head branch the remote does not have, a call
outside a git repo with a remote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

OWNER_REPO = "example/target"


def load(state: Path) -> list[dict[str, Any]]:
    return json.loads(state.read_text()) if state.exists() else []


def save(state: Path, prs: list[dict[str, Any]]) -> None:
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(prs, indent=2))
    os.replace(tmp, state)


def option(args: list[str], name: str, many: bool = False) -> Any:
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
    return values if many else (values[-1] if values else None)


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def fields(pr: dict[str, Any], wanted: str) -> dict[str, Any]:
    names = {"number": "number", "url": "url", "baseRefName": "base", "state": "state",
             "headRefName": "head", "title": "title", "isDraft": "draft"}  # fmt: skip
    return {key: pr[names[key]] for key in wanted.split(",")}


def remote_has(branch: str) -> bool:
    done = subprocess.run(
        ["git", "ls-remote", "--exit-code", "origin", f"refs/heads/{branch}"],
        capture_output=True,
    )
    return done.returncode == 0


def main(args: list[str]) -> int:
    state = Path(os.environ["FAKE_GH_STATE"])
    with open(os.environ["FAKE_GH_CALLS"], "a", encoding="utf-8") as calls:
        entry = {"argv": args, "cwd": os.getcwd(), "token_in_env": "GH_TOKEN" in os.environ}
        calls.write(json.dumps(entry) + "\n")
    if args[:2] == ["auth", "status"]:
        print("github.com\n  Logged in to github.com account tester (GH_TOKEN)")
        return 0
    inside = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True)
    if inside.returncode != 0:
        return fail("none of the git remotes configured for this repository point to a known host")
    prs = load(state)
    if args[:2] == ["pr", "list"]:
        head, wanted = option(args, "--head"), option(args, "--json")
        st = (option(args, "--state") or "open").upper()
        found = [p for p in prs if p["head"] == head and (st == "ALL" or p["state"] == st)]
        print(json.dumps([fields(p, wanted) for p in found]))
        return 0
    if args[:2] == ["pr", "create"]:
        head, base = option(args, "--head"), option(args, "--base")
        title, body_file = option(args, "--title"), option(args, "--body-file")
        if not (head and base and title and body_file):
            return fail("must provide --head, --base, --title and --body-file")
        if any(p["head"] == head and p["state"] == "OPEN" for p in prs):
            return fail(f'a pull request for branch "{head}" into branch "{base}" already exists')
        if not remote_has(head):
            return fail(f"pull request create failed: Head sha can't be blank (no branch {head})")
        number = len(prs) + 1
        url = f"https://github.com/{OWNER_REPO}/pull/{number}"
        prs.append(
            {
                "number": number,
                "url": url,
                "head": head,
                "base": base,
                "title": title,
                "body": Path(body_file).read_text(),
                "state": "OPEN",
                "draft": "--draft" in args,
                "labels": option(args, "--label", many=True),
            }
        )
        save(state, prs)
        print(url)
        return 0
    if args[:2] == ["pr", "edit"]:
        number = int(args[2])
        pr = next((p for p in prs if p["number"] == number), None)
        if pr is None:
            return fail(f"no pull requests found for {number}")
        pr["title"] = option(args, "--title") or pr["title"]
        if option(args, "--body-file"):
            pr["body"] = Path(option(args, "--body-file")).read_text()
        pr["base"] = option(args, "--base") or pr["base"]
        save(state, prs)
        print(pr["url"])
        return 0
    if args[:2] == ["pr", "view"]:
        key = args[2]
        pr = next((p for p in prs if key in (str(p["number"]), p["url"])), None)
        if pr is None:
            return fail(f"no pull requests found for {key}")
        wanted = option(args, "--json")
        if wanted == "latestReviews":  # reviews a test put in the state: gh's shape
            print(json.dumps({"latestReviews": pr.get("reviews", [])}))
            return 0
        print(json.dumps(fields(pr, wanted)))
        return 0
    if args[:2] == ["repo", "view"]:
        owner, name = OWNER_REPO.split("/")
        print(json.dumps({"owner": {"login": owner}, "name": name}))
        return 0
    if args[:2] == ["api", "graphql"]:
        number = int(next(a for a in args if a.startswith("number=")).split("=", 1)[1])
        pr = next(p for p in prs if p["number"] == number)
        threads = {"reviewThreads": {"nodes": pr.get("threads", [])}}
        print(json.dumps({"data": {"repository": {"pullRequest": threads}}}))
        return 0
    return fail(f"fake gh: unsupported: {' '.join(args)}", 2)


if __name__ == "__main__":
    import fcntl

    # Several builds (CI runners sharing one build) call gh at once: one call at a time, as
    # GitHub serialises its own writes.
    with open(os.environ["FAKE_GH_STATE"] + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        code = main(sys.argv[1:])
    sys.exit(code)
