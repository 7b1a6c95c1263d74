"""The README's commands: the signing example runs as written, and every option it names exists.

The operator's guide has its own test (test_guide.py), which runs every command in it; the
README's commands are a different set (a plain offline signing, the policy commands with a
state folder under /var/lib), so they are checked here: the offline example in a scratch folder
exactly as printed, the others by asking each command's ``--help`` for the options the README
names (running them would need a system folder and a key tag the reader replaces).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from conftest import CliRunner

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
INLINE = re.compile(r"`(signwire [^`]+)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
WORD = re.compile(r"[a-z][a-z-]*")  # a command word: no dot, digit or slash, unlike arguments


def _blocks() -> list[list[list[str]]]:
    """Each ``sh`` block as its ``signwire`` command lines (argv after ``signwire``)."""
    out = []
    for block in SH_BLOCK.findall(README.read_text()):
        lines = [shlex.split(line, comments=True) for line in block.splitlines()]
        out.append([argv[1:] for argv in lines if argv and argv[0] == "signwire"])
    return [b for b in out if b]


def _commands() -> list[list[str]]:
    inline = [shlex.split(m)[1:] for m in INLINE.findall(README.read_text())]
    return [argv for block in _blocks() for argv in block] + inline


def _command_words(argv: list[str]) -> list[str]:
    words = []
    for token in argv:
        if token.startswith("-") or not WORD.fullmatch(token):
            break
        words.append(token)
    return words


def test_the_readme_still_shows_signwire_commands() -> None:
    commands = _commands()
    assert len(commands) >= 5, f"the README lost its signwire commands: {commands}"
    assert {"sign", "verify", "key"} <= {argv[0] for argv in commands}


def test_every_option_the_readme_names_exists(signwire: CliRunner) -> None:
    helps = {}
    for argv in _commands():
        words = tuple(_command_words(argv))
        if words not in helps:
            result = signwire(*words, "--help")
            assert result.code == 0, f"signwire {' '.join(words)} --help: {result.err}"
            helps[words] = result.out
    known = set(OPTION.findall("\n".join(helps.values())))
    named = set(OPTION.findall(README.read_text()))
    unknown = sorted(named - known)
    assert not unknown, f"the README names options no command has: {unknown}"


def test_the_signing_example_runs_as_written(tmp_path: Path, run_cli_subprocess: CliRunner) -> None:
    # The first block that signs without a policy: the README's offline example.
    block = next(b for b in _blocks() if b[0][0] == "sign" and "--policy" not in b[0])
    shutil.copy(ROOT / "examples" / "example.com.zone", tmp_path)
    for argv in block:
        result = run_cli_subprocess(*argv, cwd=tmp_path)
        assert result.code == 0, f"signwire {shlex.join(argv)} exited {result.code}:\n{result.err}"
    signed = (tmp_path / "example.com.zone.signed").read_text()
    assert " RRSIG " in signed or "\tRRSIG\t" in signed, signed[:2000]
    # The README says signwire makes a KSK and a ZSK when the folder has none.
    assert len(list((tmp_path / "keys" / "example.com").glob("K*.private"))) == 2
