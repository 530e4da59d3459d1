"""Runs llms.py's own Credentials code (llms-py==4.0.26) for the compatibility tests.

Reads a JSON list of operations on standard input, runs them in order and prints a JSON
list of their results (one Python start-up for many operations):

    ["hash", PASSWORD]                    -> _hash_password(PASSWORD)
    ["verify", PASSWORD, HASH]            -> _verify_password(PASSWORD, HASH)
    ["load", PATH]                        -> _load_users(PATH)
    ["cli", USER_PATH, [ARG, ...], TEXT]  -> what the reference's CLI (its run(ctx)) printed,
                                             working on USER_PATH/credentials/users.json; the
                                             lines of TEXT answer its password and reason
                                             prompts

Nothing here re-implements the reference: every behaviour comes from its module.
"""

import argparse
import builtins
import contextlib
import getpass
import io
import json
import sys

import llms.extensions.credentials as credentials
from llms.extensions.credentials import _hash_password, _load_users, _verify_password


class Context:
    """The part of llms.py's extension context that the Credentials CLI uses."""

    def __init__(self, user_path, cli_args):
        self.user_path = user_path
        self.cli_args = cli_args

    def enabled_auth(self):
        return "credentials"

    def get_user_path(self):
        return self.user_path


def run_cli(user_path, args, answers):
    parser = argparse.ArgumentParser(prog="llms")
    credentials.parser(parser)
    cli_args = parser.parse_args(args)
    lines = io.StringIO(answers)

    def answer(prompt=""):
        # Shown like a terminal would show it; the answer comes from the given lines.
        print(prompt, end="")
        line = lines.readline()
        if not line:
            raise EOFError(prompt)
        return line.rstrip("\r\n")

    getpass.getpass = answer
    builtins.input = answer
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        handled = credentials.run(Context(user_path, cli_args))
    if not handled:
        raise SystemExit("the reference did not handle: " + " ".join(args))
    return printed.getvalue()


def run(operation):
    name, args = operation[0], operation[1:]
    if name == "hash":
        return _hash_password(args[0])
    if name == "verify":
        return _verify_password(args[0], args[1])
    if name == "load":
        return _load_users(args[0])
    if name == "cli":
        return run_cli(args[0], args[1], args[2])
    raise SystemExit("unknown operation: " + name)


if __name__ == "__main__":
    operations = json.load(sys.stdin)
    json.dump([run(op) for op in operations], sys.stdout)
