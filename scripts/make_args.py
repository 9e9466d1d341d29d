"""Run a Makefile target's command with the user's make variables as data, never as shell text.

    python scripts/make_args.py [--plain NAME ...] -- COMMAND [ARG ...]

The Makefile exports ARGS, EXPERIMENT, SWEEP and SCORE_SWEEP to the environment instead of
pasting them into a shell command line.  Here each ``--plain NAME`` is checked to be a plain
name (letters, digits, '._-', not starting with '.' or '-': one folder or preset), then put for
``@NAME@`` into the ARGs; ``ARGS`` is split into words the way a shell splits quoted text
(shlex: quotes group, nothing is expanded or run) and appended.  The command is then executed
directly, without a shell, so ``ARGS='x; touch y'`` hands ``x;``, ``touch``, ``y`` to the program,
which refuses them.  A bad value is one line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> None:
    if "--" not in argv:
        fail("usage: make_args.py [--plain NAME ...] -- COMMAND [ARG ...]")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    if not command or len(options) % 2 or any(flag != "--plain" for flag in options[::2]):
        fail("usage: make_args.py [--plain NAME ...] -- COMMAND [ARG ...]")
    values = {}
    for name in options[1::2]:
        value = os.environ.get(name, "")
        if not PLAIN.fullmatch(value):
            fail(f"{name} must be a plain name (letters, digits, '._-'), got {value!r}")
        values[name] = value
    for name, value in values.items():
        command = [arg.replace(f"@{name}@", value) for arg in command]
    try:
        extra = shlex.split(os.environ.get("ARGS", ""))
    except ValueError as exc:  # an unclosed quote
        fail(f"ARGS cannot be split into arguments ({exc}); quote each value once, e.g. ARGS=\"key='a b'\"")
    try:
        os.execvp(command[0], command + extra)
    except OSError as exc:
        fail(f"cannot run {command[0]}: {exc.strerror or exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
