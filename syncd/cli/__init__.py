"""The command line: validate, plan, apply, policy (iam-policy, vault-policy), schema, version.

Exit codes: 0 success (in sync), 1 error, 2 drift found (plan with
--detailed-exitcode). Usage errors exit 1 too, so 2 always means drift.

One module per job: `program` (the Typer app, `main`, `entry`), `options`
(exit codes, shared options), `invocation` (what a run was handed; logging,
the manifest, the runner), `output` (everything printed, through the
redactor), and one module per group of commands (`plan_commands`,
`policy_commands`, `small_commands`). A new group of commands is a new
module whose functions `program` registers.

Start-up time: a command imports what it uses. The modules that pull in
the pydantic models, structlog, rich, YAML or a connector (manifest, engine,
apply, policy, logs, the progress bar) are imported inside the functions
that need them, so `syncd version` loads none of them (bench/startup.py).
"""

from syncd.cli.options import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, Format, LogFormat, LogLevel
from syncd.cli.program import app, entry, main

__all__ = ["EXIT_DRIFT", "EXIT_ERROR", "EXIT_OK", "Format", "LogFormat", "LogLevel", "app", "entry", "main"]
