"""results.json as Gradescope's autograder specification ("Output format") describes it: only the
documented keys, a numeric score, and per test a name, numeric score and maximum, a status of
"passed" or "failed" agreeing with the score, and text output."""

import json

from vaebook.grade import Outcome, gradescope_results

TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
             "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
PER_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
            "visibility", "extra_data"}


def test_results_use_only_the_documented_fields_with_their_types():
    outcomes = [Outcome("kl-diag-gaussian", 2, 2), Outcome("reparameterize", 0, 3, ["reparameterize: failed: mean"])]
    results = json.loads(json.dumps(gradescope_results(outcomes)))     # what is written is JSON
    assert set(results) <= TOP_LEVEL and isinstance(results["score"], (int, float))
    assert results["score"] == sum(test["score"] for test in results["tests"]) == 2
    for test, outcome in zip(results["tests"], outcomes):
        assert set(test) <= PER_TEST and test["name"] == outcome.id
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        assert isinstance(test["output"], str) and test["output"]
    assert results["tests"][1]["output"] == "reparameterize: failed: mean"
