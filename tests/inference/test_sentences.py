"""How a participant's sentence is made presentable inside a group statement."""

import pytest

from inference.generators.sentences import presentable, split_sentences


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Otherwise I support fewer cars in the centre.", "I support fewer cars in the centre."),
        ("But a full ban is too much", "A full ban is too much."),
        ("However, I think that buses matter a lot.", "Buses matter a lot."),
        ("i think that schools should start later", "Schools should start later."),
        ("So what.", "So what."),  # too little would remain: kept as written
        ("  Buses  should be   free ", "Buses should be free."),
    ],
)
def test_presentable_drops_dangling_connectives_and_hedges_but_keeps_the_words(raw, shown):
    assert presentable(raw) == shown


def test_split_sentences_copes_with_double_spaces_and_missing_full_stops():
    parts = split_sentences("Buses should be free.  Trains too\nAnd bikes should be cheap")
    assert len(parts) == 3
