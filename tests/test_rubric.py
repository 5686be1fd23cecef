"""The rubric table: defaults, and every bad value named by its key (criteria by their key)."""
import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from integration import config_errors
from integration.rubric import DEFAULT_RUBRIC, Rubric, RubricError, load_rubric


def problems(raw, where="rubric"):
    with pytest.raises(RubricError) as info:
        load_rubric(raw, where)
    return str(info.value).splitlines()


def test_no_table_or_an_empty_one_is_the_default_rubric():
    assert load_rubric(None) == load_rubric({}) == DEFAULT_RUBRIC
    assert DEFAULT_RUBRIC.keys == ("discovery_questions", "objection_handling", "closing_technique", "next_steps_agreed")
    assert (DEFAULT_RUBRIC.scale_min, DEFAULT_RUBRIC.scale_max, DEFAULT_RUBRIC.mastery_bar) == (1, 5, Decimal(4))
    assert (DEFAULT_RUBRIC.reviews_to_graduate, DEFAULT_RUBRIC.window) == (5, 5)
    assert all(c.label and c.description and c.weight == 1 for c in DEFAULT_RUBRIC.criteria)


def test_a_full_table_loads_with_decimal_weights_normalised_exactly():
    rubric = load_rubric({
        "scale": {"min": 0, "max": 10}, "mastery_bar": 7.5, "reviews_to_graduate": 3, "window": 6,
        "criteria": [{"key": "discovery", "label": "Discovery", "description": "Asks why", "weight": 1.5},
                     {"key": "closing", "weight": 0.5}],
    })  # fmt: skip
    assert isinstance(rubric, Rubric)
    assert (rubric.scale_min, rubric.scale_max, rubric.mastery_bar, rubric.reviews_to_graduate, rubric.window) == (0, 10, Decimal("7.5"), 3, 6)
    assert [c.weight for c in rubric.criteria] == [Decimal("1.5"), Decimal("0.5")]
    assert rubric.criterion("closing").label == "Closing"  # the key, readable, when no label is given
    assert rubric.weights() == {"discovery": Fraction(3, 4), "closing": Fraction(1, 4)}


def test_window_defaults_to_the_reviews_needed_to_graduate():
    assert load_rubric({"reviews_to_graduate": 8}).window == 8


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"criteria": [{"key": "discovery_questions"}, {"key": "objection_handling", "weight": 0}]},
         "rubric.criteria[objection_handling].weight: must be greater than 0 and at most 100"),
        ({"criteria": [{"key": "objection_handling", "weight": -1}]},
         "rubric.criteria[objection_handling].weight: must be greater than 0 and at most 100"),
        ({"criteria": [{"key": "objection_handling", "weight": "heavy"}]}, "rubric.criteria[objection_handling].weight: Not a valid number"),
        ({"criteria": [{"key": "objection_handling", "weight": float("nan")}]},
         "rubric.criteria[objection_handling].weight: Special numeric values (nan or infinity) are not permitted"),
        ({"criteria": [{"key": "objection_handling", "weight": True}]}, "rubric.criteria[objection_handling].weight: Not a valid number"),
        ({"criteria": [{"key": "closing", "wieght": 2}]}, "rubric.criteria[closing].wieght: unknown key; did you mean weight?"),
        ({"criteria": [{"key": "closing", "label": "x" * 41}]}, "rubric.criteria[closing].label: must be 1 to 40 characters"),
        ({"criteria": [{"key": "Closing"}]},
         "rubric.criteria[0].key: must be lower_snake_case letters and digits, 2 to 23 characters (it becomes CRM field names)"),
        ({"criteria": [{"key": "closing__x"}]},
         "rubric.criteria[0].key: must be lower_snake_case letters and digits, 2 to 23 characters (it becomes CRM field names)"),
        ({"criteria": [{"key": "a" * 24}]},
         "rubric.criteria[0].key: must be lower_snake_case letters and digits, 2 to 23 characters (it becomes CRM field names)"),
        ({"criteria": [{"weight": 1}]}, "rubric.criteria[0].key: Missing data for required field"),
        ({"criteria": [{"key": "closing"}, {"key": "closing"}]},
         "rubric.criteria[1].key: duplicate criterion key; each criterion needs its own key"),
        ({"criteria": []}, "rubric.criteria: needs 1 to 10 criteria"),
        ({"criteria": [{"key": f"c{i}"} for i in range(11)]}, "rubric.criteria: needs 1 to 10 criteria"),
        ({"criteria": "discovery"}, "rubric.criteria: Not a valid list"),
        ({"scale": {"min": 5, "max": 5}, "mastery_bar": 5}, "rubric.scale.max: must be greater than scale.min (5)"),
        ({"scale": {"min": 1, "max": 5.5}}, "rubric.scale.max: Not a valid integer"),
        ({"scale": {"max": 10}}, "rubric.mastery_bar: needed when the scale is not the default 1 to 5"),
        ({"mastery_bar": 5.5}, "rubric.mastery_bar: must be above the scale's minimum (1) and at most its maximum (5)"),
        ({"mastery_bar": 1}, "rubric.mastery_bar: must be above the scale's minimum (1) and at most its maximum (5)"),
        ({"reviews_to_graduate": 0}, "rubric.reviews_to_graduate: Must be greater than or equal to 1 and less than or equal to 50"),
        ({"reviews_to_graduate": 2.5}, "rubric.reviews_to_graduate: Not a valid integer"),
        ({"reviews_to_graduate": 4, "window": 3}, "rubric.window: must be at least reviews_to_graduate (4)"),
        ({"mastery_bar_": 4}, "rubric.mastery_bar_: unknown key; did you mean mastery_bar?"),
        ("strict", "rubric: must be a table ([rubric])"),
    ],
)  # fmt: skip
def test_each_bad_value_is_one_line_naming_its_key(raw, expected):
    assert problems(raw) == [expected]


def test_every_problem_is_reported_at_once_and_the_prefix_names_the_tenant():
    lines = problems({"criteria": [{"key": "closing", "weight": 0}], "mastery_bar": 9, "window": 2}, where="tenants[acme].rubric")
    assert lines == [
        "tenants[acme].rubric.criteria[closing].weight: must be greater than 0 and at most 100",
        "tenants[acme].rubric.mastery_bar: must be above the scale's minimum (1) and at most its maximum (5)",
        "tenants[acme].rubric.window: must be at least reviews_to_graduate (5)",
    ]


def test_problems_render_the_same_through_the_config_error_lines():
    """The config loader can add `("tenants", i, "rubric")` in front and get the same key path."""
    with pytest.raises(RubricError) as info:
        load_rubric({"criteria": [{"key": "objection_handling", "weight": 0}]})
    raw = {"tenants": [{"id": "acme"}]}
    lines = config_errors.lines("gamefilm.toml", raw, [(("tenants", 0, "rubric", *p), m) for p, m in info.value.problems], lambda _: [])
    assert lines == ["gamefilm.toml: tenants[acme].rubric.criteria[objection_handling].weight: must be greater than 0 and at most 100"]


def _toml_after(text, marker):
    block = text[text.index(marker):]
    return tomllib.loads(block[block.index("```toml") + len("```toml"):].split("```", 1)[0])


@pytest.mark.parametrize("source, marker", [(Path("README.md"), "### Rubric and scores"), (Path("integration/rubric.py"), '"""')])
def test_the_documented_examples_load(source, marker):
    table = _toml_after((Path(__file__).resolve().parents[1] / source).read_text(), marker)["rubric"]
    rubric = load_rubric(table)
    assert rubric.criteria[0].weight == 1 and rubric.mastery_bar == 4 and rubric.window == 5
