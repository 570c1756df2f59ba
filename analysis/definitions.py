"""What every number of the report means (METHOD.md §6), in one place for the docstrings, the
results page, the JSON and the README. Definitions marked "ours" are not from the papers."""

from __future__ import annotations

MIN_GROUPS_FOR_INTERVAL = 5
CONFIDENCE = 0.95
NO_CONDITION = "(none)"

DEFINITIONS: dict[str, str] = {
    "groups": (
        "Groups of the condition in which at least one included participant gave a rating. "
        "Groups are the unit of every bootstrap interval."
    ),
    "participants": (
        "Participants seated in the condition's groups, people (human_citizen) and bots "
        "(bot_citizen) counted apart. Bots are left out of every other figure unless the report "
        "was asked to include them, and then the report says so."
    ),
    "winner_mean_agreement": (
        "For each winning statement (the mediator's pick of an iteration), the mean agreement "
        "(1-7) of the members who rated it; then the mean over the winners of the condition."
    ),
    "winner_min_agreement": (
        "For each winning statement, the lowest agreement any member gave it; then the mean over "
        "the winners of the condition."
    ),
    "winner_mean_quality": (
        "For each winning statement, the mean quality rating (1-7); then the mean over winners."
    ),
    "ede": (
        "Welfare of the observed agreement ratings of each winner as the equally-distributed "
        "equivalent EDE_alpha = ((1/n) sum u_i^(1-alpha))^(1/(1-alpha)) (METHOD.md §2): alpha = 0 "
        "the mean, 1 the geometric mean, inf the minimum; then the mean over winners."
    ),
    "divisiveness": (
        "Ours (the papers publish no formula): for each winner, the mean absolute difference "
        "between the agreement ratings of every pair of members who rated it (0 = everyone "
        "agrees equally); then the mean over winners with at least two ratings."
    ),
    "win_rate": (
        "Statements of role a against role b shown together in an iteration (candidate = the "
        "mediator's winner): among members who rated both, the share who gave a the higher "
        "agreement, ties counted half, pooled over members of every group of the condition at "
        "that iteration index. 0.5 = no preference."
    ),
    "revision_win_rate": (
        "The winner of iteration k (a = revision) against the winner of iteration k - 1 "
        "(b = previous_winner) of the same round: the member's final ranking decides where "
        "they gave one that places both, otherwise their agreement ratings; ties count half."
    ),
    "interval": (
        "95% percentile bootstrap interval: groups are resampled with replacement (seeded; the "
        "number of resamples is reported) and the statistic recomputed from the members of the "
        "resampled groups. Not given when fewer than "
        f"{MIN_GROUPS_FOR_INTERVAL} groups contribute: the note says so."
    ),
    "exclusion_effect": (
        "In exclusion conditions, per iteration index: the mean agreement with the winner of "
        "members left out of the mediation minus that of members included, each pooled over "
        "members, over groups that had both. Negative = excluded members agree less."
    ),
    "position_change": (
        "Agreement (1-7) with the question's position statement after the round minus before, "
        "over members who gave both, pooled over members."
    ),
    "position_spread": (
        "Ours: within a group and round, the mean absolute difference between the position "
        "ratings of every pair of members who gave both (before and after); then the mean over "
        "group-rounds. A negative change = positions moved closer together."
    ),
    "critique_uptake": (
        "Ours: for each critique of a winner, whether the next iteration's winner (the "
        "revision) is more similar to the critique than the critiqued winner was; similarity is "
        "a bag-of-words cosine unless another is given. Share of critiques taken up, and the "
        "mean gain in similarity."
    ),
    "minority": (
        "A member's side on the question is their position rating before the round (above 4 "
        "agree, below 4 disagree). The majority side is the one more members of the group took; "
        "members on the other side are the minority. Neutral members, and groups split evenly, "
        "count in neither."
    ),
    "calibration_mae": (
        "Mean absolute difference between the reward model's predicted agreement and the "
        "agreement the member then gave, over every rated statement with a prediction."
    ),
    "calibration_spearman": (
        "Spearman rank correlation of predicted and observed agreement within each group (over "
        "its member-statement pairs), then the median over groups with at least 3 pairs and "
        "some variation on both sides."
    ),
    "calibration_pairwise_accuracy": (
        "Over pairs of statements one member rated in the same iteration with different "
        "agreement, the share where the prediction orders them the same way (equal predictions "
        "count half)."
    ),
    "calibration_bins": (
        "Predictions grouped by value into the bins [1,2), [2,3), ... [6,7]: pairs, mean "
        "predicted and mean observed agreement in each. A calibrated model has them equal."
    ),
    "split": (
        "The question's split (train, iid_test, ood_test; none when unset). Only held-out "
        "questions (iid_test, ood_test) measure a trained model fairly."
    ),
}
