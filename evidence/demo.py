"""Demo portfolios for the apprentices `seed_demo` creates, written through the evidence services.

Each story has a fixed date so that it agrees with the dates printed in its files (the QC
export, the certificates, the SOP draft). Files live in `fixtures/demo-files/`.
"""

from __future__ import annotations

import datetime
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from portal.models import Apprenticeship
from standards.models import KSB

from .models import EvidenceItem
from .services import create_evidence, submit_evidence, withdraw_evidence

DEMO_FILES = Path(settings.BASE_DIR) / "fixtures" / "demo-files"

Type = EvidenceItem.Type


@dataclass(frozen=True)
class DemoEvidence:
    title: str
    activity_date: datetime.date
    evidence_type: str
    reflection: str
    mappings: dict[str, str]
    files: tuple[str, ...] = ()
    submitted: bool = True
    # Times the apprentice withdrew the submission and submitted it again unchanged.
    resubmissions: int = 0


AMIRA = [
    DemoEvidence(
        title="Basic life support and AED (level 2) certificate",
        activity_date=datetime.date(2025, 9, 17),
        evidence_type=Type.CERTIFICATE,
        reflection=(
            "I completed the Trust's adult basic life support and AED training in my third week, because it is "
            "mandatory for everyone who works in patient areas, including the phlebotomy clinic on my rotation. "
            "The practical part was harder than I expected: the feedback manikin showed that my first compressions "
            "were too shallow, and I had to lock my elbows and use my body weight to reach the right depth. "
            "Afterwards I found the nearest defibrillator and emergency trolley to blood sciences reception and to "
            "outpatients, so I would not lose time looking for them. I have put the renewal date in my diary so "
            "that my certificate does not lapse."
        ),
        mappings={
            "K12": "The course covered my responsibilities under the Trust's resuscitation and health and safety "
            "policies: making the area safe, calling for help and using an AED safely.",
        },
        files=("basic-life-support-certificate.pdf",),
    ),
    DemoEvidence(
        title="Observation: daily internal quality control on haematology analyser 2",
        activity_date=datetime.date(2025, 10, 14),
        evidence_type=Type.OBSERVATION,
        reflection=(
            "Gareth observed me running the morning internal quality control (IQC) on haematology analyser 2 before "
            "the first patient samples were loaded. I let the three levels of QC material reach room temperature, "
            "mixed them by gentle inversion, checked the lot numbers and expiry dates against the analyser and ran "
            "them. All three levels were within 1SD, so I accepted the run and released the analyser for patient "
            "work. We then went through the month's Levey-Jennings chart together: on 11 October I had a 1-2s "
            "warning on level 2 haemoglobin (125.4 g/L), which I reran and got 120.9 g/L, and Gareth asked what I "
            "would have done if the repeat had also been beyond 2SD. I explained that this breaks the 2-2s rule, so "
            "I would reject the run, hold the patient samples and tell the senior biomedical scientist. I have "
            "learned to look at the chart before running the QC, not only after, so that I notice a drift sooner. "
            "The chart and the month's results exported from the middleware are attached."
        ),
        mappings={
            "S18": "I ran the IQC, interpreted the results against the Westgard rules, recorded the warning and my "
            "action accurately in the QC log and presented the month's results as a Levey-Jennings chart.",
            "K13": "I handled the QC material as potentially infectious: gloves and lab coat, capped tubes, the "
            "approved disinfectant for the sample area and the right waste stream.",
            "K12": "I followed the COSHH assessment for the analyser's reagents and the manufacturer's safety "
            "instructions when loading the racks.",
        },
        files=("haemoglobin-iqc-levey-jennings.png", "haemoglobin-iqc-results.csv"),
    ),
    DemoEvidence(
        title="Reflective account: a difficult conversation with a patient's daughter",
        activity_date=datetime.date(2025, 12, 3),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "While I was helping in the outpatient phlebotomy clinic, the daughter of an elderly patient became upset "
            "because her mother's sample had been rejected as haemolysed and she had been asked to come back for a "
            "repeat test. She raised her voice at the reception desk and said nobody had explained why. I asked if "
            "we could talk somewhere quieter, let her tell me everything without interrupting, and summarised what I "
            "had heard so she knew I had understood. I then explained in plain words what haemolysis is and why the "
            "result could not safely be reported, without blaming the colleague who had taken the sample. I checked "
            "with the senior phlebotomist that we could offer a same-day repeat and arranged it. Looking back, I "
            "spoke too quickly at first because I was nervous; once I slowed down, the conversation calmed. Working "
            "through Gibbs' reflective cycle afterwards showed me that I should have offered the private room "
            "straight away. Next time I will also tell the person about PALS in case they want to take the concern "
            "further."
        ),
        mappings={
            "K6": "I listened actively, summarised what she told me, watched her body language and used plain "
            "language instead of laboratory terms.",
            "S5": "I explained why the sample was rejected and what would happen next, following the protocol for "
            "repeat requests, and passed her feedback on to the phlebotomy lead.",
            "S7": "I reflected critically on my own communication using Gibbs' cycle and said what I will do "
            "differently.",
        },
    ),
    DemoEvidence(
        title="Drafting the SOP for daily IQC on haematology analyser 2",
        activity_date=datetime.date(2026, 2, 10),
        evidence_type=Type.WORK_PRODUCT,
        reflection=(
            "The SOP for daily IQC on analyser 2 was due for review and still referred to the previous QC material, "
            "so Gareth asked me to prepare the new draft. I started from the Trust's SOP template and document "
            "control procedure, compared the old SOP with the manufacturer's instructions for use and the insert for "
            "the current QC material, and watched two colleagues run the QC to check that the steps matched what "
            "really happens at the bench. Gareth's comments on version 0.2 showed me that I had left out what to do "
            "about patient results already reported when a run is rejected, which is the part that matters most for "
            "patient safety, so I added it together with the 10x rule. I have learned that an SOP must let a "
            "competent person who has never used the analyser follow it exactly, with one action per step. The "
            "attached version 0.3 is now with the quality manager for authorisation."
        ),
        mappings={
            "K19": "I followed the Trust's SOP template and document control: document number, version, author, "
            "reviewer, review date, references and a record of changes.",
            "S15": "I wrote versions 0.1 to 0.3 of the SOP, acted on the senior BMS's review comments and sent the "
            "draft for authorisation.",
        },
        files=("sop-draft-haematology-iqc.pdf",),
    ),
    DemoEvidence(
        title="Gravimetric calibration check of three laboratory pipettes",
        activity_date=datetime.date(2026, 6, 18),
        evidence_type=Type.WORK_PRODUCT,
        reflection=(
            "With the department's equipment lead I carried out the six-monthly gravimetric check on three "
            "pipettes. For each I weighed five replicates of distilled water on the calibrated analytical balance, "
            "recorded the water temperature, converted mass to volume with the Z-factor and worked out the "
            "systematic error and CV against the acceptance limits. The P200 and P1000 passed, but the P20 was "
            "outside both limits, so I took it out of use, labelled it and logged it for service. I still need to "
            "add the balance's calibration certificate and ask Gareth to check my calculations before I submit this."
        ),
        mappings={
            "S13": "I carried out the scheduled calibration check and recorded the results in the equipment log.",
            "S14": "I found that the P20 was out of calibration and quarantined it for repair.",
            "K18": "I followed the equipment management procedure: planned checks, traceable balance, acceptance "
            "limits and labelling faulty equipment.",
        },
        files=("pipette-calibration-record.csv",),
        submitted=False,
    ),
    DemoEvidence(
        title="Professional discussion: risk assessment of the new sample reception layout",
        activity_date=datetime.date(2026, 10, 6),
        evidence_type=Type.PROFESSIONAL_DISCUSSION,
        reflection=(
            "Daniel and I discussed the risk assessment I helped to review when sample reception was reorganised "
            "around the new pneumatic tube station. I described how we walked the route samples take, found that "
            "leaking bags were being opened next to the booking-in computers, and agreed to move the opening area "
            "and add a spill kit and a hand-wash point beside it. I still need to write up the actions we agreed "
            "and add the date the changes were checked."
        ),
        mappings={
            "K14": "I explained how the hazards were identified, how the risk was rated and how the findings were "
            "shared with the reception team.",
            "S10": "The changes we made keep the working area safe for staff handling leaking samples.",
        },
        submitted=False,
    ),
]

