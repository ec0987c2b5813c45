import datetime

import factory

from portal.models import Apprenticeship, Organisation, User
from standards.tests.factories import StandardFactory


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    kind = Organisation.Kind.PROVIDER
    name = factory.Sequence(lambda n: f"Provider {n}")


class EmployerFactory(ProviderFactory):
    kind = Organisation.Kind.EMPLOYER
    name = factory.Sequence(lambda n: f"Employer {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = User.Role.APPRENTICE
    organisation = factory.SubFactory(ProviderFactory)
    password = factory.django.Password("correct horse battery staple")


class ApprenticeFactory(UserFactory):
    role = User.Role.APPRENTICE


class AssessorFactory(UserFactory):
    role = User.Role.ASSESSOR


class ProviderAdminFactory(UserFactory):
    role = User.Role.PROVIDER_ADMIN


class IQAFactory(UserFactory):
    role = User.Role.IQA


class MentorFactory(UserFactory):
    role = User.Role.MENTOR
    organisation = factory.SubFactory(EmployerFactory)


class ApprenticeshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Apprenticeship

    apprentice = factory.SubFactory(ApprenticeFactory)
    provider = factory.SelfAttribute("apprentice.organisation")
    standard = factory.SubFactory(StandardFactory)
    employer = factory.SubFactory(EmployerFactory)
    assessor = factory.SubFactory(AssessorFactory, organisation=factory.SelfAttribute("..provider"))
    mentor = factory.SubFactory(MentorFactory, organisation=factory.SelfAttribute("..employer"))
    start_date = datetime.date(2025, 9, 1)
    planned_end_date = datetime.date(2027, 9, 1)
