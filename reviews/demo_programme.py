"""Demo programme records: off-the-job hours, progress reviews, training plans and gateway readiness.

`seed_demo` runs this after `reviews.demo.seed_demo_reviews`. Everything goes through the services,
each time as the person who would really do it: the apprentices (and their mentor, Gareth Lloyd)
log hours, the assessors verify or query them, record the reviews and write the plans, and all
three parties sign in their own name.

- Chloe Evans ends ready for gateway: every KSB signed off on accepted evidence, the off-the-job
  requirement met by verified hours, English and maths recorded, a recent review and the plan
  signed by all three, and both sides' confirmations. She is not moved to gateway: that is for
  the demo's provider admin to do in the browser.
- Amira Hussain started after 1 August 2025, so her requirement is ST0220's published minimum.
  It is left empty: the demo shows the message asking a provider admin to enter it rather than
  inventing a figure. Her newest review and her plan's version 2 wait for Gareth's signature.
- Ben Carter has no mentor, is behind on his hours, has one entry queried, and his review is
  overdue.

What must hold on the day the demo runs (a review within the last 12 weeks, one overdue, the
newest hours awaiting verification) is dated back from today; everything else is spread between
the start date and yesterday, never before the start nor in the future. An apprenticeship that
already has hours, a review, a plan or a gateway confirmation is left alone, so a second run adds
nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TextIO

from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion, OTJActivity
from evidence.otj import otj_summary_of
from evidence.services import (
    create_evidence,
    log_otj_activity,
    query_otj_activity,
    submit_evidence,
    verify_otj_activity,
)
from portal.models import Apprenticeship, User
from standards.models import KSB

from .demo import AMIRA, BLS_CERTIFICATE, CHLOE, IPC_CERTIFICATE, PHONE_CALL, REJECTION_AUDIT
from .gateway import confirm_gateway_readiness, gateway_checklist
from .models import Decision, GatewayConfirmation, Party, ProgressReview, TrainingPlan
from .progress_reviews import ActionRow, record_progress_review
from .services import accept_evidence, sign_off_ksb
from .signatures import sign
from .training_plans import minimum_otj_hours, save_training_plan

BEN = "ben.carter@demo.test"
# Titles given by evidence.demo to items the hours below are linked to.
AMIRA_SOP = "Drafting the SOP for daily IQC on haematology analyser 2"
BEN_AUDIT = "Hand hygiene audit of blood sciences reception and phlebotomy outpatients"

EPA_ORGANISATION = "Healthcare EPA Services Ltd"
Kind = OTJActivity.Type
EM = TrainingPlan.EnglishMaths
Type = EvidenceItem.Type
WEEK = datetime.timedelta(weeks=1)


# --- Off-the-job hours -------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    activity_type: str
    minutes: int
    description: str
    ksbs: tuple[str, ...] = ()


# What the apprentices log themselves, taken in turn. A college day is the weekly block release.
LEARNING = [
    Activity(
        Kind.TEACHING,
        420,
        "College day: the NHS Constitution, Good Scientific Practice and person-centred care.",
        ("K1", "K3"),
    ),
    Activity(
        Kind.ONLINE,
        150,
        "E-learning: information governance and data security awareness, with the end-of-module assessment.",
        ("K27",),
    ),
    Activity(
        Kind.TEACHING,
        420,
        "College day: haematology and transfusion science, with a practical session on blood film morphology.",
        ("K16", "K29"),
    ),
    Activity(
        Kind.SHADOWING,
        210,
        "Shadowed a biomedical scientist in blood transfusion: group and screen, crossmatching and issuing red cells.",
        ("K29", "S24"),
    ),
    Activity(
        Kind.WRITING,
        180,
        "Study time: wrote up the college assignment on quality management systems and ISO 15189 accreditation.",
        ("K15", "K31"),
    ),
    Activity(
        Kind.TEACHING,
        420,
        "College day: clinical biochemistry, renal and liver function tests and how they are interpreted.",
        ("K16", "K29"),
    ),
    Activity(
        Kind.SIMULATION,
        240,
        "Simulation: major haemorrhage protocol drill with the transfusion and emergency department teams.",
        ("K8", "K12"),
    ),
    Activity(
        Kind.ONLINE,
        120,
        "E-learning: equality, diversity and human rights, and the Trust's guidance on reasonable adjustments.",
        ("K2", "S1"),
    ),
    Activity(
        Kind.TEACHING,
        420,
        "College day: research methods and statistics for healthcare science.",
        ("K20", "K32"),
    ),
    Activity(
        Kind.WRITING,
        240,
        "Study time: read and summarised two papers on pre-analytical errors for the evidence-based practice "
        "assignment.",
        ("K20",),
    ),
    Activity(
        Kind.INDUSTRY_VISIT,
        360,
        "Visit to the regional genomic laboratory hub: sample reception, sequencing and how the clinical scientists "
        "report.",
        ("K17",),
    ),
    Activity(
        Kind.TEACHING,
        420,
        "College day: microbiology, infection prevention and the chain of infection in the laboratory.",
        ("K13", "K16"),
    ),
    Activity(
        Kind.SIMULATION,
        180,
        "Practical workshop: teaching a practical skill with a structured framework, then being assessed teaching it.",
        ("K22", "K23"),
    ),
    Activity(
        Kind.TEACHING,
        420,
        "College day: leadership and team working in the NHS, and the Healthcare Leadership Model.",
        ("K34",),
    ),
    Activity(Kind.ONLINE, 90, "E-learning: COSHH and the safe handling of laboratory reagents.", ("K12",)),
    Activity(
        Kind.TEACHING,
        420,
        "College day: consent, confidentiality and mental capacity: the law and the Trust's policies.",
        ("K26", "K27", "K28"),
    ),
]

# What the employer mentor arranges and logs on his mentees' behalf, every MENTOR_EVERY-th entry.
MENTORED = [
    Activity(
        Kind.MENTORING,
        90,
        "Mentoring session with Gareth Lloyd: progress against the training plan and the next pieces of evidence.",
        ("K11",),
    ),
    Activity(
        Kind.SHADOWING,
        240,
        "Shadowed Gareth Lloyd on the point-of-care testing round: QC of the ward glucose meters and the operators' "
        "training records.",
        ("K18", "S18"),
    ),
    Activity(
        Kind.MENTORING,
        60,
        "Mentoring session with Gareth Lloyd: practised explaining a rejected sample to a ward, with his feedback.",
        ("K6", "S5"),
    ),
]
MENTOR_EVERY = 6

# Hours that went into a piece of evidence, logged on the evidence's date and linked to it.
LINKED: dict[str, list[tuple[str, Activity]]] = {
    AMIRA: [
        (
            BLS_CERTIFICATE,
            Activity(
                Kind.TEACHING,
                240,
                "Basic life support and AED training, with the practical assessment on the feedback manikins.",
                ("K12",),
            ),
        ),
        (
            AMIRA_SOP,
            Activity(
                Kind.WRITING,
                180,
                "Drafting the SOP for daily IQC on analyser 2: compared the old SOP with the instructions for use and "
                "the QC material's insert.",
                ("K19", "S15"),
            ),
        ),
    ],
    BEN: [
        (
            BEN_AUDIT,
            Activity(
                Kind.SHADOWING,
                180,
                "Hand hygiene audit with the infection control link nurse: observing against the WHO five moments.",
                ("K15", "S25"),
            ),
        ),
    ],
    CHLOE: [
        (
            IPC_CERTIFICATE,
            Activity(
                Kind.ONLINE,
                180,
                "Infection prevention and control (level 2): e-learning and the practical hand hygiene assessment.",
                ("K13",),
            ),
        ),
        (
            REJECTION_AUDIT,
            Activity(
                Kind.WRITING,
                240,
                "Audit study time: extracted six months of sample rejections and worked out the rate by reason.",
                ("S25", "K15"),
            ),
        ),
    ],
}

QUERIED = Activity(Kind.OTHER, 120, "Weekly team meeting in sample reception.")
QUERY_REASON = (
    "A routine team meeting is part of your normal working hours, not off-the-job training. If you learned "
    "something new in it, say what and which KSBs it relates to; otherwise delete the entry."
)


@dataclass(frozen=True)
class HoursPlan:
    """How one apprentice's log looks: the pace they log at, and what the assessor leaves for later."""

    hours_a_week: Decimal | None  # None: enough verified hours to meet the requirement
    awaiting: int  # newest entries the assessor has not verified yet
    offset: int  # where in LEARNING their log starts, so the three logs differ
    queried: bool = False


