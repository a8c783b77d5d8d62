"""The ``seasight`` command: a thin layer over the Python API.

Data goes to standard output (JSON lines with ``--json``), diagnostics and progress to standard
error. Exit status: 0 when the command ran (even if some input lines were bad: they are counted
and kept in ``rejects``), 1 when it could not run (a file missing, a database locked), 2 for a
usage error.
"""

from __future__ import annotations

from typing import Any

import typer

from seasight import __version__
from seasight.cli import access as _access
from seasight.cli import alerts as _alerts
from seasight.cli import decode as _decode
from seasight.cli import demo as _demo
from seasight.cli import detect as _detect
from seasight.cli import federate as _federate
from seasight.cli import ingest as _ingest
from seasight.cli import logistics as _logistics
from seasight.cli import risk as _risk
from seasight.cli import serve as _serve
from seasight.cli import sharing as _sharing
from seasight.cli import simulate as _simulate
from seasight.cli import vessel as _vessel
from seasight.cli import watchlist as _watchlist


def _flags_show_no_value() -> None:
    """Show boolean flags (``--json``, ``--active``, ``--help``) in the help without a value.

    Typer's rich help writes every option's type, so a flag reads ``--json <bool>`` as if it
    took one (its plain help, like click's, leaves flags bare). Flags and counters get no
    type column here; every other option keeps its own.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_seasight_flags", False):
        return  # a Typer that renders types otherwise, or already done

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return shown(self, ctx)

    display_type_rich._seasight_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value()

app = typer.Typer(
    name="seasight",
    help="SeaSight: open Maritime Domain Awareness. Decode, store and analyse AIS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seasight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """SeaSight: open Maritime Domain Awareness."""


app.command("ingest", epilog=_ingest.EPILOG)(_ingest.ingest)
app.command("decode", epilog=_decode.EPILOG)(_decode.decode)
app.command("demo")(_demo.demo)
app.command("detect", epilog=_detect.DETECT_EPILOG)(_detect.detect)
app.command("events", epilog=_detect.EVENTS_EPILOG)(_detect.events)
app.command("evaluate")(_detect.evaluate)
app.add_typer(_watchlist.app, name="watchlist")
app.add_typer(_access.app, name="access")
app.command("risk")(_risk.risk)
app.add_typer(_alerts.app, name="alerts")
app.command("vessel", epilog=_vessel.VESSEL_EPILOG)(_vessel.vessel)
app.command("serve", epilog=_serve.SERVE_EPILOG)(_serve.serve)
app.command("simulate", epilog=_simulate.EPILOG)(_simulate.simulate_command)
_sharing.register(app)  # agreement, source, export, relay
app.command("federate", epilog=_federate.FEDERATE_EPILOG)(_federate.federate)
app.add_typer(_logistics.app, name="logistics")


def main() -> None:
    """Console entry point."""
    app()
