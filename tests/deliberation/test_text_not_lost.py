"""Nothing typed is lost, through the pages (Django's test client, real PostgreSQL): a refused
send keeps the text and says why; a different text sent after the first was stored (Back after
sending, a second tab) is refused with 409 and the page says so and gives the text back; the
writing page carries what the draft script needs and no inline script of its own."""

import pytest

from deliberation.access import session_key
from deliberation.models import Opinion
from deliberation.selectors.participant import participant_step
from tests.commits import CommittingClient

pytestmark = pytest.mark.django_db


def _writing_member(make_group):
    deliberation, members = make_group(3)
    client = CommittingClient()
    session = client.session
    session[session_key(deliberation)] = str(members[0].public_id)
    session.save()
    step = participant_step(members[0])
    assert step.kind == "write_opinion"
    return (
        deliberation,
        members[0],
        client,
        f"/j/{deliberation.public_id}/opinion/{step.iteration.pk}/",
    )


def test_a_too_long_opinion_is_refused_with_its_text_kept(make_group):
    deliberation, member, client, url = _writing_member(make_group)
    page = client.get(f"/j/{deliberation.public_id}/go/").content.decode()
    assert f'data-draft="{participant_step(member).iteration.pk}"' in page
    assert 'data-limit="2000"' in page and 'id="text-count"' in page
    assert f'data-scope="cg-draft:{deliberation.public_id}:{member.public_id}"' in page
    assert '<script src="/static/js/drafts.js">' in page

    text = "A" * 2001
    response = client.post(url, {"text": text})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your opinion is 2,001 characters long; please keep it to 2,000." in html
    assert "Your text is kept below." in html
    assert f">{text}</textarea>" in html
    assert not Opinion.objects.exists()


def test_a_different_text_after_the_first_was_sent_is_refused_and_given_back(make_group):
    deliberation, member, client, url = _writing_member(make_group)
    first = "Closing the centre makes it calmer. Shops need a trial first."
    assert client.post(url, {"text": first}).status_code == 302
    # Back to the writing page (from the browser's history), an edit, and a send.
    second = "On second thought: close it only in summer."
    response = client.post(url, {"text": second})
    assert response.status_code == 409
    html = response.content.decode()
    assert "You have already sent your opinion; it cannot be changed." in html
    assert "The text you just sent was not saved." in html
    assert f'<blockquote class="statement" id="unsaved-text">{second}</blockquote>' in html
    assert Opinion.objects.get(participant=member).text == first
