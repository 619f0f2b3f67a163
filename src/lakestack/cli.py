"""The `lakestack` command."""

from __future__ import annotations

import configparser
import json
import shutil
import sys
import urllib.request
from pathlib import Path

import click

from lakestack import __version__
from lakestack.settings import Settings

HOME_HELP = "Data directory (default: $LAKESTACK_HOME, else ./.lakestack)."


def _settings(home, host=None, port=None) -> Settings:
    return Settings.from_env(home=Path(home) if home else None, host=host, port=port)


def _read_credentials(settings: Settings) -> tuple[str, str] | None:
    path = settings.home / "credentials"
    if not path.exists():
        return None
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["lakestack"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lakestack")
def main():
    """lakestack: S3, Kinesis, Glue, Athena and friends, running for real on this machine.

    Point unchanged boto3 or AWS CLI code at http://127.0.0.1:4566.
    """


@main.command(short_help="Run lakestack in the foreground.")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; loopback only unless you say so).")
@click.option("--port", default=None, type=int, help="Port (default 4566).")
@click.option("--home", default=None, help=HOME_HELP)
def up(host, port, home):
    """Run lakestack in the foreground (Ctrl-C stops it cleanly)."""
    from lakestack.server import serve

    settings = _settings(home, host, port)
    click.echo(f"lakestack {__version__}")
    click.echo(f"  endpoint  {settings.endpoint_url}")
    click.echo(f"  data dir  {settings.home}")
    click.echo(f"  use it    eval \"$(lakestack env --home {settings.home})\"   or   "
               f"AWS_SHARED_CREDENTIALS_FILE={settings.home / 'credentials'} AWS_PROFILE=lakestack")
    serve(settings)


@main.command(short_help="Is a server running? Version and services.")
@click.option("--port", default=None, type=int, help="Port of the running server (default 4566).")
@click.option("--home", default=None, help=HOME_HELP)
def status(port, home):
    """Say whether a server is running, its version and services."""
    settings = _settings(home, port=port)
    url = f"{settings.endpoint_url}/_lakestack/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            health = json.load(resp)
    except OSError:
        click.echo(f"lakestack is not running at {settings.endpoint_url}")
        sys.exit(1)
    click.echo(f"lakestack {health['version']} running at {settings.endpoint_url}")
    click.echo(f"  services: {', '.join(health['services'])}")


@main.command(short_help="Print exports for AWS tools: eval \"$(lakestack env)\".")
@click.option("--home", default=None, help=HOME_HELP)
def env(home):
    """Print shell exports that point AWS tools at lakestack: eval "$(lakestack env)"."""
    settings = _settings(home)
    creds = _read_credentials(settings)
    if creds is None:
        raise click.ClickException(f"no credentials in {settings.home} yet: run `lakestack up` once first")
    click.echo(f"export AWS_ENDPOINT_URL={settings.endpoint_url}")
    click.echo(f"export AWS_ACCESS_KEY_ID={creds[0]}")
    click.echo(f"export AWS_SECRET_ACCESS_KEY={creds[1]}")
    click.echo(f"export AWS_DEFAULT_REGION={settings.region}")


@main.command(short_help="Delete all data in the data directory.")
@click.option("--home", default=None, help=HOME_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(home, yes):
    """Delete all lakestack data (buckets, objects, identities) in the data directory."""
    settings = _settings(home)
    if not settings.home.exists():
        click.echo(f"nothing to reset: {settings.home} does not exist")
        return
    if not yes:
        click.confirm(f"Delete everything under {settings.home}?", abort=True)
    shutil.rmtree(settings.home)
    click.echo(f"deleted {settings.home}")


@main.command(short_help="Run the demo scenario against a fresh lakestack.")
@click.option("--home", default=None, help="Data directory for the demo (default: a temporary one).")
def demo(home):
    """Start lakestack, run the demo scenario through boto3, print what happened, stop."""
    from lakestack.demo.smoke import run

    run(home)


if __name__ == "__main__":
    main()
