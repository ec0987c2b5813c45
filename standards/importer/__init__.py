"""Loading standards from the JSON the public apprenticeship standards API returns.

`GET https://www.instituteforapprenticeships.org/api/apprenticeshipstandards/{larsCode}` gives one
standard version as an object; the list endpoint gives a list of them. Either is accepted as it
comes, with the many fields the catalogue does not keep. KSBs are identified there by GUIDs;
the codes people cite (K1, S3, B2) are their 1-based positions in each list, so both are kept.

A whole file is checked before anything is written, and written in one transaction: it goes in
whole or not at all. A version already in the catalogue is never rewritten, because apprentices'
evidence and sign-offs point at its statements: importing it again only fills what was left
blank (an identifier, a date, duties nobody had loaded) and refuses a file whose statements
differ from the ones on record.
"""

from .reading import ImportRefused, StandardData, parse
from .writing import ImportOutcome, import_standards

__all__ = ["ImportOutcome", "ImportRefused", "StandardData", "import_standards", "parse"]
