"""Reports for people: the plan as a table (coloured on a terminal) or as Markdown, and the
summary line. The text fields that come from outside syncd's own wording (reasons, problem
messages, errors) go through the redactor before they are laid out, so a report's words,
names and columns are never rewritten."""

from __future__ import annotations

import io
from collections.abc import Sequence

from syncd.model import Action, Change, ChangeResult, Plan
from syncd.secret import REDACTOR

_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.CONFLICT: "bold magenta",
    Action.NOOP: "dim",
}


def _finish(text: str) -> str:
    """Without the padding rich leaves at line ends."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(plan: Plan) -> str:
    text = (
        f"{plan.count(Action.CREATE)} to create, {plan.count(Action.UPDATE)} to update, "
        f"{plan.count(Action.DELETE)} to delete, {_plural(plan.count(Action.CONFLICT), 'conflict')} "
        f"across {_plural(len(plan.targets), 'target')}"
    )
    if plan.problems:
        text += f"; {_plural(len(plan.problems), 'problem')}"
    return text + "."


def results_line(results: Sequence[ChangeResult]) -> str:
    applied = sum(1 for r in results if r.ok)
    failed = len(results) - applied
    return f"{applied} applied, {failed} failed."


def _reason(change: Change) -> str:
    if change.action is Action.CREATE and not change.reasons:
        return "new"
    return "; ".join(REDACTOR.redact(reason) for reason in change.reasons)


def render_table(plan: Plan, *, color: bool = False, width: int = 120, show_noop: bool = False) -> str:
    # rich is imported here, not at the top: `syncd version` and the JSON formats never load it.
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    drift = [c for c in plan.changes if show_noop or c.is_drift]
    if not drift and not plan.problems:
        console.print(f"No changes: {_plural(len(plan.targets), 'target')} in sync.")
        return _finish(buffer.getvalue())
    for target in plan.targets:
        changes = [c for c in drift if c.target == target]
        if not changes:
            continue
        table = Table(title=None, show_header=False, box=None, pad_edge=False, padding=(0, 1))
        table.add_column(width=1)
        table.add_column()
        table.add_column()
        table.add_column()
        for change in changes:
            style = _STYLE[change.action]
            table.add_row(
                f"[{style}]{change.action.symbol}[/]",
                f"[{style}]{escape(change.address)}[/]",
                escape(change.sync or ""),
                escape(_reason(change)),
            )
        refused = "  [bold red](refused by the delete guard)[/]" if target in plan.refused_targets else ""
        console.print(f"[bold]{escape(target)}[/]{refused}")
        console.print(table)
    if plan.problems:
        console.print("[bold red]Problems[/]")
        for problem in plan.problems:
            message = REDACTOR.redact(problem.message)
            console.print(f"  [red]✗[/] {escape(problem.subject)}: {escape(message)}", soft_wrap=True)
    console.print(f"\n[bold]Plan:[/] {escape(summary_line(plan))}")
    return _finish(buffer.getvalue())


def render_results(results: Sequence[ChangeResult], *, color: bool = False, width: int = 120) -> str:
    from rich.console import Console
    from rich.markup import escape

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    for result in results:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        change = result.change
        line = f"{mark} {change.action.symbol} {escape(change.target)} {escape(change.address)}"
        if result.error:
            line += f": {escape(REDACTOR.redact(result.error))}"
        console.print(line, soft_wrap=True)
    console.print(f"\n[bold]Apply:[/] {results_line(results)}")
    targets = sorted({r.change.target for r in results})
    if len(targets) > 1:
        for target in targets:
            own = [r for r in results if r.change.target == target]
            style = "green" if all(r.ok for r in own) else "red"
            console.print(f"  [{style}]{escape(target)}[/]: {results_line(own)}")
    return _finish(buffer.getvalue())


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def render_markdown(plan: Plan) -> str:
    """Ready to paste into a merge-request comment."""
    lines = ["### syncd plan", "", f"**{summary_line(plan)}**", ""]
    drift = plan.drift
    if drift:
        lines += ["| | target | item | sync | reason |", "|---|---|---|---|---|"]
        for change in drift:
            lines.append(
                f"| `{change.action.symbol}` | {_md(change.target)} | `{_md(change.address)}` "
                f"| {_md(change.sync or '')} | {_md(_reason(change))} |"
            )
        lines.append("")
    elif plan.problems:
        lines += ["No changes could be planned where the problems below stand; the rest is in sync.", ""]
    else:
        lines += ["No changes: every target is in sync.", ""]
    if plan.refused_targets:
        lines += [f"> **Refused by the delete guard:** {', '.join(plan.refused_targets)}", ""]
    if plan.problems:
        lines += ["#### Problems", ""]
        lines += [f"- **{_md(p.subject)}**: {_md(REDACTOR.redact(p.message))}" for p in plan.problems]
        lines.append("")
    lines.append(
        f"<sub>instance `{plan.instance}` · manifest sha256 `{plan.manifest_digest[:12]}` · {plan.created_at}</sub>"
    )
    return "\n".join(lines) + "\n"
