"""The Data page's export form and the API tokens form: shape only."""

from django import forms

from deliberation.models import ExportJob
from deliberation.services.api_tokens import NAME_MAX


class ExportForm(forms.Form):
    schema = forms.ChoiceField(
        choices=ExportJob.Schema.choices, initial=ExportJob.Schema.TIDY, widget=forms.RadioSelect
    )
    fmt = forms.ChoiceField(
        label="Format",
        choices=ExportJob.Format.choices,
        initial=ExportJob.Format.PARQUET,
        widget=forms.RadioSelect,
    )
    include_bots = forms.BooleanField(
        required=False,
        label="Include bot participants",
        help_text="Bots are marked by their provenance (bot_citizen).",
    )
    include_identifiers = forms.BooleanField(
        required=False,
        label="Include panel identifiers (Prolific, MTurk, xid)",
        help_text="Only for holders of the export-identifiers permission; the export is "
        "audit-logged with this choice.",
    )

    def __init__(self, *args, identifiers_allowed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not identifiers_allowed:
            del self.fields["include_identifiers"]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="What the token is for, e.g. the script or notebook that uses it.",
    )