HOURS = {
    CHLOE: HoursPlan(hours_a_week=None, awaiting=0, offset=0),
    AMIRA: HoursPlan(hours_a_week=Decimal("5.5"), awaiting=3, offset=5),
    # Behind: well under the six hours a week his rule asks for.
    BEN: HoursPlan(hours_a_week=Decimal("3.5"), awaiting=4, offset=10, queried=True),
}
# Chloe's verified hours go this far past her requirement.
MARGIN_HOURS = 8


# --- Chloe's closing evidence ------------------------------------------------------------------


@dataclass(frozen=True)
class Covered:
    """A KSB an item covers: the apprentice's note of how, and the assessor's sign-off comment."""

    code: str
    note: str
    comment: str


@dataclass(frozen=True)
class ClosingEvidence:
    title: str
    activity_date: datetime.date | None  # None: between her two progress reviews
    evidence_type: str
    reflection: str
    feedback: str
    covers: tuple[Covered, ...]
    # Signed off before her earlier progress review, or only before the latest one.
    early: bool = True


# The accepted items evidence.demo and reviews.demo leave her, with KSBs not yet signed off.
ALREADY_ACCEPTED = {
    REJECTION_AUDIT: (
        Covered(
            "S25",
            "",
            "Chloe collected and analysed six months of rejection data, working out the monthly rate by reason.",
        ),
        Covered("K15", "", "She applies the audit cycle and shows how its findings drive the section's improvement."),
        Covered("S26", "", "Presented the audit's outcome to the quality meeting and agreed the next action with it."),
    ),
    PHONE_CALL: (
        Covered(
            "S5",
            "",
            "The revised account shows information given to agreed protocols, understanding checked, and feedback "
            "asked for and passed on.",
        ),
        Covered(
            "S7",
            "",
            "Critical reflection on her own reaction, a changed approach, and evidence of trying it on a later call.",
        ),
    ),
}

