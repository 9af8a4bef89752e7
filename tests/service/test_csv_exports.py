"""Every CSV the service writes neutralises cells a spreadsheet would run (=, +, -, @, tab, CR), writes
booleans as true/false, and only csv_export.py writes CSV at all (so a new export cannot forget)."""

import ast
import csv
import io
from pathlib import Path

from lbs_service.csv_export import safe_cell
from tests.clock import T0
from tests.conftest import client_for, operator_headers
from tests.live import token

ATTACKS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tTAB", "\rCR"]
SERVICE = Path(__file__).resolve().parents[2] / "lbs_service"


def test_only_the_csv_module_writes_csv():
    writers = []
    for path in SERVICE.rglob("*.py"):
        if path.name == "csv_export.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "csv" and (
                    node.attr in ("writer", "DictWriter")):
                writers.append(f"{path.relative_to(SERVICE)}:{node.lineno}")
    assert writers == []


def test_cells_are_neutralised_and_booleans_are_words():
    assert [safe_cell(a)[0] for a in ATTACKS] == ["'"] * len(ATTACKS)
    assert safe_cell(True) == "true" and safe_cell(False) == "false" and safe_cell(None) == ""
    assert safe_cell(-5) == -5 and safe_cell("Café 5") == "Café 5"


def test_rebates_csv_over_http_and_the_command_line(sqlite_settings, tmp_path):
    from tests.importer.test_import import lbs

    with client_for(sqlite_settings) as client:
        op = operator_headers(sqlite_settings)
        store_ids = []
        for n, name in enumerate(ATTACKS):
            store_ids.append(int(client.post("/v1/stores", headers=op, json={
                "source_id": f"X{n}", "name": name, "lat": 32.0 + n / 1000, "lng": 118.0}).json()["id"]))
        merchant = client.get(f"/v1/stores/{store_ids[0]}").json()["properties"]["merchant_id"]
        sku = client.post("/v1/skus", headers=op, json={"merchant_id": merchant, "code": "S", "name": "=1+1",
                                                        "price_cents": 100}).json()
        user = {"Authorization": f"Bearer {token(sqlite_settings, 'user', 'buyer')}"}
        for store_id in store_ids:
            client.put(f"/v1/stores/{store_id}/stock/{sku['id']}", headers=op, json={"quantity": 1})
            placed = client.post("/v1/orders", headers=user, json={"store_id": store_id,
                                                                   "lines": [{"sku_id": sku["id"], "quantity": 1}]})
            client.post(f"/v1/payments/simulated/{placed.json()['payment']['ref']}/pay", headers=user)
            staff = {"Authorization": f"Bearer {token(sqlite_settings, 'staff', 's', store_id)}"}
            client.post(f"/v1/orders/{placed.json()['id']}/ready", headers=staff)
            client.post(f"/v1/stores/{store_id}/pickups", headers=staff, json={"code": placed.json()["pickup_code"]})
        month = T0.strftime("%Y-%m")
        over_http = client.get("/v1/reports/rebates", params={"month": month, "format": "csv"}, headers=op).text
    out = tmp_path / "rebates.csv"
    assert lbs(sqlite_settings, "report", "rebates", "--month", month, "--csv", str(out)).returncode == 0
    for text in (over_http, out.read_text(encoding="utf-8")):
        names = [row["name"].replace("\n", "\r") for row in csv.DictReader(io.StringIO(text, newline=""))]
        assert sorted(names) == sorted("'" + a for a in ATTACKS)  # every one shown as text


def test_coverage_csv_writes_booleans_as_words(sqlite_settings):
    with client_for(sqlite_settings) as client:
        op = operator_headers(sqlite_settings)
        client.post("/v1/stores", headers=op, json={"source_id": "C", "name": "c", "lat": 32.05, "lng": 118.78})
        text = client.get("/v1/coverage", headers=op, params={"bbox": "118.77,32.04,118.79,32.06", "res": 8,
                                                              "format": "csv"}).text
    covered = {row["covered"] for row in csv.DictReader(io.StringIO(text))}
    assert covered <= {"true", "false"} and covered


def test_import_rejects_echo_cells_without_running_them(sqlite_settings, tmp_path):
    from tests.importer.test_import import lbs

    source = tmp_path / "stores.csv"
    source.write_text('id,name,lat,lng\n1,"=HYPERLINK(""x"")",,118\n', encoding="utf-8")
    assert lbs(sqlite_settings, "import", "stores", str(source)).returncode == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "stores.csv.rejects.csv").read_text(encoding="utf-8"))))
    assert rows[0]["name"].startswith("'=")
