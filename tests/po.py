"""Reading the translation catalogues (locale/<lang>/LC_MESSAGES/django.po) without gettext."""

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Message:
    msgid: str
    plural: str
    translations: list[str]
    fuzzy: bool


def read_po(path: Path) -> list[Message]:
    """The messages of a .po file (not its header), as GNU gettext writes them."""
    messages = []
    for entry in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key, fuzzy = None, False
        for line in entry.splitlines():
            if line.startswith("#,"):
                fuzzy = fuzzy or "fuzzy" in line
            elif line.startswith("#~"):
                key = None  # an obsolete message, kept by msgmerge
            elif line.startswith(("msgid", "msgstr")):
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            messages.append(
                Message(
                    msgid=fields["msgid"],
                    plural=fields.get("msgid_plural", ""),
                    translations=[v for k, v in sorted(fields.items()) if k.startswith("msgstr")],
                    fuzzy=fuzzy,
                )
            )
    return messages


def catalogue(locale: str) -> Path:
    return ROOT / "locale" / locale / "LC_MESSAGES" / "django.po"
