"""The coverage drawings built in Python: the same markup as the template loops they replaced, escaped."""

from django.template import engines

from reviews.progress import progress_of
from reviews.templatetags.coverage_cells import coverage_grid_cells, heatmap_counts, heatmap_strip, sign_off_links
from reviews.tests.helpers import accepted, signed_off

# The template loops the tags replaced, kept here as the reference for their markup.
STRIP_LOOP = (
    '{% for _, cells in coverage.by_kind %}<span class="heatmap-group">{% for cell in cells %}'
    '<span class="heatmap-cell coverage-{{ cell.state.css }}" role="img" '
    'title="{{ cell.ksb.code }}: {{ cell.summary }}">'
    "</span>{% endfor %}</span>{% endfor %}"
)
COUNTS_LOOP = (
    "{% for state, count in coverage.totals %}{% if count %}"
    '<span class="me-2">{{ count }} {{ state.label|lower }}</span>{% endif %}{% endfor %}'
)
SIGN_OFF_LOOP = (
    '{% for cell in cells %}<a class="badge coverage-accepted text-decoration-none me-1" '
    "href=\"{% url 'reviews:ksb' coverage.apprenticeship.pk cell.ksb.code %}\">{{ cell.ksb.code }}</a>{% endfor %}"
)


def render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


def test_the_heatmap_strip_and_counts_are_the_markup_the_template_drew(apprenticeship):
    signed_off(apprenticeship, "K1")
    accepted(apprenticeship, codes=("S2", "B1"))
    coverage = progress_of(apprenticeship, drafts=False)
    assert heatmap_strip(coverage) == render(STRIP_LOOP, coverage=coverage)
    assert heatmap_counts(coverage) == render(COUNTS_LOOP, coverage=coverage)
    assert 'class="heatmap-cell coverage-signed_off" role="img" title="K1: Signed off ' in heatmap_strip(coverage)


def test_the_sign_off_badges_are_the_markup_the_template_drew(apprenticeship):
    accepted(apprenticeship, codes=("S2", "B1"))
    coverage = progress_of(apprenticeship, drafts=False)
    cells = coverage.awaiting_sign_off
    assert [c.ksb.code for c in cells] == ["S2", "B1"]
    assert sign_off_links(coverage, cells) == render(SIGN_OFF_LOOP, coverage=coverage, cells=cells)


def test_names_and_texts_in_tooltips_are_escaped(apprenticeship, assessor):
    assessor.first_name, assessor.last_name = '<script>alert("x")</script>', "O'Neil & Co"
    assessor.save()
    signed_off(apprenticeship, "K1")
    coverage = progress_of(apprenticeship, drafts=False)
    strip = heatmap_strip(coverage)
    assert "<script>" not in strip
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Neil &amp; Co" in strip
    assert strip == render(STRIP_LOOP, coverage=coverage)


def test_grid_cells_link_to_the_evidence_list_or_the_ksb_page(apprenticeship):
    accepted(apprenticeship, codes=("K2",))
    accepted(apprenticeship, codes=("K2",))
    coverage = progress_of(apprenticeship)
    _, knowledge = coverage.by_kind[0]
    mine = coverage_grid_cells(coverage, knowledge, "/evidence/")
    staff = coverage_grid_cells(coverage, knowledge)
    assert mine.count("<li>") == len(knowledge)
    assert 'href="/evidence/?ksb=K2" data-ksb="K2"' in mine
    assert f'href="/apprenticeships/{apprenticeship.pk}/ksbs/K2/" data-ksb="K2"' in staff
    # The state is said in words after the code, with the number of items; the count is shown too.
    assert '<span class="coverage-code">K2</span><span class="visually-hidden"> Accepted, 2 items</span>' in staff
    assert '<span class="coverage-count" aria-hidden="true">2</span>' in staff
    assert '<span class="coverage-code">K1</span><span class="visually-hidden"> No evidence yet</span></a>' in staff
    # The KSB's text is escaped inside the tooltip.
    k2 = next(c for c in knowledge if c.ksb.code == "K2")
    assert f'title="K2: {render("{{ t }}", t=k2.ksb.text)} — ' in staff