BEN = [
    DemoEvidence(
        title="Observation: potassium internal QC on chemistry analyser 1",
        activity_date=datetime.date(2025, 3, 12),
        evidence_type=Type.OBSERVATION,
        reflection=(
            "The senior biomedical scientist on the late shift observed me running and reviewing the level 1 "
            "potassium QC on chemistry analyser 1 at the start of the shift. I checked that the QC material had been "
            "stored correctly and was within its opened stability, ran it and compared the result with the lot's "
            "target mean and SD. I then reviewed the last twenty runs on the Levey-Jennings chart: every result was "
            "within 2SD and there was no run of results on one side of the mean, so there was no sign of drift. "
            "I was asked why a potassium result matters so much, and I explained that a falsely high result, "
            "for example from a haemolysed or old sample, could lead to a patient being treated for "
            "hyperkalaemia they do not have. I want to get quicker at spotting the Westgard patterns without the "
            "rule sheet in front of me."
        ),
        mappings={
            "S18": "I ran the QC, interpreted it against the target values and Westgard rules and recorded the "
            "outcome accurately; the chart of the last twenty runs is attached.",
            "K13": "I wore gloves and a lab coat, handled the QC serum as potentially infectious and cleaned the "
            "loading area with the approved disinfectant.",
            "K12": "I followed the COSHH assessment for the analyser's reagents and the safe loading instructions.",
        },
        files=("potassium-iqc-levey-jennings.png",),
    ),
    DemoEvidence(
        title="Hand hygiene audit of blood sciences reception and phlebotomy outpatients",
        activity_date=datetime.date(2025, 7, 22),
        evidence_type=Type.WORK_PRODUCT,
        reflection=(
            "I took part in the quarterly hand hygiene audit for blood sciences and phlebotomy, observing staff "
            "against the WHO five moments using the Trust's audit tool. Compliance was high in outpatients and on "
            "ward 7, but only 78% among laboratory assistants in reception, where hands were often not washed "
            "after handling leaking sample bags. I entered the results, worked out the compliance for each staff "
            "group and helped the infection control link nurse feed them back to the area manager. The re-audit is "
            "planned for three months' time, after hand gel was added at the booking-in bench. I found it awkward "
            "to observe colleagues I work with every day, and I learned to explain that the audit is about the "
            "system, not about catching people out."
        ),
        mappings={
            "S25": "I collected the observations, entered and analysed the results and helped feed back the findings.",
            "K15": "I learned how an audit cycle works: a standard, data collection, feedback, action and re-audit.",
        },
        files=("hand-hygiene-audit-results.csv",),
    ),
    DemoEvidence(
        title="Reflective account: a mislabelled sample I nearly booked in",
        activity_date=datetime.date(2026, 9, 30),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "During a busy evening in sample reception I noticed that the name on a blood tube did not quite match "
            "the request form: the date of birth was the same but the surname was spelt differently. I was about "
            "to book it in because the sample was marked urgent. I stopped, checked with the biomedical scientist "
            "in charge, and we rejected it under the labelling policy and phoned the ward to ask for a repeat. I am "
            "still writing this up and want to add what I learned about why the policy has zero tolerance."
        ),
        mappings={
            "K9": "Reflecting on the near miss showed me how checking at reception protects patient safety.",
            "S7": "I looked critically at why time pressure nearly made me skip a check.",
            "S17": "I recognised the mismatch and sought the right solution with senior input.",
        },
        submitted=False,
    ),
]

