"""A Portuguese coordinator reads the people page's and the releases' refusals in Portuguese, and an
English one reads them as before."""

import pytest

from annotations.api.users import ROLE_NAMES
from tests.factories import DatasetFactory, ExamFactory, batch_for

pytestmark = pytest.mark.django_db

PORTUGUESE = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}


def test_a_coordinator_changing_their_own_roles_is_refused_in_portuguese(client_for, diego):
    client = client_for(diego)
    client.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    page = client.post(f"/people/{diego.pk}/roles/", {"roles": ["reader"]}, follow=True).content.decode()
    assert "ninguém altera os próprios papéis" in page
    assert "nobody changes their own" not in page


def test_a_release_of_batches_sharing_an_exam_is_refused_in_the_language_asked_for(
    client_for, diego, ana, bruno, tnmg
):
    exams = ExamFactory.create_batch(3, dataset=DatasetFactory(name="site"))
    first, second = (
        batch_for(
            tnmg,
            diego,
            [ana, bruno],
            exams,
            name=name,
            exclude_seen=False,
            independence_off_reason="the same readers read the same exams twice",
        )
        for name in ("A", "B")
    )
    client = client_for(diego)
    body = {"batches": [first.pk, second.pk], "hdf5": False}
    answer = client.post("/api/v1/releases/", body, content_type="application/json", **PORTUGUESE)
    assert answer.status_code == 400, answer.content
    said = answer.json()["detail"]
    assert said.startswith("o exame ") and said.endswith(" está em mais de um desses lotes"), said
    answer = client.post("/api/v1/releases/", body, content_type="application/json")
    assert answer.json()["detail"].endswith(" is in more than one of these batches")


def test_the_people_api_the_audit_list_and_an_adjudication_case_answer_in_portuguese(
    client_for, diego, carla, tnmg
):
    coordinator = client_for(diego)
    answer = coordinator.get("/api/v1/users/?role=chefe", **PORTUGUESE)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "o papel deve ser um destes: " + ", ".join(ROLE_NAMES)
    coordinator.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    page = coordinator.get("/audit/?older=ontem").content.decode()
    assert "o cursor de página não foi criado por esta lista; recomece do mais recente" in page
    # An adjudicator asking for a case that is not one gets the same 404 as for one they may not see.
    answer = client_for(carla).get("/api/v1/adjudication/999/999/", **PORTUGUESE)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "nada a adjudicar aqui"


def test_an_unknown_field_of_a_request_is_named_in_portuguese(client_for, diego, ana, tnmg):
    spec = {
        "name": "x",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "datasets": ["site"],
        "colour": "red",
    }
    answer = client_for(diego).post(
        "/api/v1/batches/preview/", spec, content_type="application/json", **PORTUGUESE
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["datasets"] == ['não é um campo daqui: ele fica dentro de "criteria"']
    assert body["colour"][0].startswith("não é um campo deste pedido; os campos são: ")


def test_a_reader_deactivated_while_signed_in_is_told_so_in_portuguese(client_for, diego, ana):
    from django.test import Client

    reader = Client()
    reader.force_login(ana)
    assert client_for(diego).post(f"/people/{ana.pk}/active/", {"active": "0"}).status_code == 302
    refused = reader.get("/api/v1/reading/next/", **PORTUGUESE)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Esta conta foi desativada; um coordenador pode reativá-la."}
