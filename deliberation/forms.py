"""Participant forms: they check shape; the services check the rules and give the messages.
Their words are in the request's language (the deliberation's, on participant pages)."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext

from deliberation.models import TEXT_MAX
from deliberation.selectors.participant import statement_letters
from deliberation.services.ratings import AGREEMENT_LABELS, QUALITY_LABELS


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        required=True,
        label=gettext_lazy("I have read the information above and agree to take part."),
        error_messages={
            "required": gettext_lazy("Please tick the box to agree before you continue.")
        },
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

    def __init__(self, *args, label: str = gettext_lazy("Your opinion"), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = label
        # A generous client-side cap: the server's limit is what counts, with its own message.
        self.fields["text"].widget.attrs["maxlength"] = str(TEXT_MAX * 2)


def _likert(labels: dict[int, str], legend: str, message: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=legend,
        choices=[(value, format_lazy("{} · {}", value, text)) for value, text in labels.items()],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": message, "invalid_choice": message},
    )


AGREEMENT_MISSING = gettext_lazy("Please choose a number from 1 to 7 for agreement.")


class RatingForm(forms.Form):
    agreement = _likert(
        AGREEMENT_LABELS,
        gettext_lazy("How much do you agree with this statement?"),
        AGREEMENT_MISSING,
    )
    quality = _likert(
        QUALITY_LABELS,
        gettext_lazy("How good is this statement, as a statement?"),
        gettext_lazy("Please choose a number from 1 to 7 for quality."),
    )
    duration_ms = forms.IntegerField(required=False, widget=forms.HiddenInput)


class PositionForm(forms.Form):
    agreement = _likert(AGREEMENT_LABELS, gettext_lazy("How much do you agree?"), AGREEMENT_MISSING)


class RankingForm(forms.Form):
    """One place (1 = best) per statement; the plain-form fallback of the ranking widget.

    Every place starts unchosen (a blank "Choose a place" option) and must be chosen: a form sent
    untouched is refused, so no order the member did not give is ever stored. Equal places are
    allowed (a tie), as in [T24]'s data. `statements` are in the member's order; each field is
    named `place_<statement id>`.
    """

    def __init__(self, *args, statements=(), **kwargs):
        super().__init__(*args, **kwargs)
        count = len(statements)
        self.statements = list(statements)
        self.letters = dict((s.pk, letter) for letter, s in statement_letters(self.statements))
        for statement in self.statements:
            letter = self.letters[statement.pk]
            self.fields[f"place_{statement.pk}"] = forms.TypedChoiceField(
                choices=[("", gettext("Choose a place"))]
                + [(value, str(value)) for value in range(1, count + 1)],
                coerce=int,
                error_messages={
                    "required": gettext("Please choose a place for statement %(letter)s.")
                    % {"letter": letter},
                    "invalid_choice": gettext(
                        "Please give statement %(letter)s a place from 1 to %(count)s."
                    )
                    % {"letter": letter, "count": count},
                },
            )

    def clean(self):
        missing = [
            self.letters[s.pk]
            for s in self.statements
            if self.errors.get(f"place_{s.pk}") and not self.data.get(f"place_{s.pk}")
        ]
        if missing and len(missing) == len(self.statements):
            raise forms.ValidationError(
                gettext(
                    "Nothing was saved: you have not ranked the statements yet. Choose a place "
                    "for each one (1 for the one you like best), or use the Move up and Move down "
                    "buttons."
                ),
                code="ranking_untouched",
            )
        if missing:
            raise forms.ValidationError(
                ngettext(
                    "Nothing was saved: please choose a place for statement %(letters)s as well.",
                    "Nothing was saved: please choose a place for statements %(letters)s as well.",
                    len(missing),
                )
                % {"letters": ", ".join(missing)},
                code="ranking_incomplete",
            )
        return self.cleaned_data

    def places(self) -> dict[int, int]:
        return {s.pk: self.cleaned_data[f"place_{s.pk}"] for s in self.statements}

    def rows(self):
        """(letter, statement, bound field) in the member's order."""
        return [
            (self.letters[statement.pk], statement, self[f"place_{statement.pk}"])
            for statement in self.statements
        ]


SURVEY_LABELS = {
    1: gettext_lazy("Not at all"),
    2: gettext_lazy("Very little"),
    3: gettext_lazy("A little"),
    4: gettext_lazy("Somewhat"),
    5: gettext_lazy("Quite a lot"),
    6: gettext_lazy("A lot"),
    7: gettext_lazy("Completely"),
}


class SurveyForm(forms.Form):
    """The deliberation's end-of-round items; required ones are checked by the service too."""

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for item in self.items:
            if item["kind"] == "likert":
                field = _likert(
                    SURVEY_LABELS,
                    item["text"],
                    gettext("Please choose a number from 1 to 7 for this question."),
                )
            else:
                field = forms.CharField(
                    label=item["text"],
                    strip=False,
                    widget=forms.Textarea(attrs={"rows": 3, "maxlength": str(TEXT_MAX * 2)}),
                )
            field.required = bool(item.get("required"))
            self.fields[item["key"]] = field

    def answers(self) -> dict:
        return {key: self.cleaned_data.get(key) for key in self.fields}
