"""Reading the standards API's JSON into checked `StandardData`, naming every problem found."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# (kind, list field, identifier field) in the order the standard publishes them.
KSB_LISTS = (("K", "knowledges", "knowledgeId"), ("S", "skills", "skillId"), ("B", "behaviours", "behaviourId"))
DUTY_MAPPINGS = (("K", "mappedKnowledge"), ("S", "mappedSkills"), ("B", "mappedBehaviour"))
KIND_NOUN = {"K": "knowledge", "S": "skill", "B": "behaviour"}

# A file with hundreds of problems is the wrong file; the first few say so.
MAX_PROBLEMS = 20
# The API's JSON is nested four levels deep; anything far deeper is not a standard.
MAX_DEPTH = 32
TOO_DEEP = f"The file is nested more than {MAX_DEPTH} levels deep, so it is not the standards API's JSON."

# ASCII only: both go into the catalogue's addresses (standards/urls.py), which take nothing else.
REFERENCE_FORMAT = re.compile(r"^[A-Z0-9]+$")
VERSION_FORMAT = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# The API writes dates both as 2016-10-31T00:00:00 and as 2016-10-31T00:00:00 +00:00.
DATE_FORMAT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?$"
)
http_url = URLValidator(schemes=["http", "https"])


class ImportRefused(Exception):
    """The file was not imported; `problems` says why, one sentence each."""

    def __init__(self, problems: list[str]):
        if len(problems) > MAX_PROBLEMS:
            problems = [*problems[:MAX_PROBLEMS], f"and {len(problems) - MAX_PROBLEMS} more problems"]
        self.problems = problems
        super().__init__(" ".join(problems))


@dataclass(frozen=True)
class StatementData:
    kind: str
    number: int
    external_id: uuid.UUID
    text: str

    @property
    def code(self) -> str:
        return f"{self.kind}{self.number}"


@dataclass(frozen=True)
class OptionData:
    number: int
    external_id: uuid.UUID
    title: str


@dataclass(frozen=True)
class DutyData:
    number: int
    external_id: uuid.UUID
    text: str
    is_core: bool
    criteria: str
    ksb_codes: tuple[str, ...]
    option_numbers: tuple[int, ...]


@dataclass
class StandardData:
    """One standard version from a file, checked and in the catalogue's terms."""

    fields: dict[str, Any]
    ksbs: list[StatementData] = field(default_factory=list)
    options: list[OptionData] = field(default_factory=list)
    duties: list[DutyData] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.fields["reference"]

    @property
    def version(self) -> str:
        return self.fields["version"]

    @property
    def label(self) -> str:
        return f"{self.reference} {self.version}"


