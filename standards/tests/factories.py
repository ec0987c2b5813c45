import factory

from standards.models import KSB, AlignedQualification, Standard


class StandardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Standard
        django_get_or_create = ("reference", "version")

    reference = factory.Sequence(lambda n: f"ST{9000 + n:04d}")
    version = "1.0"
    title = factory.Faker("catch_phrase")
    level = 4
    route = "Health and science"


class KSBFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KSB

    standard = factory.SubFactory(StandardFactory)
    kind = KSB.Kind.KNOWLEDGE
    number = factory.Sequence(lambda n: n + 1)
    text = factory.Faker("sentence")
    external_id = factory.Faker("uuid4")


class AlignedQualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlignedQualification

    title = factory.Sequence(lambda n: f"Diploma {n}")
    qualification_type = "HTQ"
    level = 4
    awarding_body = "NCFE/CACHE"


def standard_with_ksbs(*, knowledge: int = 3, skills: int = 2, behaviours: int = 1, **fields) -> Standard:
    """A standard carrying K1..Kn, S1..Sn and B1..Bn."""
    standard = StandardFactory(**fields)
    for kind, count in ((KSB.Kind.KNOWLEDGE, knowledge), (KSB.Kind.SKILL, skills), (KSB.Kind.BEHAVIOUR, behaviours)):
        for number in range(1, count + 1):
            KSBFactory(standard=standard, kind=kind, number=number, text=f"{kind}{number} statement")
    return standard
