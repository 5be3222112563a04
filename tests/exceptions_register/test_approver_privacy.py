"""The approver field tells nothing about who exists: an unknown address, another client's
owner, a member who is no owner and MSP staff all get one and the same answer, on the API and
on the form, and nothing is written."""

from __future__ import annotations

import pytest

from exceptions_register.models import RiskException
from exceptions_register.services import APPROVER_NOT_OWNER
from tenants.choices import TokenScope
from tests.exceptions_register.test_api_exceptions import URL, _payload
from tests.exceptions_register.test_views_register import BASE, _form
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db


def test_the_api_answers_the_same_for_unknown_and_not_an_owner_here(
    in_tenant_a, personas, make_token, api
):
    _, plaintext = make_token(TokenScope.WRITE, in_tenant_a)
    http = api(plaintext)
    asset = str(reported_asset().uuid)
    answers = {}
    for address in (
        "no-such-person@nowhere.test",  # nobody has it
        personas.owner_b.email,  # an owner, of another client
        personas.viewer_a.email,  # a member of this client, no owner
        personas.engineer.email,  # MSP staff
        personas.nobody.email,  # a user without any client
    ):
        response = http.post(
            URL, _payload(approver=address, assets=[asset]), content_type="application/json"
        )
        answers[address] = (response.status_code, response.json())
    assert all(
        status == 400 and body == {"approver": [APPROVER_NOT_OWNER]}
        for status, body in answers.values()
    ), answers
    assert RiskException.objects.count() == 0
    # The owner of this client, in any letter case, is accepted.
    response = http.post(
        URL,
        _payload(approver=personas.owner_a.email.upper(), assets=[asset]),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["approver"] == personas.owner_a.email


def test_the_form_answers_the_same_and_offers_only_this_clients_owners(
    in_tenant_a, personas, login
):
    asset = reported_asset()
    http = login(personas.engineer)
    page = http.get(BASE + "new/").content.decode()
    assert personas.owner_a.email in page
    assert personas.viewer_a.email not in page and personas.owner_b.email not in page
    messages = set()
    for user in (personas.owner_b, personas.viewer_a, personas.engineer, personas.nobody):
        response = http.post(BASE + "new/", _form(personas, asset, approver=user.pk))
        assert response.status_code == 400
        messages.add(tuple(response.context["form"].errors["approver"]))
    unknown = http.post(BASE + "new/", _form(personas, asset, approver=987654321))
    messages.add(tuple(unknown.context["form"].errors["approver"]))
    assert messages == {(APPROVER_NOT_OWNER,)}
    assert RiskException.objects.count() == 0
