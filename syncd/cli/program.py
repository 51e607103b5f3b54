"""The `syncd` program: the Typer app with every command in the order `--help` lists them, and `main`, which runs
one command line and turns what it raises into an exit code and an error message."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer

from syncd.cli import audit_commands, plan_commands, policy_commands, run_commands, small_commands
from syncd.cli.invocation import Invocation
from syncd.cli.options import EXIT_ERROR, EXIT_OK
from syncd.cli.output import print_error, print_text
from syncd.errors import SyncdError

if TYPE_CHECKING:
    from syncd.registry import Registry
    from syncd.settings import Settings

app = typer.Typer(
    name="syncd",
    help="Keep secrets in many places equal to one source of truth: validate, plan, apply, run.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.command("validate")(small_commands.validate)
app.command("plan")(plan_commands.plan)
app.command("apply")(plan_commands.apply)
app.command("run")(run_commands.run)
app.command("policy")(policy_commands.policy)
app.command("iam-policy")(policy_commands.iam_policy)
app.command("vault-policy")(policy_commands.vault_policy)
app.command("audit")(audit_commands.audit)
app.command("schema")(small_commands.json_schema)
app.command("version")(small_commands.version)


def main(
    argv: Sequence[str] | None = None,
    *,
    registry: Registry | None = None,
    clients: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> int:
    """Run the command line; returns the exit code. `registry`, `clients`, `env` and `settings` (the run's tuning
    values: retries, readers, the breaker) are for embedding and tests."""
    Invocation.registry, Invocation.clients, Invocation.env = registry, clients or {}, env
    Invocation.settings = settings
    Invocation.argv, Invocation.log_format = list(argv) if argv is not None else sys.argv[1:], None
    command = typer.main.get_command(app)
    try:
        result = command.main(args=list(argv) if argv is not None else None, prog_name="syncd", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print_error("aborted; nothing more is changed")
        return 130
    except SyncdError as exc:
        print_error(str(exc), getattr(exc, "issues", ()))
        return EXIT_ERROR
    except Exception as exc:
        # Typer may bring its own copy of click, so its usage errors are recognised by name.
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "ClickException" not in names:
            raise
        if "NoArgsIsHelpError" in names:
            print_text(exc.format_message() + "\n")  # type: ignore[attr-defined]
            return EXIT_OK
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print_error(exc.format_message() + hint)  # type: ignore[attr-defined]
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK


def entry() -> None:
    sys.exit(main())
