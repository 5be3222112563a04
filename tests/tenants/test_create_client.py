import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from inventory.models import Site
from tenants.models import Client, Domain
from tests.mfa import sign_in

pytestmark = pytest.mark.django_db


def test_create_client_creates_schema_domain_and_routes(http, personas):
    call_command(
        "create_client",
        "mercy-hospital",
        "--name",
        "Mercy Hospital",
        "--timezone",
        "Europe/Berlin",
        "--hipaa",
    )
    client = Client.objects.get(slug="mercy-hospital")
    assert client.schema_name == "c_mercy_hospital"
    assert client.timezone == "Europe/Berlin" and client.is_hipaa
    assert schema_exists("c_mercy_hospital")
    assert Domain.objects.get(tenant=client).domain == "mercy-hospital"
    # The cloned schema holds the tenant tables, empty.
    with tenant_context(client):
        assert Site.objects.count() == 0
    sign_in(http, personas.engineer)
    assert http.get("/clients/mercy-hospital/").status_code == 200


@pytest.mark.parametrize(
    ("slug", "options", "message"),
    [
        ("public", [], "reserved"),
        ("tenant-a", [], "already exists"),
        ("Bad_Slug", [], "lower-case letters"),
        ("a", [], "3 to 48 characters"),
        ("ends-with-", [], "not ending with a hyphen"),
        ("good-slug", ["--timezone", "Mars/Olympus"], "not an IANA time zone"),
    ],
)
def test_create_client_bad_input_is_a_clear_error_and_creates_nothing(slug, options, message):
    clients_before = Client.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.schemata")
        schemas_before = cursor.fetchone()[0]
    with pytest.raises(CommandError, match=message):
        call_command("create_client", slug, "--name", "Someone", *options)
    assert Client.objects.count() == clients_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.schemata")
        assert cursor.fetchone()[0] == schemas_before


def test_create_client_requires_a_name():
    with pytest.raises(CommandError, match="name"):
        call_command("create_client", "nameless-co", "--name", "   ")
    assert not Client.objects.filter(slug="nameless-co").exists()


def test_create_client_from_the_admin(login, personas):
    http = login(personas.msp_admin)
    response = http.post(
        "/admin/tenants/client/add/",
        {"slug": "lakeside-vet", "name": "Lakeside Vet", "timezone": "America/Denver"},
    )
    assert response.status_code == 302, response.content
    client = Client.objects.get(slug="lakeside-vet")
    assert schema_exists(client.schema_name)
    assert Domain.objects.filter(tenant=client, domain="lakeside-vet").exists()


def test_admin_refuses_a_duplicate_slug(login, personas):
    http = login(personas.msp_admin)
    response = http.post(
        "/admin/tenants/client/add/", {"slug": "tenant-a", "name": "Dup", "timezone": "UTC"}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Client.objects.filter(slug="tenant-a").count() == 1
