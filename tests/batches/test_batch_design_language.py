"""The batch designer's refusals and the design's problems in the coordinator's language: the design
module (pure Python) names each problem by a key and its figures; the designer page, its API and batch
creation say it in English or Brazilian Portuguese."""

import re

import pytest
from django.utils import translation

from annotations.lib.batch_design import PROBLEM_TEXTS, DesignError, DesignRequest, Problem, design_batch
from annotations.models import ReviewBatch
from annotations.selectors.batches.wording import MESSAGES, design_error_text, problem_text
from tests.batches.test_batch_pages import api_spec, design_post
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db

PORTUGUESE = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}


def _sample_values(key: str) -> dict:
    """Figures for every named value of the English sentence: whole numbers, a mean with a fraction, and
    exam ids as the design module lists them."""
    values: dict = {}
    for name, spec in re.findall(r"\{([a-z_]+)(:[^}]*)?\}", PROBLEM_TEXTS[key]):
        values[name] = 2.75 if spec else ("[3, 5, 8]" if name == "exam_ids" else 17)
    return values


def test_every_problem_of_the_design_module_has_a_message_that_says_it_the_same_in_english():
    assert set(MESSAGES) == set(PROBLEM_TEXTS)
    with translation.override("en"):
        for key in PROBLEM_TEXTS:
            problem = Problem(key, _sample_values(key))
            assert problem_text(problem) == str(problem), key


def test_every_problem_is_said_in_portuguese_with_its_figures_and_the_decimal_comma():
    with translation.override("pt-br"):
        for key in PROBLEM_TEXTS:
            problem = Problem(key, _sample_values(key))
            said = problem_text(problem)
            assert said != str(problem), key
            for name, value in problem.values.items():
                assert (f"{value:.1f}".replace(".", ",") if name == "mean" else str(value)) in said, key


def test_a_refusal_of_the_design_module_keeps_its_english_sentence_and_is_said_in_portuguese():
    with pytest.raises(DesignError) as raised:
        design_batch(DesignRequest(exam_ids=[1, 2], reader_ids=[7, 8], readers_per_exam=3))
    assert str(raised.value) == "3 readers per exam were asked for but only 2 readers chosen"
    with translation.override("pt-br"):
        said = design_error_text(raised.value)
    assert said == "foram pedidos 3 leitores por exame, mas só 2 foram escolhidos"


@pytest.fixture
def archive():
    return ExamFactory.create_batch(12, dataset=DatasetFactory(name="archive"))


def test_a_portuguese_coordinator_reads_why_a_design_cannot_be_created_in_portuguese(
    client_for, diego, ana, bruno, tnmg, archive
):
    coordinator = client_for(diego)
    coordinator.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    form = design_post(tnmg, [ana, bruno], readers_per_exam=1, min_pair_overlap=2, action="create")
    page = coordinator.post("/batches/new/", form).content.decode()
    assert (
        "cada par de leitores deveria compartilhar ao menos 2 exames, mas o par que menos compartilha tem 0: "
        "com 12 exames, 2 leitores e 1 por exame, um par compartilha em média 0,0 exames; com um leitor por "
        "exame nenhum par compartilha um exame que não seja ouro: escolha mais leitores por exame ou menos "
        "leitores"
    ) in page
    assert "should share at least" not in page
    assert not ReviewBatch.objects.exists()


def test_the_api_refuses_a_design_in_the_language_asked_for(client_for, diego, ana, bruno, tnmg, archive):
    coordinator = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "API")

    def refused(path: str, **changes) -> str:
        answer = coordinator.post(path, {**spec, **changes}, content_type="application/json", **PORTUGUESE)
        assert answer.status_code == 400, answer.content
        return answer.json()["detail"]

    assert refused("/api/v1/batches/preview/", gold_fraction=0.5) == (
        "foram pedidos 6 exames-ouro, mas só 0 dos exames escolhidos têm rótulos de referência (ou um "
        "conjunto completo de rótulos de referência que não marca nada)"
    )
    assert refused("/api/v1/batches/preview/", readers_per_exam=3) == (
        "foram pedidos 3 leitores por exame, mas só 2 foram escolhidos"
    )
    assert refused("/api/v1/batches/", reader_ids=[diego.pk]) == "não são leitores: diego"
    assert refused("/api/v1/batches/preview/", criteria={"datasets": ["nowhere"]}) == (
        "nenhum exame atende aos critérios"
    )
    # Asked in English, the same refusals read as before.
    answer = coordinator.post(
        "/api/v1/batches/preview/", {**spec, "readers_per_exam": 3}, content_type="application/json"
    )
    assert answer.json()["detail"] == "3 readers per exam were asked for but only 2 readers chosen"
    assert not ReviewBatch.objects.exists()


def test_a_coordinator_chosen_as_a_reader_is_refused_in_portuguese(client_for, diego, ana, tnmg, archive):
    chief = UserFactory(username="chief", roles=["reader", "coordinator"])
    spec = api_spec(tnmg, [ana, chief], "API")
    answer = client_for(diego).post("/api/v1/batches/", spec, content_type="application/json", **PORTUGUESE)
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        "chief é coordenador: um coordenador vê os rótulos de todos os leitores, então não pode ler às "
        "cegas; retire primeiro o papel de coordenador ou escolha outro leitor"
    )


def test_the_exam_list_and_a_batchs_exam_table_refuse_a_bad_query_in_portuguese(
    client_for, diego, ana, bruno, tnmg, archive
):
    coordinator = client_for(diego)
    batch = batch_for(tnmg, diego, [ana, bruno], archive[:4], name="Tabela")

    def refused(path: str) -> str:
        answer = coordinator.get(path, **PORTUGUESE)
        assert answer.status_code == 400, answer.content
        return answer.json()["detail"]

    assert refused("/api/v1/exams/?acquired_from=28/11/2026") == (
        "acquired_from: “28/11/2026” não é uma data (AAAA-MM-DD)"
    )
    assert refused("/api/v1/exams/?sort=idade").startswith("sort: “idade” não é nenhum destes: ")
    assert refused("/api/v1/exams/?after=xyz") == (
        "o cursor de página não foi criado por esta lista; recomece da primeira página"
    )
    unknown = refused("/api/v1/exams/?pagina=2")
    assert unknown.startswith("parâmetro desconhecido pagina: a lista de exames aceita ")
    exams = f"/api/v1/batches/{batch.pk}/exams/"
    assert refused(f"{exams}?page_size=dez") == "page_size deve ser um número inteiro"
    assert refused(f"{exams}?page_size=0").startswith("o tamanho da página deve estar entre 1 e ")
    unknown_state = refused(f"{exams}?status=lido")
    assert unknown_state.startswith("situação de exame desconhecida “lido”; use uma destas: ")
    # In English, as before.
    answer = coordinator.get(f"{exams}?page_size=dez")
    assert answer.json()["detail"] == "page_size must be a whole number"


def test_stratifying_by_a_code_no_taxonomy_has_is_refused_in_portuguese(
    client_for, diego, ana, bruno, tnmg, archive
):
    strata = {"sample_size": 4, "stratify_provider": "modelo", "stratify_code": "XYZ"}
    spec = api_spec(tnmg, [ana, bruno], "Estratos", **strata)
    answer = client_for(diego).post(
        "/api/v1/batches/preview/", spec, content_type="application/json", **PORTUGUESE
    )
    assert answer.status_code == 400
    said = answer.json()["detail"]
    assert said == "nenhuma taxonomia tem um achado com o código “XYZ” pelo qual estratificar"
