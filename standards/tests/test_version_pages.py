"""The import page, the version comparison page and what the catalogue page shows of both."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from standards.importer import import_standards
from standards.models import KSB, Standard
from standards.tests.factories import standard_with_ksbs

DATA = Path(__file__).parent / "data"


def upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content if content is not None else (DATA / name).read_bytes())


@pytest.fixture
def st9901(db):
    import_standards((DATA / "ST9901-both-versions.json").read_bytes())
    return Standard.objects.get(reference="ST9901", version="1.0"), Standard.objects.get(
        reference="ST9901", version="1.1"
    )


# --- Import page ---------------------------------------------------------------------------------


def test_a_provider_admin_imports_a_standard_from_the_upload_page(client, provider_admin):
    client.force_login(provider_admin)
    assert client.get("/standards/import/").status_code == 200
    response = client.post("/standards/import/", {"file": upload("ST0248-v1.1.json")}, follow=True)
    standard = Standard.objects.get(reference="ST0248", version="1.1")
    assert response.redirect_chain == [("/standards/ST0248/1.1/", 302)]
    body = response.content.decode()
    assert "added with 22 knowledge, 19 skill and 8 behaviour statements and 11 duties" in body
    assert standard.duties.count() == 11


def test_uploading_a_list_of_standards_goes_to_the_catalogue(client, provider_admin):
    client.force_login(provider_admin)
    response = client.post("/standards/import/", {"file": upload("ST9901-both-versions.json")})
    assert response.status_code == 302 and response["Location"] == "/standards/"
    assert Standard.objects.filter(reference="ST9901").count() == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("refused-not-json.json", "The file is not JSON"),
        ("refused-missing-fields.json", "&quot;referenceNumber&quot; is missing"),
        ("refused-duplicate-ids.json", "is used twice, by K1 and S4"),
        ("refused-duty-maps-unknown-ksb.json", "which is not one of the standard&#x27;s KSBs"),
        ("refused-second-of-two.json", "Standard 2 in the list"),
    ],
)
def test_a_refused_file_is_explained_on_the_page_and_nothing_is_imported(client, provider_admin, name, message):
    client.force_login(provider_admin)
    response = client.post("/standards/import/", {"file": upload(name)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Standard.objects.count() == 0


def test_an_oversized_upload_is_refused_before_reading_it(client, provider_admin, monkeypatch):
    from standards.forms import StandardImportForm

    monkeypatch.setattr(StandardImportForm, "MAX_BYTES", 100)
    client.force_login(provider_admin)
    response = client.post("/standards/import/", {"file": upload("ST0248-v1.1.json")})
    assert "larger than 5 MB" in response.content.decode()
    assert Standard.objects.count() == 0


def test_posting_no_file_asks_for_one(client, provider_admin):
    client.force_login(provider_admin)
    response = client.post("/standards/import/", {})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "iqa"])
def test_only_provider_admins_import(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/standards/import/").status_code == 403
    assert client.post("/standards/import/", {"file": upload("ST0248-v1.1.json")}).status_code == 403
    assert Standard.objects.count() == 0


def test_import_page_needs_sign_in(client, db):
    response = client.get("/standards/import/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/")


def test_the_catalogue_offers_import_to_provider_admins_only(client, provider_admin, apprentice):
    client.force_login(provider_admin)
    assert 'href="/standards/import/"' in client.get("/standards/").content.decode()
    client.force_login(apprentice)
    assert 'href="/standards/import/"' not in client.get("/standards/").content.decode()


# --- Compare page --------------------------------------------------------------------------------


def test_compare_page_lists_added_removed_and_reworded_statements(client, apprentice, st9901):
    client.force_login(apprentice)
    response = client.get("/standards/ST9901/compare/1.0/1.1/")
    assert response.status_code == 200
    changes = response.context["changes"]
    assert [(p.old.code, p.new.code) for p in changes.reworded] == [("K4", "K3"), ("S2", "S2")]
    body = response.content.decode()
    assert "Statistical methods used to analyse, interpret and present scientific data." in body
    assert "Removed in 1.1" in body and "Added in 1.1" in body
    assert "Sustainable laboratory practice" in body
    assert "K3 → K2" in body  # same text, new code


@pytest.mark.parametrize("url", ["/standards/ST9901/compare/1.0/9.9/", "/standards/ST0000/compare/1.0/1.1/"])
def test_comparing_a_version_not_in_the_catalogue_is_404(client, apprentice, st9901, url):
    client.force_login(apprentice)
    assert client.get(url).status_code == 404


def test_compare_page_needs_sign_in(client, st9901):
    assert client.get("/standards/ST9901/compare/1.0/1.1/").status_code == 302


def test_compare_queries_do_not_grow_with_ksbs(client, apprentice, django_assert_max_num_queries):
    old = standard_with_ksbs(reference="ST0002", version="1.0", knowledge=120, skills=100, behaviours=30)
    new = standard_with_ksbs(reference="ST0002", version="1.1", knowledge=0, skills=0, behaviours=0)
    KSB.objects.bulk_create(
        KSB(standard=new, kind=k.kind, number=k.number, text=f"{k.text} revised") for k in old.ksbs.all()
    )
    client.force_login(apprentice)
    with django_assert_max_num_queries(6):
        response = client.get("/standards/ST0002/compare/1.0/1.1/")
    assert len(response.context["changes"].reworded) == 250


# --- The catalogue page --------------------------------------------------------------------------


def test_catalogue_page_links_other_versions_to_the_comparison(client, apprentice, st9901):
    client.force_login(apprentice)
    old_page = client.get("/standards/ST9901/1.0/").content.decode()
    assert 'href="/standards/ST9901/1.1/"' in old_page
    assert 'href="/standards/ST9901/compare/1.0/1.1/"' in old_page
    new_page = client.get("/standards/ST9901/1.1/").content.decode()
    assert 'href="/standards/ST9901/compare/1.0/1.1/"' in new_page


def test_catalogue_page_shows_duties_options_and_key_dates(client, apprentice, st9901):
    client.force_login(apprentice)
    response = client.get("/standards/ST9901/1.0/")
    body = response.content.decode()
    assert "Duties" in body
    assert "Carry out analytical tests on samples using calibrated instruments." in body
    assert "Analytical chemistry, Microbiology" in body
    assert 'href="#K3"' in body
    assert "No KSBs mapped" in body  # duty 4 maps none
    assert "from 1 April 2025" in body
    assert "£17000" in body


def test_catalogue_page_without_other_versions_offers_no_comparison(client, apprentice, st0220):
    client.force_login(apprentice)
    body = client.get("/standards/ST0220/1.0/").content.decode()
    assert "/compare/" not in body
    assert "Duties" not in body


def test_catalogue_queries_do_not_grow_with_duties(client, apprentice, django_assert_max_num_queries):
    import_standards((DATA / "ST0248-v1.1.json").read_bytes())
    client.force_login(apprentice)
    with django_assert_max_num_queries(10):
        response = client.get("/standards/ST0248/1.1/")
    assert len(response.context["duties"]) == 11
