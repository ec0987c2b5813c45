"""Demo judgements on the demo portfolios: decisions, feedback, sign-offs and IQA reviews.

Everything goes through the services, acting as the person who would really do it: each
apprenticeship's own assessor decides and signs off, the apprentice revises and resubmits, and
the demo IQA samples. `seed_demo` runs this after `evidence.demo.seed_demo_evidence`, so the
items are found by the titles that module gives them. An apprenticeship that already has a
decision is left alone, which makes a second run add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from evidence.demo import PORTFOLIOS
from evidence.models import EvidenceItem, EvidenceVersion
from evidence.services import revise_evidence, submit_evidence, update_draft
from portal.models import Apprenticeship, User
from standards.models import KSB

from .models import Decision, IQAReview, SignOff
from .services import accept_evidence, record_iqa_review, return_evidence, revoke_sign_off, sign_off_ksb

DEMO_IQA = "fiona.grant@demo.test"
AMIRA = "amira.hussain@demo.test"
CHLOE = "chloe.evans@demo.test"

# Amira Hussain's items (assessor Daniel Okafor).
BLS_CERTIFICATE = "Basic life support and AED (level 2) certificate"
IQC_OBSERVATION = "Observation: daily internal quality control on haematology analyser 2"
DIFFICULT_CONVERSATION = "Reflective account: a difficult conversation with a patient's daughter"

# Chloe Evans's items (assessor Helen Marsh).
IPC_CERTIFICATE = "Infection prevention and control (level 2) certificate"
CENTRIFUGE_CHECKS = "Centrifuge performance checks and escalating a faulty centrifuge"
PHONE_CALL = "Reflective account: a difficult phone call about rejected GP samples"
REJECTION_AUDIT = "Sample rejection audit: May to October 2025"
SAFEGUARDING = "Witness testimony: raising a safeguarding concern in phlebotomy outpatients"


@dataclass
class Tally:
    decisions: int = 0
    sign_offs: int = 0
    revoked: int = 0
    iqa_reviews: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.decisions or self.sign_offs or self.iqa_reviews)

    def __str__(self) -> str:
        revoked = f" ({self.revoked} revoked)" if self.revoked else ""
        return (
            f"Demo reviews: {self.decisions} decisions, {self.sign_offs} sign-offs{revoked}, "
            f"{self.iqa_reviews} IQA reviews."
        )


@dataclass
class Portfolio:
    """One demo apprenticeship with its submitted items by title, and the people who act on it."""

    apprenticeship: Apprenticeship
    ksbs: dict[str, KSB]
    submitted: dict[str, EvidenceItem]
    tally: Tally
    decisions: dict[str, Decision] = field(default_factory=dict)

    @property
    def assessor(self) -> User:
        return self.apprenticeship.assessor

    @property
    def apprentice(self) -> User:
        return self.apprenticeship.apprentice

    def has(self, *titles: str) -> bool:
        return all(title in self.submitted for title in titles)

    def accept(self, title: str, *, feedback: str, untick: dict[str, str] | None = None) -> Decision:
        """Accepts the item's submitted version, unticking the KSBs in `untick` (code: comment)."""
        item = self.submitted[title]
        untick = untick or {}
        judgements = {
            mapping.pk: (False, untick[mapping.ksb.code])
            for mapping in _latest_version(item).mappings.select_related("ksb")
            if mapping.ksb.code in untick
        }
        decision = accept_evidence(item=item, by=self.assessor, judgements=judgements, feedback=feedback)
        self.decisions[title] = decision
        self.tally.decisions += 1
        return decision

    def return_for_revision(self, title: str, *, feedback: str) -> Decision:
        decision = return_evidence(item=self.submitted[title], by=self.assessor, feedback=feedback)
        self.tally.decisions += 1
        return decision

    def revise_and_resubmit(self, title: str, *, reflection: str, notes: dict[str, str] | None = None) -> None:
        """The apprentice acts on the feedback: a new version with a better reflection and notes."""
        item = self.submitted[title]
        notes = notes or {}
        draft = revise_evidence(item=item, by=self.apprentice)
        mappings = {m.ksb: notes.get(m.ksb.code, m.note) for m in draft.mappings.select_related("ksb")}
        update_draft(
            item=item,
            by=self.apprentice,
            title=draft.title,
            activity_date=draft.activity_date,
            evidence_type=draft.evidence_type,
            reflection=reflection,
            mappings=mappings,
        )
        submit_evidence(item=item, by=self.apprentice)

    def sign_off(self, code: str, *, relying_on: list[str], comment: str) -> SignOff:
        sign_off = sign_off_ksb(
            apprenticeship=self.apprenticeship,
            ksb=self.ksbs[code],
            versions=[self.decisions[title].version for title in relying_on],
            by=self.assessor,
            comment=comment,
        )
        self.tally.sign_offs += 1
        return sign_off

    def revoke(self, sign_off: SignOff, *, reason: str) -> None:
        revoke_sign_off(sign_off=sign_off, by=self.assessor, reason=reason)
        self.tally.revoked += 1


