"""The `lbs` command: serve, migrate, import, demo data, tokens, reports; plug-ins (such as the
benchmarks, `pip install .[bench]`) add theirs through the `lbs.commands` entry point."""

from collections.abc import Callable
from importlib.metadata import entry_points

import typer

from lbs_service.cli import demo, importing, reports, serving, tokens
from lbs_service.cli.common import fail


def _group(help_text: str) -> typer.Typer:
    # Plain help (no Rich panels): flags show as flags, with the help every option carries.
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


app = _group("LBS O2O service: store finder and proximity push.")
db_app = _group("Database schema.")
import_app = _group("Import data files.")
token_app = _group("Print signed bearer tokens.")
report_app = _group("Reports for operators and merchants.")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(token_app, name="token")
app.add_typer(report_app, name="report")

app.command("serve")(serving.serve)
db_app.command("upgrade")(serving.db_upgrade)
import_app.command("stores")(importing.import_stores)
import_app.command("boundaries")(importing.import_boundaries)
app.command("demo")(demo.demo)
token_app.command("user")(tokens.token_user)
token_app.command("staff")(tokens.token_staff)
token_app.command("merchant")(tokens.token_merchant)
token_app.command("operator")(tokens.token_operator)
report_app.command("rebates")(reports.report_rebates)
report_app.command("stocking")(reports.report_stocking)
app.command("coverage")(reports.coverage_export)

def _unavailable(message: str) -> Callable[[], None]:
    def command() -> None:
        fail(message)

    return command


for plugin in entry_points(group="lbs.commands"):
    try:
        app.add_typer(plugin.load(), name=plugin.name)
    except ImportError as error:  # its extra is not installed: say how to get it, do not break `lbs`
        hint = f"`lbs {plugin.name}` needs `pip install .[{plugin.name}]` ({error.name} is missing)"
        app.command(plugin.name, help=hint)(_unavailable(hint))
