"""No frozen page in the embedded default (no broker: Celery eager, tasks in a background thread
after the response): the last member's opinion is answered while the mediation is still running,
and the waiting page shows the mediator at work. The model server is a fake at the network edge
that holds the generator's request until the test lets go of it."""

import pytest
from django.test import Client

from deliberation.access import session_key
from deliberation.models import Iteration
from tests.deliberation.test_model_faults import model_server  # noqa: F401
from tests.deliberation.test_round_flow import OPINIONS, current_iteration, write_all
from tests.inference.vllm_fake_server import Reply
from tests.worker import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_last_opinion_is_answered_before_the_mediation_ends(
    make_group,
    model_server,  # noqa: F811
    settings,
):
    settings.EAGER_TASKS_IN_BACKGROUND = True  # the embedded default, where no broker is set
    deliberation, members = make_group(3)
    model_server.rule = lambda request: Reply("hang")
    deliberation.mediation_config = {
        **deliberation.mediation_config,
        "generator": {
            "backend": "vllm",
            "url": model_server.url,
            "model": "fake/model-7b",
            "options": {"timeout": 60, "retries": 0},
        },
    }
    deliberation.save(update_fields=["mediation_config"])
    write_all(members[:2])
    last = Client()
    session = last.session
    session[session_key(deliberation)] = str(members[2].public_id)
    session.save()
    iteration = current_iteration(members[2])

    response = last.post(
        f"/j/{deliberation.public_id}/opinion/{iteration.pk}/", {"text": OPINIONS[2]}
    )
    assert response.status_code == 302
    # Answered, and the mediation has reached the model server, which has not answered it.
    wait_until(lambda: model_server.requests, timeout=30, what="the generator to be called")
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.MEDIATING
    page = last.get(response.url).content.decode()
    assert "The mediator is writing a group statement" in page

    model_server.stop()  # the held request fails; the mediation ends (failed, nothing lost)
    wait_until(
        lambda: Iteration.objects.get(pk=iteration.pk).state == Iteration.State.FAILED,
        timeout=60,
        what="the mediation to end in the background",
    )