def seed_demo_reviews(*, stdout: TextIO) -> None:
    """Reviews the demo portfolios that have no decision yet; leaves everything else alone."""
    tally = Tally()
    amira = _portfolio(AMIRA, tally)
    chloe = _portfolio(CHLOE, tally)
    daniels_decision = _amira(amira) if amira else None
    helens_sign_off = _chloe(chloe) if chloe else None
    # Ben Carter's submissions stay in Daniel's queue, untouched since he submitted them.

    iqa = User.objects.filter(email=DEMO_IQA, role=User.Role.IQA).first()
    if iqa and daniels_decision:
        record_iqa_review(
            by=iqa,
            decision=daniels_decision,
            outcome=IQAReview.Outcome.AGREE,
            comment="Sound decision: the certificate is current and the reflection shows Amira applied the "
            "training at work, not only that she attended.",
        )
        tally.iqa_reviews += 1
    if iqa and helens_sign_off:
        record_iqa_review(
            by=iqa,
            sign_off=helens_sign_off,
            outcome=IQAReview.Outcome.DISAGREE,
            comment="K24 is knowledge of the duty of care as well as safeguarding. The witness statement shows "
            "Chloe acted well (S21), but not what she understands about her duty of care beyond this one event. "
            "Please test it in a professional discussion, or ask for a short written account, before relying "
            "on this sign-off.",
        )
        tally.iqa_reviews += 1

    stdout.write(f"{tally}\n" if tally.anything else "Demo reviews already present.\n")


def _portfolio(email: str, tally: Tally) -> Portfolio | None:
    """The demo apprenticeship to review, or None if it is missing, closed or already reviewed."""
    if email not in PORTFOLIOS:
        return None
    apprenticeship = (
        Apprenticeship.objects.filter(apprentice__email=email, standard__reference="ST0220")
        .select_related("apprentice", "assessor", "standard")
        .order_by("start_date")
        .first()
    )
    if apprenticeship is None or apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        return None
    if Decision.objects.filter(version__item__apprenticeship=apprenticeship).exists():
        return None
    submitted = {
        item.current_version.title: item
        for item in EvidenceItem.objects.filter(
            apprenticeship=apprenticeship, status=EvidenceItem.Status.SUBMITTED
        ).with_versions()
    }
    ksbs = {ksb.code: ksb for ksb in KSB.objects.filter(standard=apprenticeship.standard)}
    return Portfolio(apprenticeship=apprenticeship, ksbs=ksbs, submitted=submitted, tally=tally)


def _latest_version(item: EvidenceItem) -> EvidenceVersion:
    return EvidenceVersion.objects.filter(item=item).order_by("-number").first()