def parse(raw: bytes | str) -> list[StandardData]:
    """Every standard in the file, checked; raises ImportRefused naming each problem."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(["The file is not UTF-8 text, so it is not the standards API's JSON."]) from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImportRefused(
            [f"The file is not JSON ({error.msg} at line {error.lineno}, column {error.colno})."]
        ) from None
    except RecursionError:
        raise ImportRefused([TOO_DEEP]) from None
    except ValueError:
        # Python refuses to read an integer of thousands of digits (a guard against slow conversions).
        raise ImportRefused(["The file holds a number thousands of digits long, which no standard has."]) from None
    problem = _unstorable_text(document)
    if problem:
        raise ImportRefused([problem])
    if isinstance(document, dict):
        objects = [document]
    elif isinstance(document, list):
        objects = document
    else:
        raise ImportRefused(["The file holds neither a standard nor a list of standards."])
    if not objects:
        raise ImportRefused(["The file holds an empty list: there is no standard in it."])

    problems: list[str] = []
    standards: list[StandardData] = []
    for position, obj in enumerate(objects, 1):
        where = f"Standard {position} in the list" if len(objects) > 1 else "The standard"
        if not isinstance(obj, dict):
            problems.append(f"{where} is not a JSON object.")
            continue
        reader = _StandardReader(obj, where)
        data = reader.read()
        problems.extend(reader.problems)
        if data:
            standards.append(data)
    seen: set[tuple[str, str]] = set()
    for data in standards:
        key = (data.reference, data.version)
        if key in seen:
            problems.append(f"{data.label} appears twice in the file.")
        seen.add(key)
    if problems:
        raise ImportRefused(problems)
    return standards


def _unstorable_text(document: Any) -> str | None:
    """Why the document cannot be stored as it is, or None.

    PostgreSQL cannot store a NUL character in text, and no database or page can hold a lone
    surrogate (JSON may escape one, as "\\ud800", though no UTF-8 text can contain it); no real
    standard holds either. Walked without recursion, so a deeply nested file is refused in words.
    """
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, depth + 1) for child in value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "The file holds a NUL character (\\u0000), which no standard's text contains."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "The file holds a lone surrogate (an escape such as \\ud800), which is not a character."
    return None


class _StandardReader:
    """Reads one standard object, collecting every problem rather than stopping at the first."""

    def __init__(self, obj: dict, where: str):
        self.obj = obj
        self.where = where
        self.problems: list[str] = []
        self.ksb_codes: dict[uuid.UUID, str] = {}

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.where}: {text}")

    def read(self) -> StandardData | None:
        fields = self._fields()
        if "reference" in fields and "version" in fields:
            # From here on, name the standard rather than its position.
            self.where = f"{fields['reference']} {fields['version']}"
        ksbs = self._ksbs()
        options = self._options()
        duties = self._duties(ksbs, options)
        if self.problems:
            return None
        return StandardData(fields=fields, ksbs=ksbs, options=options, duties=duties)

    # Scalar fields

    def _fields(self) -> dict[str, Any]:
        obj = self.obj
        fields: dict[str, Any] = {}
        reference = self._text("referenceNumber", required=True, max_length=10)
        if reference is not None:
            reference = reference.upper()
            if REFERENCE_FORMAT.match(reference) and len(reference) <= 10:
                fields["reference"] = reference
            else:
                self.problem(f'"referenceNumber" must be letters and digits, such as ST0220, not {_show(reference)}.')
        version = self._version()
        if version is not None:
            fields["version"] = version
        title = self._text("title", required=True, max_length=255)
        if title is not None:
            fields["title"] = title
        level = self._whole_number("level", required=True)
        if level is not None:
            if 2 <= level <= 7:
                fields["level"] = level
            else:
                self.problem(f'"level" must be from 2 to 7, not {level}.')
        lars_code = self._whole_number("larsCode")
        # The API gives 0 to standards not yet given a LARS code.
        fields["lars_code"] = lars_code or None
        fields["status"] = self._text("status", max_length=50) or ""
        fields["route"] = self._text("route", max_length=100) or ""
        fields["typical_duration_months"] = self._whole_number("typicalDuration", largest=32767)
        fields["max_funding"] = self._whole_number("maxFunding")
        fields["approved_for_delivery"] = self._date("approvedForDelivery")
        fields["earliest_start_date"] = self._date("earliestStartDate")
        fields["latest_start_date"] = self._date("latestStartDate")
        fields["latest_end_date"] = self._date("latestEndDate")
        fields["date_updated"] = self._date("lastUpdated")
        fields["standard_page_url"] = self._url("standardPageUrl")
        fields["assessment_plan_url"] = self._url("assessmentPlanUrl")
        regulated = obj.get("regulated")
        if regulated is None or regulated in (True, False):
            fields["regulated"] = bool(regulated)
        else:
            self.problem(f'"regulated" must be true or false, not {_show(regulated)}.')
        return fields

    def _version(self) -> str | None:
        version = self._text("version", max_length=10)
        version_number = self._text("versionNumber", max_length=10)
        if version and version_number and version != version_number:
            self.problem(f'"version" ({version}) and "versionNumber" ({version_number}) disagree.')
            return None
        version = version or version_number
        if not version:
            self.problem('"version" is missing.')
            return None
        if not VERSION_FORMAT.match(version):
            self.problem(f'"version" must be numbers separated by dots, such as 1.1, not {_show(version)}.')
            return None
        return version

    def _text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = self.obj.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f'"{name}" is missing.')
            return None
        if not isinstance(value, str):
            self.problem(f'"{name}" must be text, not {_show(value)}.')
            return None
        value = value.strip()
        if max_length and len(value) > max_length:
            self.problem(f'"{name}" is longer than {max_length} characters.')
            return None
        return value

    def _whole_number(self, name: str, *, required: bool = False, largest: int = 2**31 - 1) -> int | None:
        value = self.obj.get(name)
        if value is None or value == "":
            if required:
                self.problem(f'"{name}" is missing.')
            return None
        # ASCII digits only: "²" and other digits str.isdigit() accepts are not numbers int() reads.
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= largest:
            self.problem(f'"{name}" must be a whole number, not {_show(value)}.')
            return None
        return value

    def _date(self, name: str) -> datetime.date | None:
        value = self.obj.get(name)
        if value is None or value == "":
            return None
        match = DATE_FORMAT.match(value) if isinstance(value, str) else None
        if match:
            try:
                return datetime.date.fromisoformat(match[1])
            except ValueError:
                pass
        self.problem(f'"{name}" is not a date: {_show(value)}.')
        return None

    def _url(self, name: str) -> str:
        value = self._text(name, max_length=500)
        if value is None:
            return ""
        try:
            http_url(value)
        except ValidationError:
            # Shown as a link on the catalogue page, so only a web address will do.
            self.problem(f'"{name}" is not a web address: {_show(value)}.')
            return ""
        return value

    # Lists

    def _list(self, name: str, *, required: bool = False) -> list:
        if name not in self.obj:
            if required:
                self.problem(f'"{name}" is missing (an empty list is fine, but the field must be there).')
            return []
        value = self.obj[name]
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f'"{name}" must be a list, not {_show(value)}.')
            return []
        return value

    def _guid(self, value: Any, what: str) -> uuid.UUID | None:
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        self.problem(f"{what} is not a GUID: {_show(value)}.")
        return None

    def _ksbs(self) -> list[StatementData]:
        statements: list[StatementData] = []
        # Every identifier read, even of a statement with other problems, so duties mapping it
        # are not reported as well.
        first_use = self.ksb_codes
        for kind, list_name, id_name in KSB_LISTS:
            for number, entry in enumerate(self._list(list_name, required=True), 1):
                code = f"{kind}{number}"
                if not isinstance(entry, dict):
                    self.problem(f"{code} (entry {number} of {list_name}) is not a JSON object.")
                    continue
                if id_name not in entry:
                    self.problem(f'{code} has no "{id_name}".')
                    continue
                guid = self._guid(entry[id_name], f'{code}\'s "{id_name}"')
                if guid is not None and guid in first_use:
                    self.problem(f"the identifier {guid} is used twice, by {first_use[guid]} and {code}.")
                    continue
                if guid is not None:
                    first_use[guid] = code
                text = entry.get("detail")
                if not isinstance(text, str) or not text.strip():
                    self.problem(f'{code} has no "detail" (the statement\'s text).')
                    continue
                if guid is None:
                    continue
                statements.append(StatementData(kind=kind, number=number, external_id=guid, text=text.strip()))
        return statements

    def _options(self) -> list[OptionData]:
        options: list[OptionData] = []
        seen: set[uuid.UUID] = set()
        for number, entry in enumerate(self._list("options"), 1):
            if not isinstance(entry, dict):
                self.problem(f"option {number} is not a JSON object.")
                continue
            guid = self._guid(entry.get("optionId"), f'option {number}\'s "optionId"')
            title = entry.get("title")
            if not isinstance(title, str) or not title.strip():
                self.problem(f'option {number} has no "title".')
                continue
            if len(title.strip()) > 255:
                self.problem(f"option {number}'s title is longer than 255 characters.")
                continue
            if guid is None:
                continue
            if guid in seen:
                self.problem(f"the option identifier {guid} is used twice.")
                continue
            seen.add(guid)
            options.append(OptionData(number=number, external_id=guid, title=title.strip()))
        return options

    def _duties(self, ksbs: list[StatementData], options: list[OptionData]) -> list[DutyData]:
        codes = self.ksb_codes
        option_numbers = {o.external_id: o.number for o in options}
        duties: list[DutyData] = []
        seen: set[uuid.UUID] = set()
        for number, entry in enumerate(self._list("duties"), 1):
            name = f"duty {number}"
            if not isinstance(entry, dict):
                self.problem(f"{name} is not a JSON object.")
                continue
            guid = self._guid(entry.get("dutyID"), f'{name}\'s "dutyID"')
            text = entry.get("dutyDetail")
            if not isinstance(text, str) or not text.strip():
                self.problem(f'{name} has no "dutyDetail" (the duty\'s text).')
                continue
            if guid is not None and guid in seen:
                self.problem(f"the duty identifier {guid} is used twice.")
                continue
            mapped: list[str] = []
            for kind, list_name in DUTY_MAPPINGS:
                for value in self._mapping_list(entry, list_name, name):
                    ksb_guid = self._guid(value, f'a GUID in {name}\'s "{list_name}"')
                    if ksb_guid is None:
                        continue
                    # A mapping filed under the wrong kind still names a statement of the standard.
                    code = codes.get(ksb_guid)
                    if code is None:
                        self.problem(
                            f'{name} maps the {KIND_NOUN[kind]} {ksb_guid} in "{list_name}", '
                            "which is not one of the standard's KSBs."
                        )
                    elif code not in mapped:
                        mapped.append(code)
            mapped_options: list[int] = []
            for value in self._mapping_list(entry, "mappedOptions", name):
                option_guid = self._guid(value, f'a GUID in {name}\'s "mappedOptions"')
                if option_guid is None:
                    continue
                if option_guid not in option_numbers:
                    self.problem(f"{name} maps the option {option_guid}, which is not one of the standard's options.")
                elif option_numbers[option_guid] not in mapped_options:
                    mapped_options.append(option_numbers[option_guid])
            is_core = entry.get("isThisACoreDuty")
            if is_core is None:
                is_core = not mapped_options
            elif is_core in (0, 1):
                is_core = bool(is_core)
            else:
                self.problem(f'{name}\'s "isThisACoreDuty" must be 0 or 1, not {_show(is_core)}.')
                continue
            criteria = entry.get("criteriaForMeasuringPerformance") or ""
            if not isinstance(criteria, str):
                self.problem(f'{name}\'s "criteriaForMeasuringPerformance" must be text.')
                continue
            if guid is None:
                continue
            seen.add(guid)
            duties.append(
                DutyData(
                    number=number,
                    external_id=guid,
                    text=text.strip(),
                    is_core=is_core,
                    criteria=criteria.strip(),
                    ksb_codes=tuple(mapped),
                    option_numbers=tuple(mapped_options),
                )
            )
        return duties

    def _mapping_list(self, entry: dict, list_name: str, name: str) -> list:
        value = entry.get(list_name)
        # Older standards give null where newer ones give a list.
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f'{name}\'s "{list_name}" must be a list of GUIDs or null.')
            return []
        return value


def _show(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."
