"""The console's responsibility page (``/responsibility``) over HTTP on SQLite and
PostgreSQL: the matrix and the resources that need attention are what
``GET /api/v1/responsibility`` answers, the kind filter and the "all resources" toggle, the
import sources, the empty state, roles and escaping."""

from __future__ import annotations

import html as markup
import re
from typing import Any

from console_helpers import metric, signed_in
from fleet_helpers import Api

from patchwarden.server.web.render import when

ACCOUNT = "123456789012"
SOURCE = f"aws:{ACCOUNT}:eu-west-1"
OLD_LAMBDA = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:legacy-export"
NEW_LAMBDA = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:thumbnails"
RDS_ARN = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:orders"
SCRIPT = "<script>alert(1)</script>"
ATTENTION = ("NON_COMPLIANT", "INSUFFICIENT_DATA")
SHORT = {"NON_COMPLIANT": "FAIL", "INSUFFICIENT_DATA": "no data", "COMPLIANT": "ok"}


def lam(arn: str, runtime: str, name: str = "") -> dict[str, Any]:
    return {
        "resource_id": arn,
        "resource_type": "AWS::Lambda::Function",
        "name": name or arn.rsplit(":", 1)[1],
        "attributes": {"runtime": runtime, "package_type": "Zip"},
    }


RDS = {
    "resource_id": RDS_ARN,
    "resource_type": "AWS::RDS::DBInstance",
    "name": "orders",
    "attributes": {
        "engine": "postgres",
        "engine_version": "15.4",
        "auto_minor_version_upgrade": True,
        "upgrade_targets": [{"version": "15.5", "major": False}],
        "pending_maintenance": [],
    },
}
RESOURCES = [lam(OLD_LAMBDA, "python3.9"), lam(NEW_LAMBDA, "python3.13", SCRIPT), RDS]


def seed(api: Api) -> str:
    """A node (not scanned yet) and three imported resources; the node's id."""
    node = api.register(tags={"Name": "web-1"})
    api.ok("PUT", f"/api/v1/resources/sources/{SOURCE}", json={"resources": RESOURCES})
    return node.id


def answer(api: Api) -> dict[str, Any]:
    found: dict[str, Any] = api.ok("GET", "/api/v1/responsibility", api.token("viewer"))
    return found


def attr(html: str, name: str, value: str) -> str:
    """The text of the element marked ``name="value"`` (tags stripped, unescaped)."""
    found = re.search(rf'{name}="{re.escape(value)}">(.*?)</span>', html, re.S)
    assert found, (name, value)
    return markup.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def expected_cell(layer: dict[str, Any], resources: int) -> str:
    """What the page says of a layer, from the API's numbers."""
    if not layer["checks"]:
        return "—"
    if not resources:
        return "no resources"
    for state in ATTENTION:
        if layer["states"].get(state):
            return f"{SHORT[state]} {layer['states'][state]}/{resources}"
    return next((SHORT[s] for s in SHORT if layer["states"].get(s)), "—")


def shown(html: str) -> list[str]:
    """The resource ids of the attention table's rows (in order, one per verdict)."""
    return [markup.unescape(r) for r in re.findall(r'<tr data-resource="([^"]+)"', html)]


def error_line(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]+)</p>', html)
    assert found, html
    return markup.unescape(found.group(1))


