"""The `lakestack` command."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import sys
import urllib.request
from pathlib import Path

import click

from lakestack import __version__
from lakestack.settings import Settings

HOME_HELP = "Data directory (default: $LAKESTACK_HOME, else ./.lakestack)."


def _settings(home, host=None, port=None) -> Settings:
    try:
        return Settings.from_env(home=Path(home) if home else None, host=host, port=port)
    except ValueError as e:  # a bad LAKESTACK_* value: say which, without a traceback
        raise click.UsageError(str(e)) from None


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
@click.option("--port", default=None, type=int, help="Port (default 4566; 0 picks a free one). HTTP and HTTPS, "
              "HTTP/1.1 and HTTP/2, all on this one port.")
@click.option("--home", default=None, help=HOME_HELP)
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Serve TLS with this certificate (PEM) instead of one from the home's local CA.")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The private key (PEM) of --tls-cert.")
def up(host, port, home, tls_cert, tls_key):
    """Run lakestack in the foreground (Ctrl-C stops it cleanly)."""
    from lakestack.runtime.instance import AlreadyRunning
    from lakestack.server import StartupError, serve

    settings = _settings(home, host, port)
    if tls_cert:
        settings.tls_cert = Path(tls_cert)
    if tls_key:
        settings.tls_key = Path(tls_key)

    def announce(server) -> None:
        home_arg = shlex.quote(str(settings.home))
        click.echo(f"lakestack {__version__}")
        click.echo(f"  endpoint  {settings.endpoint_url}   (and {settings.https_endpoint_url}; HTTP/1.1 and HTTP/2)")
        click.echo(f"  data dir  {settings.home}")
        if server.ca_bundle:
            click.echo(f"  TLS CA    {server.ca_bundle}")
        click.echo(f"  use it    eval \"$(lakestack env --home {home_arg})\"")
        click.echo(f"       or   {_profile_assignments(settings)} aws s3 ls")

    try:
        serve(settings, on_ready=announce)
    except (StartupError, AlreadyRunning) as exc:
        raise click.ClickException(str(exc)) from None


def _profile_assignments(settings: Settings) -> str:
    """The variables that select the `lakestack` AWS profile (endpoint, region, keys)."""
    return (f"AWS_CONFIG_FILE={shlex.quote(str(settings.home / 'config'))} "
            f"AWS_SHARED_CREDENTIALS_FILE={shlex.quote(str(settings.home / 'credentials'))} AWS_PROFILE=lakestack")


def _running_endpoint(settings: Settings) -> tuple[str, dict | None]:
    """The endpoint of the server running on this home (from `<home>/server.json`), else the
    one the settings describe."""
    from lakestack.runtime.instance import running

    record = running(settings.home)
    if record and record.get("endpoint"):
        return record["endpoint"], record
    return settings.endpoint_url, None


@main.command(short_help="Is a server running? Version and services.")
@click.option("--port", default=None, type=int, help="Port of the running server (default: the one the server "
              "on --home recorded, else 4566).")
@click.option("--home", default=None, help=HOME_HELP)
def status(port, home):
    """Say whether a server is running, its version and services."""
    settings = _settings(home, port=port)
    endpoint = settings.endpoint_url if port is not None else _running_endpoint(settings)[0]
    try:
        with urllib.request.urlopen(f"{endpoint}/_lakestack/health", timeout=3) as resp:
            health = json.load(resp)
    except OSError:
        click.echo(f"lakestack is not running at {endpoint}")
        sys.exit(1)
    click.echo(f"lakestack {health['version']} running at {endpoint}")
    click.echo(f"  services: {', '.join(health['services'])}")


@main.command(short_help="Print exports for AWS tools: eval \"$(lakestack env)\".")
@click.option("--home", default=None, help=HOME_HELP)
def env(home):
    """Print shell exports that point AWS tools at lakestack: eval "$(lakestack env)".

    The endpoint is the running server's (recorded in the data directory), else the default.
    """
    settings = _settings(home)
    creds = _read_credentials(settings)
    if creds is None:
        raise click.ClickException(f"no credentials in {settings.home} yet: run `lakestack up` once first")
    endpoint, record = _running_endpoint(settings)
    if record is not None:
        ca_bundle = record.get("ca_bundle")
    else:
        ca = settings.home / "tls" / "ca.pem"
        ca_bundle = str(ca) if ca.exists() and not settings.tls_cert else None
    exports = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": creds[0],
        "AWS_SECRET_ACCESS_KEY": creds[1],
        "AWS_DEFAULT_REGION": settings.region,
    }
    if ca_bundle:
        exports["AWS_CA_BUNDLE"] = ca_bundle  # trusts https:// on the same port
    if (settings.home / "config").exists():
        exports["AWS_CONFIG_FILE"] = str(settings.home / "config")
        exports["AWS_SHARED_CREDENTIALS_FILE"] = str(settings.home / "credentials")
        exports["AWS_PROFILE"] = "lakestack"
    for name, value in exports.items():
        click.echo(f"export {name}={shlex.quote(value)}")


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
