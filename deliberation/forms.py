"""Participant forms: they check shape; the services check the rules and give the messages."""

from django import forms

from deliberation.models import TEXT_MAX
from deliberation.services.ratings import AGREEMENT_LABELS, QUALITY_LABELS


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        required=True,
        label="I have read the information above and agree to take part.",
        error_messages={"required": "Please tick the box to agree before you continue."},
    )
    version = forms.CharField(widget=forms.HiddenInput)


class TextForm(forms.Form):
    """An opinion or a critique. Length is checked by the service, whose message is shown."""

    text = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "aria-describedby": "text-hint"}),
    )
    duration_ms = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, label: str = "Your opinion", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = label
        # A generous client-side cap: the server's limit is what counts, with its own message.
        self.fields["text"].widget.attrs["maxlength"] = str(TEXT_MAX * 2)


def _likert(labels: dict[int, str], legend: str, what: str) -> forms.TypedChoiceField:
    message = f"Please choose a number from 1 to 7 for {what}."
    return forms.TypedChoiceField(
        label=legend,
        choices=[(value, f"{value} · {text}") for value, text in labels.items()],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": message, "invalid_choice": message},
    )


class RatingForm(forms.Form):
    agreement = _likert(AGREEMENT_LABELS, "How much do you agree with this statement?", "agreement")
    quality = _likert(QUALITY_LABELS, "How good is this statement, as a statement?", "quality")
    duration_ms = forms.IntegerField(required=False, widget=forms.HiddenInput)
