"""The catalogue pages: readable by anyone signed in, nobody else."""

import pytest

from standards.tests.factories import standard_with_ksbs


def test_catalogue_needs_sign_in(client, st0220):
    response = client.get("/standards/ST0220/1.0/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/?next=")


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "provider_admin", "iqa", "outsider"])
def test_every_signed_in_person_reads_the_catalogue(client, st0220, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/standards/ST0220/1.0/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Healthcare science associate" in body
    assert [label for label, _ in response.context["groups"]] == ["Knowledge", "Skill", "Behaviour"]
    assert [len(ksbs) for _, ksbs in response.context["groups"]] == [34, 30, 1]
    assert "analyse/interpret/record/present accurately HCS technical data" in body
    assert "CertHE Healthcare Science Associate (Level 4)" in body


def test_search_box_narrows_the_list(client, apprentice, st0220):
    client.force_login(apprentice)
    response = client.get("/standards/ST0220/1.0/", {"q": "confidentiality"})
    codes = [ksb.code for _, ksbs in response.context["groups"] for ksb in ksbs]
    assert codes == ["K27", "K28", "S23"]
    assert "match “confidentiality”" in response.content.decode()


def test_search_by_code(client, apprentice, st0220):
    client.force_login(apprentice)
    response = client.get("/standards/ST0220/1.0/", {"q": "k12"})
    assert [ksb.code for _, ksbs in response.context["groups"] for ksb in ksbs] == ["K12"]


def test_search_with_no_match_says_so(client, apprentice, st0220):
    client.force_login(apprentice)
    response = client.get("/standards/ST0220/1.0/", {"q": "quantum chromodynamics"})
    assert response.status_code == 200
    assert "No KSBs match" in response.content.decode()


def test_too_long_search_is_refused_with_the_whole_list(client, apprentice, st0220):
    client.force_login(apprentice)
    response = client.get("/standards/ST0220/1.0/", {"q": "x" * 500})
    assert response.status_code == 200
    assert "at most 200 characters" in response.content.decode()


def test_unknown_standard_is_404(client, apprentice, st0220):
    client.force_login(apprentice)
    assert client.get("/standards/ST9999/1.0/").status_code == 404
    assert client.get("/standards/ST0220/9.9/").status_code == 404


def test_standard_list_links_each_version(client, apprentice, st0220):
    client.force_login(apprentice)
    response = client.get("/standards/")
    body = response.content.decode()
    assert 'href="/standards/ST0220/1.0/"' in body
    assert "65 KSBs" in body


def test_catalogue_queries_do_not_grow_with_ksbs(client, apprentice, django_assert_max_num_queries):
    standard_with_ksbs(reference="ST0001", knowledge=150, skills=150, behaviours=50)
    client.force_login(apprentice)
    with django_assert_max_num_queries(8):
        response = client.get("/standards/ST0001/1.0/")
    assert sum(len(ksbs) for _, ksbs in response.context["groups"]) == 350


def test_standard_list_queries_do_not_grow_with_standards(client, apprentice, django_assert_max_num_queries):
    for n in range(30):
        standard_with_ksbs(reference=f"ST01{n:02d}", knowledge=2, skills=1, behaviours=1)
    client.force_login(apprentice)
    with django_assert_max_num_queries(6):
        response = client.get("/standards/")
    assert response.content.decode().count("4 KSBs") == 30
