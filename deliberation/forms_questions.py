"""Forms of the moderator's Questions page: the upload of a file to import, and the search.
They check the shape of the input; the import's rules live in `services.questions`."""

from __future__ import annotations

from django import forms

from deliberation.models import Question
from deliberation.selectors.question_bank import NO_SPLIT
from deliberation.services.questions import (
    IMPORT_BYTES_MAX,
    SOURCE_MAX,
    import_format_detect,
)

AUTO = "auto"


class QuestionImportForm(forms.Form):
    file = forms.FileField(
        label="Question file",
        help_text=(
            "JSON in the format of the Habermas Machine question bank, or CSV with a header row: "
            "question, affirming, negating, topic, split (id optional). UTF-8, at most "
            f"{IMPORT_BYTES_MAX // (1024 * 1024)} MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.csv,application/json,text/csv"}),
    )
    format = forms.ChoiceField(
        choices=[(AUTO, "From the file's extension"), ("json", "JSON"), ("csv", "CSV")],
        initial=AUTO,
    )
    source = forms.CharField(
        required=False,
        max_length=SOURCE_MAX,
        help_text="Recorded on every imported question. Default: the file's name without "
        "extension.",
    )
    dry_run = forms.BooleanField(
        label="Check only: report what would be imported, save nothing",
        required=False,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_BYTES_MAX:
            raise forms.ValidationError(
                f"The file is too big: {upload.size:,} bytes; the limit is "
                f"{IMPORT_BYTES_MAX // (1024 * 1024)} MB. Split it into smaller files."
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None and cleaned.get("format") == AUTO:
            detected = import_format_detect(upload.name)
            if detected is None:
                self.add_error(
                    "format",
                    f"The name {upload.name!r} ends neither in .json nor in .csv: choose the "
                    "format.",
                )
            else:
                cleaned["format"] = detected
        return cleaned


class QuestionSearchForm(forms.Form):
    q = forms.CharField(label="Text contains", required=False, max_length=200)
    topic = forms.CharField(required=False, max_length=64)
    split = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            *[(v, label) for v, label in Question.Split.choices if v],
            (NO_SPLIT, "None"),
        ],
    )