CHLOE = [
    DemoEvidence(
        title="Infection prevention and control (level 2) certificate",
        activity_date=datetime.date(2024, 10, 8),
        evidence_type=Type.CERTIFICATE,
        reflection=(
            "I completed the Trust's level 2 infection prevention and control training in my first month, with an "
            "e-learning assessment and a practical hand hygiene check under UV light. The UV check showed that I "
            "was missing my thumbs and fingertips, which surprised me, and I now follow the six-step technique "
            "every time. The module also made me think about the chain of infection in the laboratory, not only on "
            "wards: leaking samples, shared keyboards and the sample reception bench are all routes that we can "
            "break with standard precautions."
        ),
        mappings={
            "K13": "The course covered standard precautions, hand hygiene, PPE, sharps, spillages and clinical "
            "waste, and the Trust's local protocols for each.",
        },
        files=("infection-prevention-control-certificate.pdf",),
    ),
    DemoEvidence(
        title="Centrifuge performance checks and escalating a faulty centrifuge",
        activity_date=datetime.date(2025, 2, 19),
        evidence_type=Type.WORK_PRODUCT,
        reflection=(
            "I carried out the quarterly performance checks on the two blood sciences centrifuges, measuring speed "
            "with a calibrated optical tachometer, the run time with a stopwatch and the chamber temperature. "
            "Centrifuge C3 was within tolerance at both settings. C4 ran 3.4% slow at 3000 rpm, outside the 2% "
            "tolerance, which could leave samples under-spun and affect results. I took it out of use, labelled it, "
            "logged the fault with estates and told the section lead so that the workload was moved to C3. After "
            "the drive belt was replaced two days later I repeated the check and it passed. The attached record "
            "shows every reading, and Gareth verified the results."
        ),
        mappings={
            "S13": "I carried out the planned performance checks on both centrifuges and recorded them.",
            "S14": "I found the fault on C4, took it out of use and repeated the checks after the repair.",
            "K18": "I followed the equipment management procedure: traceable measuring devices, stated "
            "tolerances, quarantine labelling and a record of the fault and its repair.",
        },
        files=("centrifuge-performance-check.csv",),
    ),
    DemoEvidence(
        title="Reflective account: a difficult phone call about rejected GP samples",
        activity_date=datetime.date(2025, 6, 11),
        evidence_type=Type.REFLECTIVE_ACCOUNT,
        reflection=(
            "A practice nurse from one of our GP surgeries phoned, frustrated that several of her samples had been "
            "rejected that week and that her patients were having to come back. She felt the laboratory was being "
            "unreasonable. I let her explain, acknowledged how inconvenient repeat tests are for patients, and then "
            "went through each rejection with her: two were unlabelled and one was in the wrong container. I "
            "explained the labelling policy and why we cannot relabel samples, and emailed her the sample "
            "requirements guide. Afterwards I noticed that I had become defensive when she said the laboratory was "
            "unreasonable; using Gibbs' cycle, I recognised that staying curious about her problem worked much "
            "better than defending the rules. I shared the conversation with my manager, which led to the surgery "
            "being included in the labelling work for the sample rejection audit."
        ),
        mappings={
            "K6": "I listened actively, acknowledged her frustration and gave clear, plain explanations.",
            "S5": "I explained the rejections following the laboratory's protocol and sent written guidance "
            "afterwards.",
            "S7": "I reflected on my own reaction and how I will handle similar calls.",
        },
        resubmissions=1,
    ),
    DemoEvidence(
        title="Sample rejection audit: May to October 2025",
        activity_date=datetime.date(2025, 11, 5),
        evidence_type=Type.WORK_PRODUCT,
        reflection=(
            "I helped run the six-month audit of rejected samples in blood sciences after the labelling campaign "
            "with our GP surgeries. I extracted the monthly rejections from the laboratory information system, "
            "sorted them by reason and worked out the rejection rate. The rate fell from 1.07% in May to 0.69% in "
            "October, mostly because unlabelled and mislabelled samples halved, while haemolysed samples remain the "
            "largest group. I presented the results at the monthly quality meeting with a chart, and the next step "
            "agreed was to look at haemolysis from the emergency department. I learned that presenting an audit "
            "well means choosing the one or two findings that lead to action."
        ),
        mappings={
            "S25": "I collected and analysed six months of rejection data for the audit.",
            "K15": "I applied the audit cycle and saw how its results feed the department's quality improvement.",
            "S26": "I presented the outcome to the quality meeting and agreed the next action.",
        },
        files=("sample-rejection-audit.csv",),
    ),
    DemoEvidence(
        title="Witness testimony: raising a safeguarding concern in phlebotomy outpatients",
        activity_date=datetime.date(2026, 4, 22),
        evidence_type=Type.WITNESS_TESTIMONY,
        reflection=(
            "While I was taking blood from an older woman, she became tearful, had bruising on both forearms that "
            "did not match her account of a fall, and told me she was frightened to go home. I did not promise to "
            "keep it secret; I told her I would need to share my concern with people whose job is to help keep her "
            "safe. I made sure she was not left alone and went straight to Gareth, and together we contacted the "
            "adult safeguarding team, who saw her before she left. I wrote down what she had said in her own words "
            "and completed the safeguarding concern form that afternoon. I felt shaken afterwards, and talking it "
            "through with Gareth helped. Gareth's witness statement is attached."
        ),
        mappings={
            "K24": "I understood my duty of care and followed the Trust's adult safeguarding procedure, including "
            "the limits of confidentiality.",
            "S21": "I acted on a safeguarding concern that arose in direct patient care, promptly and in line with "
            "policy.",
        },
        files=("witness-statement-safeguarding.pdf",),
    ),
]