CLOSING = [
    ClosingEvidence(
        title="Reflective account: consent and dignity in the outpatient phlebotomy clinic",
        activity_date=datetime.date(2024, 11, 20),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "During my phlebotomy rotation I took blood from about forty outpatients a day under supervision. Before "
            "each venepuncture I introduced myself, checked the patient's identity against the request with three "
            "identifiers and asked whether they were happy for me to take the sample, explaining what the test was "
            "for when they asked. One man with a fear of needles withdrew his consent while I was preparing; I "
            "stopped, stayed calm, asked what would help and offered to let him lie down, and he agreed to try again "
            "with a senior phlebotomist present. I recorded the withdrawn and renewed consent on the request, as our "
            "procedure asks. I also learned to draw the curtain fully and keep patients covered, because small "
            "things like that matter to people's dignity."
        ),
        feedback="A thoughtful account, Chloe: stopping when he withdrew consent and recording it were exactly right.",
        covers=(
            Covered(
                "K1",
                "I put the patient's wishes first, as the NHS Constitution's person-centred care asks.",
                "Chloe understands person-centred care as the NHS Constitution and GSP describe it: the patient's "
                "choice came first when he withdrew consent.",
            ),
            Covered(
                "S2",
                "I treated an anxious patient with compassion and respect and adapted the procedure to him.",
                "Stopping, listening and offering to let him lie down show compassion, dignity and respect.",
            ),
            Covered(
                "K26",
                "I knew that consent can be withdrawn at any time and that the procedure stops when it is.",
                "She understands that consent is given for each procedure and can be withdrawn, and what follows.",
            ),
            Covered(
                "S22",
                "I obtained consent before each venepuncture and recorded the withdrawn and renewed consent.",
                "Consent obtained before each procedure and documented on the request, as the procedure asks.",
            ),
            Covered(
                "K28",
                "I protected patients' privacy and dignity: curtains drawn and patients kept covered.",
                "Shows the factors that affect patients' dignity and privacy in a busy clinic, and what she does about "
                "them.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: a misdirected report and being open about it",
        activity_date=datetime.date(2025, 1, 15),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "While sending reports to a GP practice by secure email, I noticed that one patient's report had gone to "
            "the wrong practice, because two patients had the same name and date of birth. I told the duty "
            "biomedical scientist straight away rather than hoping nobody would notice; we asked the practice to "
            "delete it, and I completed an incident report with the facts as they happened. I was embarrassed, but "
            "being open was the right thing to do. Afterwards I suggested adding the NHS number to our manual checks "
            "for duplicate names, which the section lead agreed, and I now check it before every manual send."
        ),
        feedback="Owning an error takes courage, Chloe, and the NHS number check you suggested makes us safer.",
        covers=(
            Covered(
                "K27",
                "I understood the confidentiality of records and what to do when one goes to the wrong place.",
                "Chloe understands the confidentiality of records and the steps that follow a disclosure in error.",
            ),
            Covered(
                "S23",
                "I acted at once to protect the patient's confidentiality and changed my checks so it cannot recur.",
                "Acted promptly to contain the disclosure and changed her own practice to protect confidentiality.",
            ),
            Covered(
                "K3",
                "I reported my own mistake honestly and recorded the facts accurately.",
                "An honest report of her own error and an accurate incident record: probity in practice.",
            ),
            Covered(
                "S20",
                "I took responsibility for the error and its possible impact on the patient.",
                "She took responsibility for the impact of her work on the patient rather than leaving it to others.",
            ),
            Covered(
                "K9",
                "Reflecting on the incident led to a safer check that protects the quality and safety of care.",
                "Her reflection led to a safer checking procedure: critical reflection used to improve patient safety.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Professional discussion: supporting patients with a learning disability and their carers",
        activity_date=datetime.date(2025, 3, 12),
        evidence_type=Type.PROFESSIONAL_DISCUSSION,
        reflection=(
            "Helen and I discussed my part in setting up quiet phlebotomy appointments for patients with a learning "
            "disability or autism. I described working with the learning disability liaison nurse to offer the "
            "first appointment of the day, sending an easy-read letter with photographs of the room, and asking "
            "carers beforehand what helps. For one young man, his mother told us he copes better holding a stress "
            "ball and watching a video on his phone; with those and an unhurried pace, the sample was taken first "
            "time, where twice before it had been abandoned. We talked about reasonable adjustments under the "
            "Equality Act, how fear of blood tests can put people off care they need, and where I signpost patients "
            "and colleagues for mental health and wellbeing support."
        ),
        feedback="An excellent discussion: the quiet appointments are a real improvement, and you explained why well.",
        covers=(
            Covered(
                "K2",
                "I explained the Equality Act's duty to make reasonable adjustments and how our clinic meets it.",
                "Sound knowledge of reasonable adjustments under the Equality Act and how local practice applies them.",
            ),
            Covered(
                "S1",
                "I helped make sure patients with a learning disability get the same access to tests as everyone else.",
                "Chloe made sure these patients were not disadvantaged: non-discriminatory practice in action.",
            ),
            Covered(
                "K4",
                "I described why involving patients and carers in planning the appointment matters.",
                "Understands why involving patients and carers in decisions about their care leads to better care.",
            ),
            Covered(
                "S3",
                "I worked with the patient's mother and the liaison nurse to plan what would help him.",
                "A real partnership with a carer and the liaison nurse, with a good outcome for the patient.",
            ),
            Covered(
                "K5",
                "We discussed how anxiety about procedures affects people's wellbeing and their use of services.",
                "Shows the principles of promoting mental health and wellbeing, applied to fear of procedures.",
            ),
            Covered(
                "S4",
                "I reduced the patient's anxiety and know where to signpost people for wellbeing support.",
                "Promoted wellbeing by easing a patient's anxiety, and knows where to refer others for support.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: a formalin spill and updating the risk assessment",
        activity_date=datetime.date(2025, 4, 23),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "A pot of formalin from a histology specimen leaked in sample reception. I cleared the area, put on the "
            "PPE listed in the COSHH assessment, used the formalin spill kit, ventilated the room and reported it on "
            "the incident system. A large spill would have been beyond my training, so I asked the senior BMS to "
            "check before we reopened the bench. With the health and safety lead I then reviewed the reception risk "
            "assessment: we added a second spill kit by the pneumatic tube station and a step to bag formalin pots "
            "separately. I showed our two new laboratory assistants where the kits are and watched each of them "
            "walk through the steps."
        ),
        feedback="Calm, safe and well recorded, and training the new assistants closed the loop nicely.",
        covers=(
            Covered(
                "K12",
                "I followed COSHH and the Trust's health and safety policy and knew my responsibilities under them.",
                "Knows the COSHH requirements for formalin and her own responsibilities under health and safety law.",
            ),
            Covered(
                "K14",
                "I helped review the risk assessment and saw its changes shared and put in place.",
                "Took part in reviewing the risk assessment and saw its findings shared and implemented.",
            ),
            Covered(
                "S10",
                "I made the area safe and kept it safe for others.",
                "Restored a safe working environment promptly and in line with the COSHH assessment.",
            ),
            Covered(
                "S11",
                "I trained the new laboratory assistants to use the spill kits and checked that they could.",
                "Trained junior staff in a safety procedure and checked their understanding by watching them.",
            ),
            Covered(
                "S8",
                "I asked a senior colleague to check rather than going beyond my training.",
                "Recognised the limit of her competence and sought senior input before reopening the bench.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Professional discussion: investigating a patient's falling haemoglobin",
        activity_date=datetime.date(2025, 5, 21),
        evidence_type=Type.PROFESSIONAL_DISCUSSION,
        reflection=(
            "We discussed a full blood count I processed where the haemoglobin had fallen from 118 to 71 g/L in a "
            "week. Before releasing it I checked that the sample was not clotted or taken from a drip arm, looked at "
            "the analyser's flags and the previous results, and made a blood film, which showed fragmented red "
            "cells. Following the SOP and with the senior BMS's agreement, I phoned the result to the ward and "
            "mentioned that a reticulocyte count and haemolysis screen would help. I explained why fragmented red "
            "cells point to haemolysis within the blood vessels and which conditions cause it, and how I decided to "
            "repeat the count on a fresh aliquot rather than report straight away, and when I would stop and "
            "escalate instead."
        ),
        feedback="A careful, well-reasoned investigation. Ruling out a drip-arm sample first is the habit we want.",
        covers=(
            Covered(
                "K16",
                "I explained the physiology and pathology behind the result.",
                "Clear understanding of the red cell physiology and pathology behind the result.",
            ),
            Covered(
                "K29",
                "I explained which further investigations would help the clinicians.",
                "Knows which investigations are appropriate when haemolytic anaemia is suspected.",
            ),
            Covered(
                "S24",
                "I carried out the full blood count and the blood film to the department's standard.",
                "Delivered the technical procedures to a high standard, with a good-quality blood film.",
            ),
            Covered(
                "S16",
                "I decided to repeat the count and make a film, within the SOP and with senior agreement.",
                "A reasoned decision to repeat and extend the investigation, within the SOP and with senior input.",
            ),
            Covered(
                "S17",
                "I recognised that the result did not fit and looked for a technical cause first.",
                "Recognised a problem and ruled out technical causes before reporting.",
            ),
            Covered(
                "S18",
                "I interpreted the results against the patient's previous ones and recorded them accurately.",
                "Interpreted the data against the previous results and recorded the outcome accurately.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: evaluating the haemolysis index cut-off for potassium",
        activity_date=datetime.date(2025, 7, 9),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "The rejection audit showed that haemolysis is our biggest cause of rejected samples, so the section lead "
            "asked me to look at whether our haemolysis index cut-off for potassium was right. I read the "
            "manufacturer's interference data and two published studies and summarised their strengths and "
            "weaknesses: one used artificially haemolysed samples, which may not behave like real ones. I then "
            "compared 200 paired results from our own analyser over four weeks. They suggested our cut-off was "
            "stricter than needed, and I presented a proposal to change it with a re-audit afterwards, which was "
            "approved through the quality management system. I learned that research has to be weighed, not just "
            "quoted, and that a small, well-planned local study can change practice safely."
        ),
        feedback="Impressive work, Chloe: weighing the studies rather than quoting them is exactly what K20 asks for.",
        covers=(
            Covered(
                "K20",
                "I critically evaluated the published evidence behind our cut-off.",
                "A critical appraisal of the evidence base, including the limits of each study.",
            ),
            Covered(
                "K32",
                "I saw how research evidence led to a better-informed decision about our practice.",
                "Understands how research supports the critical evaluation of practice.",
            ),
            Covered(
                "K33",
                "I followed the principles of introducing a change safely: evidence, proposal, approval and re-audit.",
                "Knows how an innovation is introduced safely through the quality management system.",
            ),
            Covered(
                "S27",
                "I carried out a small local study comparing paired results.",
                "Undertook a small local study, well planned and soundly analysed.",
            ),
            Covered(
                "S28",
                "My work led to a change that should cut unnecessary rejections.",
                "Her work supports quality improvement in her own section.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: drafting the SOP for sending samples to the genomic laboratory hub",
        activity_date=datetime.date(2025, 9, 17),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "When our laboratory began sending samples for whole genome sequencing to the regional genomic "
            "laboratory hub, I drafted the local SOP for packing and sending them. I used the Trust's SOP template, "
            "the hub's sample requirements and the national genomic test directory, and visited the hub to see what "
            "happens when samples arrive. I learned why genomic samples need the patient's record of discussion and, "
            "where relevant, family details, and how the results guide personalised treatment. The draft went "
            "through two rounds of comments before the quality manager authorised it. Since it went live the hub "
            "has returned none of our samples for missing paperwork, where before it returned about two a month."
        ),
        feedback="A useful SOP with a measurable result: well done.",
        covers=(
            Covered(
                "K17",
                "I learned how genomic testing works and how its results support personalised medicine.",
                "Sound understanding of the genomic testing pathway and its place in personalised medicine.",
            ),
            Covered(
                "K19",
                "I followed the SOP template and the Trust's document control.",
                "Knows what an SOP requires: template, document control, references and authorisation.",
            ),
            Covered(
                "S15",
                "I drafted the SOP and acted on the reviewers' comments.",
                "Drafted an SOP through to authorisation, acting on the reviewers' comments.",
            ),
            Covered(
                "K31",
                "The SOP removed a cause of returned samples, improving the service.",
                "Shows how a well-written procedure delivers a measurable improvement to the service.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: teaching a new laboratory assistant to book in samples",
        activity_date=datetime.date(2025, 10, 15),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "Gareth asked me to train Sam, a new laboratory assistant, to book in samples. I used the department's "
            "competency framework: I explained and demonstrated each step, Sam practised under supervision while I "
            "gave feedback, and after two weeks I assessed him against the competency checklist, with Gareth "
            "countersigning. Sam learned better from doing than from reading the SOP, so I gave him more supervised "
            "practice and less reading. In our weekly catch-ups I used what I had learned about mentoring at "
            "college: open questions, and letting him set his own goals. At my own appraisal Gareth's feedback was "
            "that I should delegate more; we agreed an action plan, and this training was its first step."
        ),
        feedback="Good to see the competency framework used properly, and your appraisal's feedback acted on.",
        early=False,
        covers=(
            Covered(
                "K22",
                "I used the department's framework for teaching and assessing practical skills.",
                "Knows how to use a practical skills framework and assess against a competency checklist.",
            ),
            Covered(
                "K23",
                "I applied the principles of practical training: demonstrate, practise, feedback, assess.",
                "Understands the principles of practical training and adapted them to the learner.",
            ),
            Covered(
                "S19",
                "I supervised, taught and assessed a junior colleague's practical skills.",
                "Supervised, taught and assessed a junior colleague, with her mentor countersigning.",
            ),
            Covered(
                "K10",
                "I used mentoring approaches from college: open questions and goals the learner sets.",
                "Applies good mentoring practice and the theory behind it.",
            ),
            Covered(
                "S9",
                "I supported a junior colleague's development and acted on the feedback from my own appraisal.",
                "Supported a junior colleague's development and responded constructively to her own appraisal.",
            ),
            Covered(
                "K11",
                "I took part in my appraisal and agreed an action plan.",
                "Understands appraisal and how to prepare and follow an action plan.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Professional discussion: leading the re-audit of haemolysed samples from the emergency department",
        activity_date=datetime.date(2026, 1, 21),
        evidence_type=Type.PROFESSIONAL_DISCUSSION,
        reflection=(
            "After the rejection audit I led the re-audit of haemolysed samples from the emergency department. I "
            "wrote the proposal, registered it with the Trust's clinical audit team and agreed the standard with the "
            "department's lead nurse. I collected three months of data, compared it with the standard and presented "
            "the results at the department's governance meeting, with a run chart for the trend, a bar chart for the "
            "reasons and a one-page summary for the nurses. We discussed the ethics of audit: the data were "
            "anonymised and the audit measured practice against a standard, so it did not need research ethics "
            "approval. The department now uses smaller vacuum tubes for samples taken from cannulas."
        ),
        feedback="A well-led audit that changed practice in the department. The run chart made the trend easy to see.",
        early=False,
        covers=(
            Covered(
                "K30",
                "I registered the audit and followed the Trust's governance framework, anonymising the data.",
                "Knows the governance and ethical framework of clinical audit and how audit contributes to care.",
            ),
            Covered(
                "S12",
                "I led the re-audit from proposal to presentation.",
                "Led a technical audit from proposal through presentation to action.",
            ),
            Covered(
                "K21",
                "I chose a run chart, a bar chart and a one-page summary for the different audiences.",
                "Chose data presentation methods to suit each audience.",
            ),
            Covered(
                "K7",
                "I planned and gave the presentation to the governance meeting.",
                "Knows what makes a good oral presentation and applied it to a clinical audience.",
            ),
            Covered(
                "S6",
                "I used slides with charts to present the results.",
                "Used technology well to present information orally.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Reflective account: planning the section's work on a short-staffed weekend",
        activity_date=datetime.date(2026, 3, 18),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "On a weekend when two colleagues were off sick, the section lead asked me to plan the work of the four "
            "staff on the blood sciences day shift, with the on-call BMS for support. I looked at the expected "
            "workload, put the most experienced person on the analysers and agreed breaks so that no bench was left "
            "unstaffed. When the tube system failed mid-morning, I arranged a porter run and told the wards, which "
            "kept urgent samples moving. Later a colleague was upset after a ward sister complained about a delayed "
            "result; I listened, reminded her of the staff support service and the complaints process, and passed "
            "the complaint to the section lead. In the debrief I used the Healthcare Leadership Model to reflect on "
            "what went well and what I would delegate next time."
        ),
        feedback="A demanding day handled well, Chloe: your debrief shows real insight into how you lead.",
        early=False,
        covers=(
            Covered(
                "K34",
                "I used the Healthcare Leadership Model to reflect on how I led the shift.",
                "Understands leadership models and used one to reflect on her own leadership.",
            ),
            Covered(
                "S29",
                "I planned the shift's work and checked during the day how it was going.",
                "Planned and assessed the work of a small team under pressure.",
            ),
            Covered(
                "S30",
                "I led the team on the shift while working within it.",
                "Led effectively while working within the team.",
            ),
            Covered(
                "K8",
                "I solved the tube system failure with a porter run and kept the wards informed.",
                "A practical, well-communicated solution to an unexpected problem.",
            ),
            Covered(
                "K25",
                "I supported a colleague after a complaint and knew the support and complaints routes.",
                "Knows the support available after a complaint and helped a colleague to use it.",
            ),
        ),
    ),
    ClosingEvidence(
        title="Professional discussion: my professional values across the apprenticeship",
        activity_date=None,
        evidence_type=Type.PROFESSIONAL_DISCUSSION,
        reflection=(
            "In our last professional discussion before gateway, Helen asked how my practice shows the behaviours "
            "the standard expects. I talked about being honest when I misdirected a report, about the compassion "
            "the quiet appointments needed, and about being conscientious: ruling out a drip-arm sample before "
            "reporting a low haemoglobin, and finishing the genomics SOP properly rather than quickly. We went "
            "through the Academy for Healthcare Science's Good Scientific Practice, and I described how I keep "
            "within my competence and keep my knowledge up to date through my training plan and CPD record."
        ),
        feedback="A confident discussion that draws the whole apprenticeship together.",
        early=False,
        covers=(
            Covered(
                "B1",
                "I gave examples of compassion, honesty and conscientiousness from across my apprenticeship.",
                "Chloe gave consistent examples of compassionate, honest and conscientious practice across the "
                "apprenticeship, in line with Good Scientific Practice.",
            ),
        ),
    ),
]


# --- Progress reviews and training plans -------------------------------------------------------


@dataclass(frozen=True)
class ReviewText:
    actions_since_last: str
    progress_against_plan: str
    wellbeing: str
    # (what, who, weeks after the review it is due)
    actions: tuple[tuple[str, str, int], ...]
    plan_updates: str = ""
    concerns: str = ""


CHLOE_EARLIER = ReviewText(
    actions_since_last="Chloe drafted the SOP for genomic samples, taught a new laboratory assistant to book in "
    "samples and finished the leadership module at college. Her off-the-job hours are verified up to date.",
    progress_against_plan="Ahead of plan: most KSBs are signed off. The rest are the leadership, audit, training "
    "and professional values KSBs planned for the final months.",
    wellbeing="Chloe is well and enjoying the extra responsibility. She is nervous about the end-point assessment; "
    "we talked about how the practice discussions will help.",
    actions=(
        ("Submit the emergency department re-audit and the short-staffed weekend as evidence", Party.APPRENTICE, 4),
        ("Hold the final professional discussion on Chloe's professional values", Party.ASSESSOR, 6),
        ("Countersign Chloe's assessment of the new laboratory assistant for her portfolio", Party.MENTOR, 2),
    ),
)
CHLOE_LATEST = ReviewText(
    actions_since_last="Chloe submitted her last evidence: the emergency department re-audit, the short-staffed "
    "weekend, the training of a new laboratory assistant and the discussion of her professional values.",
    progress_against_plan="The training plan is complete: every KSB is signed off, English and maths were recorded "
    "at the start, and her verified off-the-job hours meet the requirement.",
    wellbeing="Chloe is well, and more confident about the end-point assessment after the practice discussion.",
    actions=(
        ("Confirm for the employer that Chloe is ready for gateway", Party.MENTOR, 1),
        ("Confirm for the provider, then ask the provider admin to move Chloe to gateway", Party.ASSESSOR, 2),
        (
            "Prepare for the end-point assessment: read the portfolio through and practise the discussion",
            Party.APPRENTICE,
            6,
        ),
    ),
)
AMIRA_EARLIER = ReviewText(
    actions_since_last="Amira finished the clinical biochemistry module at college, drafted the SOP for daily IQC "
    "on haematology analyser 2 and ran the analyser's daily IQC on her own, observed by Gareth.",
    progress_against_plan="A little behind on evidence. K12 and S18 are signed off; her account of a difficult "
    "conversation is back with her for revision, and the SOP draft waits for a decision.",
    plan_updates="Maths: Amira sits Functional Skills maths level 2 before the next review; the plan is updated with "
    "the result.",
    wellbeing="Amira is well and feels supported by Gareth and the team.",
    actions=(
        ("Revise the account of the difficult conversation and submit it again", Party.APPRENTICE, 3),
        ("Observe Amira doing the weekly maintenance on haematology analyser 2", Party.MENTOR, 6),
        ("Plan the pipette calibration checks with the equipment lead", Party.APPRENTICE, 4),
    ),
)
AMIRA_LATEST = ReviewText(
    actions_since_last="Amira passed Functional Skills maths level 2, drafted the SOP for daily IQC on analyser 2 and "
    "started the pipette calibration checks with the equipment lead.",
    progress_against_plan="A little behind on evidence: the SOP waits for a decision and the pipette and risk "
    "assessment items are still drafts. She logs her off-the-job hours every week, but her requirement cannot be "
    "shown until ST0220's published minimum is entered.",
    plan_updates="Version 2 of the training plan records her maths result.",
    wellbeing="Amira is well, but finds a late shift the day before college tiring.",
    concerns="Late shifts before college days: Gareth will look at the rota.",
    actions=(
        ("Submit the pipette calibration check with the balance's calibration certificate", Party.APPRENTICE, 3),
        ("Change the rota so that Amira is not on a late shift before a college day", Party.MENTOR, 2),
        ("Decide on the SOP draft and ask a provider admin to enter ST0220's published OTJ minimum", Party.ASSESSOR, 1),
    ),
)
BEN_REVIEW = ReviewText(
    actions_since_last="Ben completed the hand hygiene audit and the potassium IQC observation. He has missed two "
    "college days.",
    progress_against_plan="Behind plan: few KSBs are evidenced for this stage, and his off-the-job hours are well "
    "below the straight line to his requirement.",
    wellbeing="Ben finds it hard to fit study around his shifts, and has had no workplace mentor since his last one "
    "left.",
    concerns="No employer mentor is assigned, so his reviews and plan cannot be signed by all three parties. The "
    "employer has been asked to name one.",
    actions=(
        ("Log off-the-job hours every week, college days and study time included", Party.APPRENTICE, 2),
        ("Ask the employer to name a new workplace mentor", Party.ASSESSOR, 2),
        ("Write up a reflective account on checking samples at reception", Party.APPRENTICE, 4),
    ),
)

PLAN_TEXT = (
    "Two-year programme in blood sciences at Riverside University Hospitals. Rotations: {rotations}. Off-the-job "
    "training: one college day a week at Northfield College of Health Sciences, with study time, shadowing, "
    "simulation and mentoring making up about six hours a week. Progress reviews with the apprentice, the employer "
    "mentor and the assessor at least every 12 weeks. End-point assessment after gateway, as the standard's "
    "assessment plan sets out."
)
AMIRA_PLANNED_HOURS = (
    " The planned off-the-job hours are the provider's planning figure of about six hours a week: ST0220's "
    "published minimum for starts from 1 August 2025 has not yet been entered on the standard's page, and the plan "
    "is checked against it once it is."
)


@dataclass
class Tally:
    entries: int = 0
    reviews: int = 0
    locked_reviews: int = 0
    plans: int = 0
    seeded: list[Apprenticeship] = field(default_factory=list)

    def __str__(self) -> str:
        ready = sum(1 for a in self.seeded if gateway_checklist(a).ready)
        return (
            f"Demo programme: {self.entries} off-the-job entries, {self.reviews} progress reviews "
            f"({self.locked_reviews} signed), {self.plans} training plans, "
            f"{ready} apprentice{'' if ready == 1 else 's'} ready for gateway."
        )


def seed_demo_programme(*, stdout: TextIO) -> None:
    """Gives each demo apprenticeship without programme records its hours, reviews and plans."""
    tally = Tally()
    today = timezone.localdate()
    for email, story in ((CHLOE, _chloe), (AMIRA, _amira), (BEN, _ben)):
        apprenticeship = _untouched(email)
        if apprenticeship is not None:
            story(apprenticeship, today, tally)
            tally.seeded.append(apprenticeship)
    stdout.write(f"{tally}\n" if tally.seeded else "Demo programme already present.\n")


def _untouched(email: str) -> Apprenticeship | None:
    """The demo apprenticeship to fill in, or None if it is missing, closed or has programme records."""
    apprenticeship = (
        Apprenticeship.objects.filter(apprentice__email=email, standard__reference="ST0220")
        .with_people()
        .order_by("start_date")
        .first()
    )
    if apprenticeship is None or apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        return None
    for model in (OTJActivity, ProgressReview, TrainingPlan, GatewayConfirmation):
        if model.objects.filter(apprenticeship=apprenticeship).exists():
            return None
    return apprenticeship


# --- The three stories -------------------------------------------------------------------------


def _chloe(a: Apprenticeship, today: datetime.date, tally: Tally) -> None:
    """Everything in place for gateway; the provider admin moves her there in the browser."""
    _plan(
        a,
        tally,
        english=(EM.EXEMPT, "GCSE English language grade 6 (2019), certificate seen by Helen Marsh"),
        maths=(EM.EXEMPT, "GCSE mathematics grade 5 (2019), certificate seen by Helen Marsh"),
        text=PLAN_TEXT.format(
            rotations="phlebotomy outpatients, sample reception, haematology and transfusion, clinical biochemistry, "
            "then quality and audit"
        ),
        signers=(a.apprentice, a.mentor, a.assessor),
    )
    _log_hours(a, today, tally)
    latest = _days_before(a, today, weeks=3)
    earlier = max(a.start_date, latest - 11 * WEEK)
    ksbs = {ksb.code: ksb for ksb in KSB.objects.filter(standard=a.standard)}
    _close_evidence(a, ksbs, [entry for entry in CLOSING if entry.early], between=(earlier, latest), today=today)
    for title, covers in ALREADY_ACCEPTED.items():
        _sign_off(a, ksbs, _accepted_version(a, title), covers)
    _review(a, tally, held_on=earlier, text=CHLOE_EARLIER, signers=(a.apprentice, a.mentor, a.assessor))
    _close_evidence(a, ksbs, [entry for entry in CLOSING if not entry.early], between=(earlier, latest), today=today)
    _review(a, tally, held_on=latest, text=CHLOE_LATEST, signers=(a.apprentice, a.mentor, a.assessor))
    if a.mentor is not None:
        confirm_gateway_readiness(
            apprenticeship=a,
            by=a.mentor,
            comment="Chloe works independently across blood sciences and is ready for her end-point assessment.",
        )
    confirm_gateway_readiness(
        apprenticeship=a,
        by=a.assessor,
        comment="Every KSB signed off, hours verified, reviews up to date: ready for gateway.",
    )


def _amira(a: Apprenticeship, today: datetime.date, tally: Tally) -> None:
    """Version 2 of her plan and her newest review wait for her mentor's signature."""
    text = PLAN_TEXT.format(
        rotations="sample reception, haematology, clinical biochemistry, blood transfusion, then quality and audit"
    )
    english = (EM.EXEMPT, "GCSE English language grade 5 (2023), certificate seen by Daniel Okafor")
    _plan(
        a,
        tally,
        english=english,
        maths=(EM.WORKING_TOWARDS, "Functional Skills maths level 2: weekly classes, exam booked"),
        text=text + AMIRA_PLANNED_HOURS,
        signers=(a.apprentice, a.mentor, a.assessor),
    )
    _log_hours(a, today, tally)
    latest = _days_before(a, today, weeks=0, days=6)
    _review(
        a,
        tally,
        held_on=max(a.start_date, latest - 11 * WEEK),
        text=AMIRA_EARLIER,
        signers=(a.apprentice, a.mentor, a.assessor),
    )
    # She passed maths after everyone signed version 1, so the change makes version 2.
    _plan(
        a,
        tally,
        english=english,
        maths=(EM.ACHIEVED, "Functional Skills maths level 2 passed, certificate seen by Daniel Okafor"),
        text=text + AMIRA_PLANNED_HOURS,
        signers=(a.apprentice, a.assessor),
    )
    _review(a, tally, held_on=latest, text=AMIRA_LATEST, signers=(a.apprentice, a.assessor))


def _ben(a: Apprenticeship, today: datetime.date, tally: Tally) -> None:
    """No mentor, so nothing of his can be signed by all three; behind on hours; review overdue."""
    _plan(
        a,
        tally,
        english=(EM.EXEMPT, "GCSE English language grade 4 (2022), certificate seen by Daniel Okafor"),
        maths=(EM.EXEMPT, "GCSE mathematics grade 6 (2022), certificate seen by Daniel Okafor"),
        text=PLAN_TEXT.format(
            rotations="clinical biochemistry, sample reception, haematology, immunology, then quality and audit"
        ),
        signers=(a.apprentice, a.assessor),
    )
    _log_hours(a, today, tally)
    # More than 12 weeks ago, so the next review is overdue.
    _review(a, tally, held_on=_days_before(a, today, weeks=15), text=BEN_REVIEW, signers=(a.apprentice, a.assessor))


# --- Steps -------------------------------------------------------------------------------------


def _days_before(a: Apprenticeship, today: datetime.date, *, weeks: int, days: int = 0) -> datetime.date:
    return max(a.start_date, today - datetime.timedelta(weeks=weeks, days=days))


def _plan(
    a: Apprenticeship,
    tally: Tally,
    *,
    english: tuple[str, str],
    maths: tuple[str, str],
    text: str,
    signers: tuple[User | None, ...],
) -> TrainingPlan:
    minimum, _ = minimum_otj_hours(a, a.planned_end_date)
    # The funding rules' minimum rounded up to a planning figure; about six hours a week when unknown.
    planned = -(-(minimum or 560) // 10) * 10
    plan = save_training_plan(
        apprenticeship=a,
        by=a.assessor,
        planned_otj_hours=planned,
        planned_end_date=a.planned_end_date,
        epa_organisation=EPA_ORGANISATION,
        english_status=english[0],
        english_evidence=english[1],
        maths_status=maths[0],
        maths_evidence=maths[1],
        text=text,
    )
    for person in signers:
        if person is not None:
            sign(plan=plan, by=person)
    tally.plans += 1
    return plan


def _review(
    a: Apprenticeship,
    tally: Tally,
    *,
    held_on: datetime.date,
    text: ReviewText,
    signers: tuple[User | None, ...],
) -> ProgressReview:
    actions: list[ActionRow] = [(what, who, held_on + weeks * WEEK) for what, who, weeks in text.actions]
    review = record_progress_review(
        apprenticeship=a,
        by=a.assessor,
        held_on=held_on,
        actions_since_last=text.actions_since_last,
        progress_against_plan=text.progress_against_plan,
        plan_updates=text.plan_updates,
        wellbeing=text.wellbeing,
        concerns=text.concerns,
        safeguarding_concern=False,
        safeguarding_details="",
        actions=actions,
    )
    for person in signers:
        if person is not None:
            sign(review=review, by=person)
    review.refresh_from_db(fields=["locked_at"])
    tally.reviews += 1
    tally.locked_reviews += int(review.is_locked)
    return review


def _log_hours(a: Apprenticeship, today: datetime.date, tally: Tally) -> None:
    """Logs the apprentice's hours from the start to yesterday, then verifies all but the newest."""
    plan = HOURS[a.apprentice.email]
    first, last = a.start_date, min(today - datetime.timedelta(days=1), a.planned_end_date)
    if last < first:
        return
    # (date, what, who logs it, evidence it went into)
    rows: list[tuple[datetime.date, Activity, User, EvidenceItem | None]] = []
    for title, activity in LINKED.get(a.apprentice.email, []):
        item = _item(a, title)
        if item is not None:
            day = min(max(item.current_version.activity_date, first), last)
            rows.append((day, activity, a.apprentice, item))
    linked_minutes = sum(activity.minutes for _, activity, _, _ in rows)

    if plan.hours_a_week is None:
        required = otj_summary_of(a).required or Decimal(0)
        target = int((required + MARGIN_HOURS) * 60) - linked_minutes
    else:
        target = int(plan.hours_a_week * Decimal((last - first).days) / 7 * 60) - linked_minutes
    spread: list[tuple[Activity, User]] = []
    own = mentored = 0
    while sum(activity.minutes for activity, _ in spread) < target:
        if a.mentor is not None and len(spread) % MENTOR_EVERY == MENTOR_EVERY - 1:
            spread.append((MENTORED[mentored % len(MENTORED)], a.mentor))
            mentored += 1
        else:
            spread.append((LEARNING[(plan.offset + own) % len(LEARNING)], a.apprentice))
            own += 1
    for day, (activity, by) in zip(_spread(len(spread), first, last), spread, strict=True):
        rows.append((day, activity, by, None))
    rows.sort(key=lambda row: row[0])

    ksbs = {ksb.code: ksb for ksb in KSB.objects.filter(standard=a.standard)}
    logged = [
        log_otj_activity(
            apprenticeship=a,
            by=by,
            date=day,
            minutes=activity.minutes,
            activity_type=activity.activity_type,
            description=activity.description,
            ksbs=[ksbs[code] for code in activity.ksbs],
            evidence=evidence,
        )
        for day, activity, by, evidence in rows
    ]
    for entry in logged[: len(logged) - plan.awaiting]:
        verify_otj_activity(activity=entry, by=a.assessor)
    tally.entries += len(logged)

    if plan.queried:
        queried = log_otj_activity(
            apprenticeship=a,
            by=a.apprentice,
            date=_weekday(max(first, min(last, today - 5 * WEEK)), first, last),
            minutes=QUERIED.minutes,
            activity_type=QUERIED.activity_type,
            description=QUERIED.description,
        )
        query_otj_activity(activity=queried, by=a.assessor, reason=QUERY_REASON)
        tally.entries += 1


def _spread(count: int, first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """`count` working days spread evenly from `first` to `last`."""
    span = (last - first).days
    step = span / max(count - 1, 1)
    return [_weekday(first + datetime.timedelta(days=round(i * step)), first, last) for i in range(count)]


def _weekday(day: datetime.date, first: datetime.date, last: datetime.date) -> datetime.date:
    """A weekend day moved to the Friday before (or the Monday after, near the start)."""
    if day.weekday() < 5:
        return day
    friday = day - datetime.timedelta(days=day.weekday() - 4)
    monday = day + datetime.timedelta(days=7 - day.weekday())
    if friday >= first:
        return friday
    return monday if monday <= last else day


def _item(a: Apprenticeship, title: str) -> EvidenceItem | None:
    return (
        EvidenceItem.objects.filter(apprenticeship=a, versions__title=title)
        .with_versions()
        .order_by("pk")
        .distinct()
        .first()
    )


def _accepted_version(a: Apprenticeship, title: str) -> EvidenceVersion | None:
    return (
        EvidenceVersion.objects.filter(item__apprenticeship=a, title=title, decision__outcome=Decision.Outcome.ACCEPTED)
        .order_by("-number")
        .first()
    )


def _close_evidence(
    a: Apprenticeship,
    ksbs: dict[str, KSB],
    entries: list[ClosingEvidence],
    *,
    between: tuple[datetime.date, datetime.date],
    today: datetime.date,
) -> None:
    """Chloe writes and submits each item, Helen accepts it and signs off every KSB it covers."""
    yesterday = today - datetime.timedelta(days=1)
    for entry in entries:
        day = entry.activity_date or between[0] + 2 * WEEK
        day = max(a.start_date, min(day, between[1], yesterday))
        item = create_evidence(
            apprenticeship=a,
            by=a.apprentice,
            title=entry.title,
            activity_date=day,
            evidence_type=entry.evidence_type,
            reflection=entry.reflection,
            mappings={ksbs[covered.code]: covered.note for covered in entry.covers},
        )
        submit_evidence(item=item, by=a.apprentice)
        decision = accept_evidence(item=item, by=a.assessor, feedback=entry.feedback)
        _sign_off(a, ksbs, decision.version, entry.covers)


def _sign_off(
    a: Apprenticeship, ksbs: dict[str, KSB], version: EvidenceVersion | None, covers: tuple[Covered, ...]
) -> None:
    if version is None:
        return  # the item is not there to rely on: the checklist will say what is missing
    for covered in covers:
        sign_off_ksb(
            apprenticeship=a, ksb=ksbs[covered.code], versions=[version], by=a.assessor, comment=covered.comment
        )