def _amira(p: Portfolio) -> Decision | None:
    """Daniel accepts two items, returns one with feedback and signs K12 and S18 off.

    Her SOP draft stays submitted, so his queue has it. Returns the decision the IQA samples.
    """
    if not p.has(BLS_CERTIFICATE, IQC_OBSERVATION, DIFFICULT_CONVERSATION):
        return None
    certificate = p.accept(
        BLS_CERTIFICATE,
        feedback="A current certificate, and a reflection that goes beyond attending: finding the nearest "
        "defibrillator and emergency trolley and diarising the renewal is exactly what K12 asks of you.",
    )
    p.accept(
        IQC_OBSERVATION,
        feedback="An excellent observation, Amira. Explaining what you would do if the repeat had also broken "
        "2SD shows you understand the Westgard rules rather than following them by rote.",
        untick={
            "K12": "Covered better by the BLS certificate: loading reagents here is routine practice, not evidence "
            "of your knowledge of health and safety legislation.",
        },
    )
    p.return_for_revision(
        DIFFICULT_CONVERSATION,
        feedback="Thank you, Amira: this was a tense situation and you handled it with real care. Moving somewhere "
        "quieter and summarising back what she told you were exactly right, and your reflection is honest.\n\n"
        "Before I can accept it, please:\n"
        "1. S5: put in the reflection itself (not only the mapping note) which protocol you followed for the "
        "repeat request, and how you passed her feedback on to the phlebotomy lead: in person, by email or "
        "through the incident system?\n"
        "2. S7: take the last stage of Gibbs' cycle one step further. What have you done differently since, "
        "and have you had the chance to try it? One concrete example is enough.\n"
        "3. K6: if the senior phlebotomist saw the conversation, a short witness statement from them would "
        "make this much stronger.\n\n"
        "You have kept the patient and her daughter anonymous: keep it that way in the revision.",
    )
    p.sign_off(
        "K12",
        relying_on=[BLS_CERTIFICATE],
        comment="The basic life support and AED certificate, with Amira's reflection on locating the emergency "
        "equipment near her work areas and planning her renewal, shows she knows her responsibilities under the "
        "Trust's health and safety and resuscitation policies.",
    )
    p.sign_off(
        "S18",
        relying_on=[IQC_OBSERVATION],
        comment="Observed running daily IQC, interpreting the results against the Westgard rules, recording a "
        "1-2s warning and her action accurately and presenting a month's results as a Levey-Jennings chart.",
    )
    return certificate


CHLOE_REVISED_REFLECTION = (
    "A practice nurse from one of our GP surgeries phoned, frustrated that several of her samples had been "
    "rejected that week and that her patients were having to come back. She felt the laboratory was being "
    "unreasonable. I let her explain, acknowledged how inconvenient repeat tests are for patients, and then went "
    "through each rejection with her: two were unlabelled and one was in the wrong container. I explained the "
    "labelling policy and why we cannot relabel samples, and emailed her the sample requirements guide. Before "
    "ending the call I asked her to tell me in her own words what the surgery would change, so that I knew the "
    "explanation had landed, and I asked whether the guide was clear enough for her colleagues; she said the "
    "container chart was hard to read, which I passed on to the quality lead.\n\n"
    "Afterwards I noticed that I had become defensive when she said the laboratory was unreasonable. Using "
    "Gibbs' cycle, I recognised that staying curious about her problem worked much better than defending the "
    "rules. Since then I have changed how I start these calls: I ask what has happened for the patient before I "
    "say anything about the policy. I tried this two weeks later with a ward sister whose sample had been "
    "rejected as haemolysed, and the call was shorter and calmer, and she asked for the guide herself. I shared "
    "the first conversation with my manager, which led to the surgery being included in the labelling work for "
    "the sample rejection audit, and the surgery's rejections fell over the following months."
)