PORTFOLIOS: dict[str, list[DemoEvidence]] = {
    "amira.hussain@demo.test": AMIRA,
    "ben.carter@demo.test": BEN,
    "chloe.evans@demo.test": CHLOE,
}


def seed_demo_evidence(*, stdout: TextIO) -> None:
    """Gives each demo apprentice who has no evidence yet their portfolio; leaves everyone else alone."""
    items = apprentices = 0
    for email, portfolio in PORTFOLIOS.items():
        apprenticeship = (
            Apprenticeship.objects.filter(apprentice__email=email, standard__reference="ST0220")
            .select_related("apprentice", "standard")
            .order_by("start_date")
            .first()
        )
        if apprenticeship is None or apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
            continue
        if EvidenceItem.objects.filter(apprenticeship=apprenticeship).exists():
            continue
        ksbs = {ksb.code: ksb for ksb in KSB.objects.filter(standard=apprenticeship.standard)}
        for entry in portfolio:
            _add(apprenticeship, entry, ksbs)
        items += len(portfolio)
        apprentices += 1
    if items:
        stdout.write(f"Demo evidence: {items} items for {apprentices} apprentice{'' if apprentices == 1 else 's'}.\n")
    else:
        stdout.write("Demo evidence already present.\n")


def _add(apprenticeship: Apprenticeship, entry: DemoEvidence, ksbs: dict[str, KSB]) -> None:
    apprentice = apprenticeship.apprentice
    item = create_evidence(
        apprenticeship=apprenticeship,
        by=apprentice,
        title=entry.title,
        activity_date=_within_apprenticeship(entry.activity_date, apprenticeship),
        evidence_type=entry.evidence_type,
        reflection=entry.reflection,
        mappings={ksbs[code]: note for code, note in entry.mappings.items()},
        uploads=[_upload(name) for name in entry.files],
    )
    if not entry.submitted:
        return
    submit_evidence(item=item, by=apprentice)
    for _ in range(entry.resubmissions):
        withdraw_evidence(item=item, by=apprentice)
        submit_evidence(item=item, by=apprentice)


def _within_apprenticeship(day: datetime.date, apprenticeship: Apprenticeship) -> datetime.date:
    # The fixed dates are all in the past; this only matters on a machine whose clock is behind.
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    return max(apprenticeship.start_date, min(day, yesterday))


def _upload(name: str) -> SimpleUploadedFile:
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return SimpleUploadedFile(name, (DEMO_FILES / name).read_bytes(), content_type=content_type)
