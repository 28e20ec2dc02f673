"""`flask --app app mappings export KIND [--org NAME] > file.csv` and
`flask --app app mappings import KIND file.csv [--org NAME] [--apply]`: the browser's
CSV import and export for admins and backups. Import prints the preview; with --apply
it writes, in one transaction, only when every row is accepted. A rejected row (or a
file refused as a whole) prints the reasons and exits with status 1."""
from __future__ import annotations

import os
import sys

import click

from blueprints.mappings import bp
from jobs import mapping_tables
from models import db
from sync import mapping_csv
from sync.mapping_csv import KINDS, MAX_BYTES, Refused

KIND = click.Choice(list(KINDS))


def _org(kind: str, name: str | None):
    if kind == "routing":
        return None
    orgs = mapping_tables.xero_orgs()
    if name is None:
        if len(orgs) == 1:
            return orgs[0]
        raise click.ClickException(
            f"Name the Xero organisation with --org; {KINDS[kind].label} are kept per "
            "organisation: " + (", ".join(o.name for o in orgs) or "none is connected"))
    org = mapping_tables.org_by_name(name)
    if org is None:
        raise click.ClickException(
            f"No connected Xero organisation is named {name!r}; the connected ones are: "
            + (", ".join(o.name for o in orgs) or "none"))
    return org


@bp.cli.command("export")
@click.argument("kind", type=KIND)
@click.option("--org", "org_name", help="The Xero organisation (its name).")
def export_command(kind, org_name):
    """Print the KIND mappings as CSV."""
    with db.connection_context():
        org = _org(kind, org_name)
        sys.stdout.write(mapping_csv.export(kind, mapping_tables.rows(kind, org)))


@bp.cli.command("import")
@click.argument("kind", type=KIND)
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--org", "org_name", help="The Xero organisation (its name).")
@click.option("--apply", "do_apply", is_flag=True,
              help="Write the changes (only when every row is accepted).")
def import_command(kind, path, org_name, do_apply):
    """Preview importing PATH as KIND mappings; --apply writes it."""
    try:
        size = os.path.getsize(path) if path != "-" else 0
        if size > MAX_BYTES:    # say the real size, and read none of it
            click.echo(mapping_csv.too_big(size), err=True)
            sys.exit(1)
        with click.open_file(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"Ferry could not read {path}: {exc.strerror}.")
    with db.connection_context():
        org = _org(kind, org_name)
        result = mapping_tables.preview(kind, data, org)
        if isinstance(result, Refused):
            click.echo(result.sentence, err=True)
            sys.exit(1)
        for notice in result.notices:
            click.echo(notice)
        for row in result.rows:
            shown = ", ".join(f"{c}={row.values.get(c, '')}" for c in result.kind.header)
            line = f"line {row.line}: {row.status:<9} {shown}"
            if row.status == "changed" and row.old:
                was = ", ".join(f"{c}={row.old[c]}" for c in result.kind.header
                                if row.old[c] != row.values.get(c, ""))
                line += f" (was {was})"
            if row.reason:
                line += f" - {row.reason}"
            click.echo(line)
        summary = (f"{result.count('added')} added, {result.count('changed')} changed, "
                   f"{result.count('unchanged')} unchanged, {result.count('rejected')} "
                   "rejected")
        if not result.acceptable:
            click.echo(f"{summary}. Nothing was written: fix the rejected rows and run "
                       "the import again.", err=True)
            sys.exit(1)
        if not do_apply:
            click.echo(f"{summary}. This was a preview; run again with --apply to write "
                       "it.")
            return
        written = mapping_tables.apply(result, org)
        click.echo(f"{summary}. Written: {written} row(s).")