def test_without_resources_the_page_says_what_to_do(api: Api) -> None:
    client = signed_in(api)
    r = client.get("/responsibility")
    assert r.status_code == 200
    html = r.text
    assert 'aria-current="page">Responsibility' in html
    assert "register nodes, build images, or run <code>patchwarden aws import</code>" in html
    for kind in answer(api)["kinds"]:
        assert metric(html, f"kind-{kind['kind']}-resources") == 0
        for layer in kind["layers"]:
            assert attr(html, "data-owner", f"{kind['kind']}-{layer['layer']}") == layer["owner"]
    assert "Nothing imported yet" in html
    # no session: the sign-in page, coming back here
    client.cookies.clear()
    away = client.get("/responsibility?kind=host", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith(
        "/login?next=/responsibility"
    )


def test_the_matrix_and_the_attention_list_are_the_apis(api: Api) -> None:
    node_id = seed(api)
    data = answer(api)
    html = signed_in(api, "viewer").get("/responsibility").text
    for kind in data["kinds"]:
        name = kind["kind"]
        assert metric(html, f"kind-{name}-resources") == kind["resources"]
        for layer in kind["layers"]:
            key = f"{name}-{layer['layer']}"
            assert attr(html, "data-owner", key) == layer["owner"]
            assert attr(html, "data-layer-state", key) == expected_cell(layer, kind["resources"])
    cells = {k["kind"]: k for k in data["kinds"]}
    assert cells["serverless-function"]["resources"] == 2
    assert attr(html, "data-layer-state", "serverless-function-runtime") == "FAIL 1/2"
    assert attr(html, "data-owner", "managed-database-os") == "provider"
    assert "(engine)" in html and "(base image)" in html  # the runtime layer's own names

    needing = [r for r in data["resources"] if r["state"] in ATTENTION]
    assert metric(html, "attention") == len(needing)
    assert metric(html, "listed") == len(data["resources"])
    assert {r["resource_id"] for r in needing} == set(shown(html))
    assert OLD_LAMBDA in shown(html) and NEW_LAMBDA not in shown(html)
    assert node_id in shown(html)  # registered, never scanned: no data
    node = next(r for r in data["resources"] if r["resource_id"] == node_id)
    assert node["name"] == "web-1"
    assert f'<a href="/nodes/{node_id}">{node["name"] or node_id}</a>' in html
    assert "python3.9 deprecated since" in html
    old = next(r for r in data["resources"] if r["resource_id"] == OLD_LAMBDA)
    (check,) = next(x for x in old["layers"] if x["layer"] == "runtime")["checks"]
    assert f'data-rule="{check["rule"]}" data-state="NON_COMPLIANT"' in html
    assert markup.escape(check["annotation"], quote=False) in html

    # the import source, its count and time
    (source,) = data["sources"]
    assert metric(html, f"source-{SOURCE}") == source["resources"] == 3
    assert when(source["imported_at"]) in html


def test_the_kind_filter_and_the_all_toggle(api: Api) -> None:
    node_id = seed(api)
    client = signed_in(api)
    html = client.get("/responsibility", params={"kind": "serverless-function"}).text
    assert set(shown(html)) == {OLD_LAMBDA}
    assert metric(html, "listed") == 2 and metric(html, "attention") == 1
    assert '<option value="serverless-function" selected>' in html
    every = client.get("/responsibility", params={"kind": "serverless-function", "all": "1"})
    assert every.status_code == 200
    assert set(shown(every.text)) == {OLD_LAMBDA, NEW_LAMBDA}
    assert 'id="f-all" name="all" type="checkbox" value="1" checked' in every.text
    everything = client.get("/responsibility", params={"all": "1"}).text
    assert set(shown(everything)) == {node_id, OLD_LAMBDA, NEW_LAMBDA, RDS_ARN}

    # a kind with resources and nothing to look at
    db = client.get("/responsibility", params={"kind": "managed-database"}).text
    data = answer(api)
    rds = next(r for r in data["resources"] if r["resource_id"] == RDS_ARN)
    assert (RDS_ARN in shown(db)) == (rds["state"] in ATTENTION)
    assert metric(db, "listed") == 1

    # values the page does not know: one line, 400, never a 500
    bad = client.get("/responsibility", params={"kind": "nonsense"})
    assert bad.status_code == 400 and "kind: must be one of" in error_line(bad.text)
    assert shown(bad.text) == []
    toggle = client.get("/responsibility", params={"all": "maybe"})
    assert toggle.status_code == 400 and "all:" in error_line(toggle.text)
    hostile = client.get("/responsibility", params={"kind": SCRIPT})
    assert hostile.status_code == 400 and SCRIPT not in hostile.text


def test_names_are_escaped_and_every_role_sees_the_page(api: Api) -> None:
    seed(api)
    for role in ("viewer", "operator", "admin"):
        r = signed_in(api, role).get("/responsibility", params={"all": "1"})
        assert r.status_code == 200, role
        assert '<a href="/responsibility">Responsibility</a>' not in r.text  # marked current
        assert 'href="/responsibility" aria-current="page"' in r.text
        assert SCRIPT not in r.text
        assert markup.escape(SCRIPT) in r.text  # the Lambda's name, shown as text
