"""The interface speaks Brazilian Portuguese: a complete catalogue, a compiled .mo that matches it, and pages
whose visible text really goes through it (the readers of the CODE-style networks are Brazilian)."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from annotations.models import ImportJob, Release
from tests.factories import batch_for
from tests.reading.helpers import queue, ref, shared_batch

LOCALE_DIR = Path(settings.BASE_DIR) / "annotations" / "locale" / "pt_BR" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


# --- A small .po reader (the standard library has none; polib is not a dependency) ---------------------
def _po_entries(text: str) -> list[dict]:
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}}
        current: list[str] | None = None
        obsolete = False
        for line in block.splitlines():
            if line.startswith("#~"):
                obsolete = True
            elif line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                current.append(line)
            else:
                keyword, _space, rest = line.partition(" ")
                current = [rest]
                match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
                if match:
                    entry["msgstr"][int(match.group(1))] = current
                elif keyword == "msgstr":
                    entry["msgstr"][0] = current
                else:
                    entry[keyword] = current
        if obsolete:
            continue
        for key in ("msgctxt", "msgid", "msgid_plural"):
            if entry[key] is not None:
                entry[key] = "".join(ast.literal_eval(part) for part in entry[key])
        entry["msgstr"] = {
            index: "".join(ast.literal_eval(part) for part in parts)
            for index, parts in entry["msgstr"].items()
        }
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return [entry for entry in _po_entries(PO_FILE.read_text(encoding="utf-8")) if entry["msgid"]]


def test_catalogue_is_complete_and_not_fuzzy(catalogue):
    assert len(catalogue) > 300
    untranslated = [e["msgid"] for e in catalogue if not e["msgstr"] or not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in catalogue if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []
    header = _po_entries(PO_FILE.read_text(encoding="utf-8"))[0]["msgstr"][0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header


def test_translations_keep_their_placeholders(catalogue):
    for entry in catalogue:
        wanted = sorted(PLACEHOLDER.findall(entry["msgid"] + (entry["msgid_plural"] or "")))
        for index, text in entry["msgstr"].items():
            got = sorted(PLACEHOLDER.findall(text))
            if entry["msgid_plural"] is None or index:
                assert got == wanted or set(got) == set(wanted), (entry["msgid"], text)
            else:  # a singular form may spell out the count ("uma classe")
                assert set(got) <= set(wanted), (entry["msgid"], text)


def test_a_statement_has_one_name_and_it_is_achado(catalogue):
    """What a reader picks from the taxonomy is an achado, a finding on the tracing, in every message. A
    "laudo" is the whole signed report: "Buscar laudos" or "Seus laudos" told a Brazilian cardiologist they
    were searching reports, and three other words for the same thing made it look like three things."""
    for entry in catalogue:
        if not re.search(r"\bstatements?\b", entry["msgid"] + (entry["msgid_plural"] or ""), re.I):
            continue
        for text in entry["msgstr"].values():
            assert re.search(r"\bachados?\b", text, re.I), (entry["msgid"], text)
            assert not re.search(r"laudo|afirmaç|enunciado|declaraç", text, re.I), (entry["msgid"], text)


def test_compiled_catalogue_matches_the_po(catalogue):
    """The .mo that ships is the compilation of the .po beside it (mtimes mean nothing after a checkout, so
    compare contents): same messages, same translations."""
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    mo = compiled._catalog  # msgid -> msgstr; (msgid, n) -> plural form n
    for entry in catalogue:
        key = entry["msgid"] if entry["msgctxt"] is None else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if entry["msgid_plural"] is None:
            assert mo.get(key) == entry["msgstr"][0], entry["msgid"]
        else:
            for index, text in entry["msgstr"].items():
                assert mo.get((key, index)) == text, entry["msgid"]
    assert len([k for k in mo if k != "" and not isinstance(k, tuple)]) + len(
        {k[0] for k in mo if isinstance(k, tuple)}
    ) == len(catalogue)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext is not installed")
def test_po_passes_msgfmt_check(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "out.mo"), str(PO_FILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- Rendered pages ------------------------------------------------------------------------------------
class _Visible(HTMLParser):
    """Text nodes and the attributes people read (title, placeholder, aria-label), outside scripts and
    outside what the page marks as data kept as recorded (translate="no": an audit row's values)."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style") or (tag == "span" and ("translate", "no") in attrs):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag):
        # A translate="no" span holds text only, never a nested span, so any closing span ends it.
        if tag in ("script", "style", "span") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _visible(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return parser.texts


@pytest.fixture
def study(ana, bruno, carla, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    job = ImportJob.objects.create(coordinator=diego, dataset_name="code15-sample", status="running")
    release = Release.objects.create(
        name="first", coordinator=diego, taxonomy=tnmg, software_version="test", status="done"
    )
    release.batches.add(batch)
    return {"batch": batch, "job": job, "release": release, "assignment": queue(batch, ana)[0]}


def _pages(study):
    batch, assignment = study["batch"].pk, study["assignment"].pk
    return {
        "ana": [
            ("/", ["Suas leituras", "Lote", "Restantes", "Continuar"], ["Your reading", "Remaining"]),
            (
                f"/read/{ref(assignment)}/",
                [
                    "Enviar e próximo",
                    "Atalhos de teclado",
                    "Pular este exame",
                    "Diagnósticos",
                    "Percorrer os achados",
                    "12,5",
                    "Espaço",
                ],
                ["Submit and next", "Keyboard shortcuts", "Skip this exam", "Diagnoses", "12.5"],
            ),
            (
                f"/read/{ref(assignment)}/print/",
                ["Imprima em 100% (sem ajustar à página)"],
                ["Print at 100%", "For your own use only."],
            ),
            ("/taxonomies/", ["Taxonomias diagnósticas", "Versão"], ["Diagnostic taxonomies"]),
        ],
        "carla": [
            ("/adjudication/", ["Adjudicação", "Nada a adjudicar."], ["Nothing to adjudicate."]),
        ],
        "diego": [
            ("/", ["Lotes de revisão", "Leituras feitas"], ["Review batches", "Reads done"]),
            ("/exams/", ["Base de dados", "Duração (s)", "Filtrar"], ["Duration (s)", "Dataset"]),
            ("/batches/", ["Planejar um lote", "Leitores por exame"], ["Design a batch", "Readers per exam"]),
            (
                "/batches/new/",
                [
                    "Planejar um lote de revisão",
                    "Modo de sugestão",
                    "Controles de qualidade",
                    "Semente",
                    "Amostragem",
                    "Estratificar pelo escore do modelo",
                    "nenhuma: amostra aleatória simples",
                ],
                [
                    "Design a review batch",
                    "Suggestion mode",
                    "Quality controls",
                    "Sample size",
                    "Seed",
                    "Sampling",
                ],
            ),
            (
                f"/batches/{batch}/",
                ["Cobertura", "exames com leitura completa", "Redistribuir", "Sugestões do modelo"],
                ["Coverage", "exams fully read", "Reassign", "Close the batch", "Model suggestions"],
            ),
            (
                f"/batches/{batch}/agreement/",
                ["Concordância", "Recalcular agora"],
                ["has not been computed", "Recompute now"],
            ),
            (
                f"/batches/{batch}/evidence/",
                ["Evidências das sugestões", "Concordância de cada provedor com o consenso"],
                ["Suggestion evidence", "Agreement of each provider"],
            ),
            (
                "/imports/",
                ["Importar exames", "Arquivos", "Detectar pelo conteúdo", "Escala de amplitude"],
                ["Import exams", "Detect from content", "Recent imports", "Files"],
            ),
            (
                f"/imports/{study['job'].pk}/",
                ["Em execução", "arquivos recusados", "Todas as importações"],
                ["Running", "files refused", "All imports"],
            ),
            (
                "/releases/",
                ["Publicações de rótulos", "Criar publicação", "Incluir traçados (HDF5)"],
                ["Label releases", "Create release", "Include tracings"],
            ),
            (
                f"/releases/{study['release'].pk}/",
                ["Publicação", "Concluído", "Todas as publicações"],
                ["All releases", "Not built yet."],
            ),
            (
                "/audit/",
                ["Trilha de auditoria", "Baixar CSV", "Tipo de alvo", "Desde"],
                ["Audit trail", "Download CSV", "Target type", "Since"],
            ),
        ],
    }


@pytest.fixture(scope="module")
def english_msgids(catalogue) -> set[str]:
    """Catalogue messages whose Portuguese differs: none may reach a Portuguese page untranslated."""
    return {
        # Templates double a literal percent sign in the msgid; the page shows it single.
        e["msgid"].replace("%%", "%")
        for e in catalogue
        if e["msgid_plural"] is None and e["msgstr"][0] != e["msgid"] and not PLACEHOLDER.search(e["msgid"])
    }


def test_pages_render_in_portuguese(client, study, english_msgids, ana, carla, diego):
    personas = {"ana": ana, "carla": carla, "diego": diego}
    for persona, pages in _pages(study).items():
        client.force_login(personas[persona])
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
        for url, portuguese, english in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            html = response.getvalue().decode()
            assert '<html lang="pt-br">' in html, url
            texts = _visible(html)
            visible = "\n".join(texts)
            for phrase in portuguese:
                assert phrase in visible, (url, phrase)
            for phrase in english:
                assert phrase not in visible, (url, phrase)
            # The navigation and the language switch are the same everywhere.
            assert "Sair" in visible and "Mudar idioma" in visible, url
            leaked = sorted({text for text in texts if text in english_msgids})
            assert leaked == [], (url, leaked)


def test_english_stays_the_default(client, study, diego):
    client.force_login(diego)
    html = client.get(f"/batches/{study['batch'].pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Close the batch" in html and "Encerrar o lote" not in html
    assert "0 of 4 reads done; 0 skipped." in html


def test_accept_language_header_selects_portuguese(client, study, diego):
    client.force_login(diego)
    html = client.get("/batches/new/", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5").content.decode()
    assert "Planejar um lote de revisão" in html


def test_login_page_in_portuguese(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    html = client.get("/accounts/login/").content.decode()
    assert "Entrar" in html and "Senha" in html and "Password" not in html


def test_page_scripts_get_their_words_from_the_page(client, study, diego):
    """The dashboard scripts rewrite text every minute; they take the translated wording from the page."""
    client.force_login(diego)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    batch = client.get(f"/batches/{study['batch'].pk}/").content.decode()
    assert (
        'data-template="{done} de {total} exames com leitura completa; {reads} de {all} leituras feitas; '
        'puladas: {skipped}."' in batch
    )
    assert 'data-axis="leituras"' in batch
    job = client.get(f"/imports/{study['job'].pk}/").content.decode()
    assert '<span data-status="done">Concluído</span>' in job


def test_the_agreement_figures_stored_words_read_in_portuguese(client, diego, carla, tnmg):
    """The consensus methods, the reasons a label went to adjudication, the batch's rule and the readers'
    pseudonyms are stored in English by the worker; a Portuguese page names them in Portuguese."""
    from annotations.services.agreement.compute import batch_agreement_compute
    from tests.adjudication.test_adjudication import read
    from tests.factories import UserFactory, make_exam

    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("um", "dois"))
    exams = [make_exam(seed=i) for i in range(3)]
    batch = batch_for(tnmg, diego, [one, two], exams, name="Lote", gold_exams=[], retest_fraction=0)
    for exam in exams:
        read(one, batch, exam, ["SB", "1dAVb"])
        read(two, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    page = "\n".join(_visible(client.get(f"/batches/{batch.pk}/agreement/").content.decode()))
    assert "Unânime 3" in page and "Empate entre leitores 3" in page and "regra: maioria" in page
    for english in ("unanimous", "tie 3", "majority"):
        assert english not in page, english
    client.force_login(carla)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    case = "\n".join(_visible(client.get(f"/adjudication/{batch.pk}/{exams[0].pk}/").content.decode()))
    assert "Empate entre leitores" in case and "Leitor A" in case
