"""The household register: the members CSV import (interfaces.md, Files: Members).

- importer: Members import (interfaces.md, Files: Members): every row is checked before anything
  is
- rows: One members file row at a time (interfaces.md, Files: Members): each cell checked against
- upsert: The members import's writes: the mutual's rows read in one query per table, compared
  with
"""

from gateway.services.members.importer import (
    COLUMNS,
    ImportErrors,
    ImportReport,
    import_members,
)

__all__ = [
    "COLUMNS",
    "ImportErrors",
    "ImportReport",
    "import_members",
]