def _chloe(p: Portfolio) -> SignOff | None:
    """Helen accepts most items, returns one that Chloe revises and resubmits, then accepts it.

    She signs off seven KSBs, revokes one with a reason and signs it off again. Returns the
    sign-off the IQA disagrees with.
    """
    if not p.has(IPC_CERTIFICATE, CENTRIFUGE_CHECKS, PHONE_CALL, REJECTION_AUDIT, SAFEGUARDING):
        return None
    p.accept(
        IPC_CERTIFICATE,
        feedback="Good to see what the UV check taught you, and that you applied the chain of infection to the "
        "laboratory itself.",
    )
    p.accept(
        CENTRIFUGE_CHECKS,
        feedback="A clear record, and exactly the right response to C4: out of use, labelled, logged, workload "
        "moved and re-checked after the repair.",
    )
    p.accept(
        REJECTION_AUDIT,
        feedback="A well-run audit. Presenting the fall in mislabelled samples and choosing haemolysis from the "
        "emergency department as the next step shows you know what makes an audit useful.",
    )
    p.accept(
        SAFEGUARDING,
        feedback="You did everything right here, Chloe, including not promising secrecy and not leaving her "
        "alone. Thank you for talking it through with Gareth afterwards; that matters too.",
    )
    p.return_for_revision(
        PHONE_CALL,
        feedback="A good account of a hard call, Chloe, and recognising that you became defensive is the most "
        "valuable part of it. To meet S5 and S7 fully:\n"
        "1. S5 includes giving and receiving feedback: how did you check that the nurse understood the labelling "
        "requirements, and did you ask her for any feedback on our guide?\n"
        "2. S7: say what you now do differently on calls like this, and give one example of trying it.",
    )
    p.revise_and_resubmit(
        PHONE_CALL,
        reflection=CHLOE_REVISED_REFLECTION,
        notes={
            "S5": "I explained the rejections following the laboratory's protocol, checked her understanding, "
            "asked for her feedback on the guide and passed it on to the quality lead.",
            "S7": "I reflected on my own reaction, changed how I open these calls and tried it on a later call.",
        },
    )
    p.accept(
        PHONE_CALL,
        feedback="Thank you for acting on the feedback so thoroughly. Checking her understanding, asking for her "
        "view of the guide and trying your new approach on the next call are exactly what I was looking for.",
    )

    p.sign_off(
        "K13",
        relying_on=[IPC_CERTIFICATE],
        comment="Level 2 infection prevention and control certificate with a practical hand hygiene assessment; "
        "Chloe's reflection relates standard precautions to the laboratory's own routes of infection.",
    )
    p.sign_off(
        "K18",
        relying_on=[CENTRIFUGE_CHECKS],
        comment="The centrifuge checks show Chloe applies the principles of equipment management: traceable "
        "measuring devices, stated tolerances, quarantine and a complete record of the fault and repair.",
    )
    p.sign_off(
        "S13",
        relying_on=[CENTRIFUGE_CHECKS],
        comment="Planned performance checks of speed, time and temperature on two centrifuges, recorded in full "
        "and verified by her mentor.",
    )
    wrong = p.sign_off(
        "S14",
        relying_on=[CENTRIFUGE_CHECKS],
        comment="Quarterly performance checks on both centrifuges, recorded in full.",
    )
    p.revoke(
        wrong,
        reason="The comment describes the routine checks, which are S13, and does not say how the evidence shows "
        "fault-finding. Signing S14 off again with the right justification.",
    )
    p.sign_off(
        "S14",
        relying_on=[CENTRIFUGE_CHECKS],
        comment="Chloe found that C4 ran 3.4% slow, outside tolerance, took it out of use and escalated it, and "
        "repeated the checks after the drive belt was replaced: fault-finding through to a verified repair.",
    )
    duty_of_care = p.sign_off(
        "K24",
        relying_on=[SAFEGUARDING],
        comment="Gareth's witness statement and Chloe's account show she understood her duty of care and the "
        "limits of confidentiality, and followed the Trust's adult safeguarding procedure.",
    )
    p.sign_off(
        "S21",
        relying_on=[SAFEGUARDING],
        comment="Chloe recognised a safeguarding concern in direct patient care, kept the patient safe and raised "
        "it promptly with the safeguarding team, recording the patient's own words.",
    )
    p.sign_off(
        "K6",
        relying_on=[PHONE_CALL],
        comment="The revised account shows active listening, acknowledging feelings, plain explanations and "
        "checking understanding on a difficult call, and a later call handled the same way.",
    )
    return duty_of_care
