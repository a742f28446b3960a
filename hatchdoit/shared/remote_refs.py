"""The git remote as the store several CI runners share (`hatchdoit ci --shared`, docs/ci.md).

What lives there, beside the integration branch:
- `refs/hatchdoit/claims/<ID>`: who builds the TaskSpec (claims.py);
- `refs/hatchdoit/state/<ID>`: a snapshot of the TaskSpec's records (state_sync.py);
- `refs/heads/taskspec/<ID>`: its branch, the commits of its attempts.

Every write is a compare-and-swap: `git push --atomic --porcelain --force-with-lease=<ref>:<sha
it must have, or empty: must not exist>`, all refs of one write or none. A refused push means
someone else wrote first; the caller fetches and decides again. Fetched refs are kept under
`refs/remotes/<remote>/hatchdoit/` and `refs/remotes/<remote>/taskspec/` in the target repo.
Credentials are git's own business (its credential helper, ssh agent, the CI checkout's
token): nothing here puts one on a command line.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hatchdoit.config.models import GitIdentity
from hatchdoit.core.errors import StepError
from hatchdoit.run.gitops import try_git
from hatchdoit.run.safe_git import safe_git_argv

CLAIMS = "refs/hatchdoit/claims/"
STATE = "refs/hatchdoit/state/"
BRANCHES = "refs/heads/taskspec/"
ZERO = "0" * 40
NETWORK_TIMEOUT = 120.0


@dataclass(frozen=True)
class Update:
    """One ref of an atomic push: `new` None deletes it; `expected` None: it must not exist."""

    ref: str
    new: str | None
    expected: str | None


@dataclass(frozen=True)
class Remote:
    """The target repo and the name of its remote (`integration.remote`)."""

    repo: Path
    name: str
    identity: GitIdentity = field(default_factory=GitIdentity)

    @property
    def mirror(self) -> str:
        """Where fetched refs live in the target repo: `refs/remotes/<name>/`."""
        return f"refs/remotes/{self.name}/"

    def local(self, ref: str) -> str:
        """The fetched copy of a remote ref: refs/hatchdoit/claims/A ->
        refs/remotes/<name>/hatchdoit/claims/A; refs/heads/taskspec/A -> .../taskspec/A."""
        if ref.startswith("refs/heads/"):
            return self.mirror + ref.removeprefix("refs/heads/")
        return self.mirror + ref.removeprefix("refs/")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = try_git(self.repo, *args, env=env, timeout=NETWORK_TIMEOUT)
        if done.returncode != 0:
            raise StepError(
                f"git {args[0]} in {self.repo} exited {done.returncode}: {_last(done)}",
                operation=f"git {args[0]}",
                path=self.repo,
            )
        return done.stdout

    def unreachable(self) -> str | None:
        """Why the remote cannot be used (one line), or None when `git ls-remote` reaches it."""
        url = try_git(self.repo, "remote", "get-url", self.name)
        if url.returncode != 0:
            return f"{self.repo} has no remote {self.name!r} (integration.remote)"
        done = try_git(self.repo, "ls-remote", "--heads", self.name, timeout=NETWORK_TIMEOUT)
        if done.returncode != 0:
            return f"remote {self.name!r} of {self.repo} is not reachable: {_last(done)}"
        return None

    def cannot_push(self) -> str | None:
        """Why this clone cannot push to the remote (a dry-run push of a probe ref: a read-only
        token is refused there), or None."""
        probe = "refs/hatchdoit/probe"
        if try_git(self.repo, "rev-parse", "--verify", "-q", "HEAD").returncode != 0:
            return None  # nothing to probe with: the first claim's push tells
        done = try_git(self.repo, "push", "--dry-run", "--porcelain", self.name,
                       f"HEAD:{probe}", timeout=NETWORK_TIMEOUT)  # fmt: skip
        return None if done.returncode == 0 else _last(done)

    def unreachable_locally(self) -> bool:
        """No git repo or no such remote here (nothing was ever fetched from it)."""
        return try_git(self.repo, "remote", "get-url", self.name).returncode != 0

    def fetch(self, *refs: str) -> None:
        """Fetch the shared refs (or just `refs`, remote names, with their patterns kept):
        claims and state mirrored with deletions (--prune), and the branches as a plain `git
        fetch` has them (the TaskSpec branches, the integration branch the merge queue lands
        on: `refs/remotes/<name>/...`)."""
        wanted = refs or (CLAIMS + "*", STATE + "*", "refs/heads/*")
        specs = [f"+{ref}:{self.local(ref)}" for ref in wanted]
        self.git("fetch", "--quiet", "--prune", "--no-tags", self.name, *specs)

    def refs(self, prefix: str) -> dict[str, str]:
        """{remote ref name: sha} of the fetched refs under `prefix` (a remote prefix)."""
        local = self.local(prefix)
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)", local)
        found = {}
        for line in out.splitlines():
            sha, _, name = line.partition(" ")
            found[prefix + name.removeprefix(local)] = sha
        return found

    def ref(self, ref: str) -> str | None:
        """The fetched sha of one remote ref, or None."""
        done = try_git(self.repo, "rev-parse", "--verify", "-q", self.local(ref))
        return done.stdout.strip() or None if done.returncode == 0 else None

    def live(self, refs: Sequence[str]) -> dict[str, str]:
        """{ref: sha} as the remote has them now (`git ls-remote`), for the refs that exist."""
        out = self.git("ls-remote", self.name, *refs)
        return {name: sha for sha, _, name in (line.partition("\t") for line in out.splitlines())}

    def push(self, updates: Sequence[Update]) -> bool:
        """One atomic compare-and-swap push of `updates`: True when the remote took all of
        them, False when it refused (a lease did not hold: someone wrote first). Any other
        failure (network, rights, a protected ref) raises with git's last line."""
        argv = ["push", "--atomic", "--porcelain", "--no-verify"]
        targets = []
        for up in updates:
            argv.append(f"--force-with-lease={up.ref}:{up.expected or ''}")
            targets.append(f"{up.new}:{up.ref}" if up.new else f":{up.ref}")
        done = try_git(self.repo, *argv, self.name, *targets, timeout=NETWORK_TIMEOUT)
        if done.returncode == 0:
            self._mirror(updates)  # our copy follows what we wrote
            return True
        if _refused(done.stdout) and not _declined(done.stdout):
            return False
        raise StepError(
            f"git push to {self.name} refused: {_last(done)}",
            operation="git push",
            path=self.repo,
            fix="the runner needs push rights on refs/hatchdoit/* and taskspec/* branches",
        )

    def _mirror(self, updates: Sequence[Update]) -> None:
        """The fetched copies of `updates`' refs set as pushed: one `git update-ref --stdin`."""
        lines = "".join(
            f"update {self.local(up.ref)} {up.new}\n"
            if up.new
            else f"delete {self.local(up.ref)}\n"
            for up in updates
        )
        _feed(self.repo, ("update-ref", "--stdin"), lines.encode())

    # Objects, written without a working tree -------------------------------------------------

    def commit(
        self,
        files: dict[str, Path | bytes],
        message: str,
        parent: str | None,
        trailer: Callable[[str], str] | None = None,
    ) -> str:
        """A commit of a tree holding `files` ({path in the tree: a file, or its bytes}),
        made with a private index: no working tree or branch is touched. `trailer(tree)`:
        added to the message (a seal over the tree: snapshot_rules.py)."""
        with tempfile.TemporaryDirectory(prefix="hatchdoit-shared-") as tmp:
            paths = []
            for n, (name, content) in enumerate(sorted(files.items())):
                if isinstance(content, bytes):
                    blob = Path(tmp) / f"blob-{n}"
                    blob.write_bytes(content)
                    content = blob
                paths.append((name, content))
            shas = self.git("hash-object", "-w", "--", *(str(p) for _, p in paths)).split()
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            info = [
                arg
                for (name, _), sha in zip(paths, shas, strict=True)
                for arg in ("--cacheinfo", f"100644,{sha},{name}")
            ]
            if info:
                self.git("update-index", "--add", *info, env=env)
            tree = self.git("write-tree", env=env).strip()
        if trailer is not None:
            message += trailer(tree)
        who = {
            "GIT_AUTHOR_NAME": self.identity.name,
            "GIT_AUTHOR_EMAIL": self.identity.email,
            "GIT_COMMITTER_NAME": self.identity.name,
            "GIT_COMMITTER_EMAIL": self.identity.email,
        }
        parents = ["-p", parent] if parent else []
        return self.git("commit-tree", tree, *parents, "-m", message, env=who).strip()

    def tree_of(self, commit: str) -> str:
        return self.git("rev-parse", f"{commit}^{{tree}}").strip()

    def files_of(self, commit: str, limit: int = 1 << 16) -> dict[str, bytes]:
        """{path: content} of a commit's tree of small files (a claim): plain files of at most
        `limit` bytes, sizes checked before reading; StepError when another entry is there."""
        listing = self.git("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
        found = {}
        for entry in filter(None, listing.split("\0")):
            meta, _, name = entry.partition("\t")
            parts = meta.split()
            if len(parts) != 4 or parts[0] not in ("100644", "100755") or int(parts[3]) > limit:
                raise StepError(f"{commit[:12]}: {name}: not a small plain file",
                                operation="git ls-tree", path=self.repo)  # fmt: skip
            found[name] = parts[2]
        blobs = _blobs(self.repo, list(found.values()))
        return {name: blobs[sha] for name, sha in found.items()}


def _feed(repo: Path, args: tuple[str, ...], data: bytes) -> bytes:
    """A local git command fed `data` on its standard input: its output (bytes); a failure
    raises with git's last line."""
    done = subprocess.run(
        safe_git_argv(repo, args), input=data, capture_output=True, check=False,
        timeout=NETWORK_TIMEOUT,
    )  # fmt: skip
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise StepError(f"git {args[0]} in {repo} failed: {why[-1] if why else done.returncode}",
                        operation=f"git {args[0]}", path=repo)  # fmt: skip
    return done.stdout


def _blobs(repo: Path, shas: Sequence[str]) -> dict[str, bytes]:
    """{sha: bytes} of blobs, read by one `git cat-file --batch` (not through text decoding)."""
    if not shas:
        return {}
    out = _feed(repo, ("cat-file", "--batch"), "".join(f"{sha}\n" for sha in shas).encode())
    at, found = 0, {}
    for sha in shas:
        end = out.find(b"\n", at)
        header = out[at:end].split() if end >= 0 else []
        if len(header) != 3 or header[1] != b"blob":
            raise StepError(f"git cat-file blob {sha} failed in {repo}", operation="git cat-file")
        size = int(header[2])
        found[sha] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1  # the content is followed by a newline
    return found


# A lease that did not hold: checked by our git before sending (stale info, ...), or by the
# remote while it updates the refs (another push got there between our check and its lock).
LEASE_LOST = (
    "stale info",
    "already exists",
    "fetch first",
    "non-fast-forward",
    "atomic transaction failed",
    "atomic push failed",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
)


def _refused(porcelain: str) -> bool:
    """A ref refused because its lease did not hold, in `git push --porcelain`'s report
    (`!\\t<src>:<dst>\\t[rejected] (stale info)`); a hook's or a protected branch's refusal
    (`[remote rejected]`) is no lost race: the caller says it."""
    return any(
        line.startswith("!\t") and any(why in line for why in LEASE_LOST)
        for line in porcelain.splitlines()
    )


def _declined(porcelain: str) -> bool:
    """The remote declined a ref for a reason of its own (a hook, a protected branch)."""
    return any(
        line.startswith("!\t") and "remote rejected" in line and "declined" in line
        for line in porcelain.splitlines()
    )


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"
