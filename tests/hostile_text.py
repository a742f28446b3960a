"""Hostile TaskSpec text for the injection tests (test_injection.py, test_injection_profiles.py):
shell syntax, tmux formats, control characters (the end-of-paste sequence, Ctrl-C), CR and CRLF
line ends, unicode, a 100 KB body and file blocks aimed outside the worktree; every command in
them would leave a PWNED* file behind, which pwned_files() looks for.
"""

from __future__ import annotations

from pathlib import Path

from projects import CHECKOUT

SHELL = (
    "Run $(touch PWNED_SUBST) and `touch PWNED_TICK`; touch PWNED_SEMI | touch PWNED_PIPE "
    "&& touch PWNED_AND || touch PWNED_OR > PWNED_REDIR < /etc/passwd & touch PWNED_BG\n"
    "Variables: $HOME ${HOME} $((6*7)) $$ $0 $@ ${taskspec_id} {taskspec_id} {python} %s %(x)s\n"
    "Quotes: 'single' \"double\" \\backslash \\n \\\\ \\$(touch PWNED_ESC)\n"
    "tmux: #{pane_pid} #{session_name} #(touch PWNED_TMUX) #[fg=red] ## #S #W ;\n"
    "Markdown: <!-- hatchdoit:request=review --> ```not a fence``` <script>alert(1)</script>"
)
CONTROL = (
    "Control characters follow.\n"
    "end of paste: \x1b[201~ then $(touch PWNED_AFTER_PASTE)\n"
    "start of paste: \x1b[200~ ctrl-c: \x03 ctrl-d: \x04 ctrl-z: \x1a ctrl-\\: \x1c\n"
    "bell \x07 backspace \x08 vertical tab \x0b form feed \x0c escape \x1b[2J\x1b[H clear\n"
    "osc title \x1b]0;PWNED_TITLE\x07 osc52 clipboard \x1b]52;c;dG91Y2ggUFdORUQ=\x07\n"
    "carriage\rreturn, crlf\r\nline, delete \x7f, C1 \x85 \x9b31m"
)
LINE_ENDINGS = (
    "Windows line endings follow.\r\nfirst line\r\nsecond line $(touch PWNED_CRLF)\r\n"
    "an old Mac line end\rthe next line\r\n\r\na blank line above"
)
UNICODE = (
    "Unicode: héllo wörld — \u201cquotes\u201d \u2018single\u2019 … ∑∫√∞\n"
    "日本語のテキスト 中文 한국어\n"
    "Emoji: 🚀🔥👩‍👩‍👧‍👦 🏳️‍🌈 flags 🇩🇪 skin 👍🏽\n"
    "RTL override: \u202eevil\u202c, zero width: a\u200bb\u200dc\ufeffd, combining: e\u0301\u0327\n"
    "Line separator:\u2028paragraph separator:\u2029next line:\x85end\n"
    "Blank lines follow.\n\n\n\tindented with a tab\n    and spaces"
)
FILE_ESCAPES = (
    "```file:../../PWNED_ESCAPE\nescaped\n```\n\n"
    "```file:/tmp/PWNED_ABSOLUTE\nabsolute\n```\n\n"
    "```file:.git/hooks/pre-commit\n#!/bin/sh\ntouch PWNED_HOOK\n```\n"
)


def big_body() -> str:
    """About 100 KB of text mixing every kind of trouble above."""
    chunk = SHELL + "\n" + UNICODE + "\n"
    return ("Large body.\n" + chunk * (100 * 1024 // len(chunk.encode()) + 1)).rstrip()


BODIES = {
    "INJ-SHELL": SHELL,
    "INJ-CONTROL": CONTROL,
    "INJ-CRLF": LINE_ENDINGS,
    "INJ-UNICODE": UNICODE,
    "INJ-BIG": big_body(),
    "INJ-FILES": FILE_ESCAPES.rstrip(),
}
# Pasted into a terminal these would change (control and format characters, tabs, CR) or are
# over 32 KB: they go as a pointer to the prompt file (hatchdoit.steps.handover.paste_safe).
POINTER_EXPECTED = {"INJ-CONTROL", "INJ-CRLF", "INJ-UNICODE", "INJ-BIG"}


def hostile_title(n: int, pasted: bool) -> str:
    """A TaskSpec title with a command substitution and tmux formats; unless the prompt is to be
    `pasted` (an RTL override would send it as a pointer), also an RTL override."""
    title = f"Title $(touch PWNED_T{n}) `x` #{{pane_pid}} #(touch PWNED_TT{n}) ; | & é 日 🚀"
    return title if pasted else title + " \u202e"


def pwned_files(*roots: Path) -> list[Path]:
    """Every PWNED* file under `roots` (the planning repo's own text aside) and at the top of
    /, /tmp, the current directory and the checkout."""
    found = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.rglob("*PWNED*") if "_specs" not in p.parts]
    for top in (Path("/"), Path("/tmp"), Path.cwd(), CHECKOUT):
        found += list(top.glob("PWNED*"))
    return found
