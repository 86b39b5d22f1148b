"""Review of the assessment apps (assignments, quizzes, grading): regressions
for the defects found, each through the API as a client would meet it."""

import pytest

from .api_helpers import error_code
from .test_quizzes_api import API, _create_quiz
from .test_quizzes_api import world as quiz_world  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_a_form_encoded_answer_key_with_a_nul_is_a_400_not_a_500(quiz_world):  # noqa: F811
    """`correct` is a JSONField: a form-encoded body is parsed by the field
    itself, past the JSON parser's NUL check, and PostgreSQL's jsonb cannot
    store \\u0000."""
    quiz = _create_quiz(quiz_world)
    body = {"type": "short_answer", "text": "Q?", "points": "1", "correct": '["a\\u0000b"]'}
    response = quiz_world.client("instructor").post(f"{API}/quizzes/{quiz['id']}/questions/", body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert "correct" in response.json()["error"]["fields"]


@pytest.mark.parametrize("depth", [900, 5000])
def test_deeply_nested_json_is_a_400_not_a_500(quiz_world, depth):  # noqa: F811
    """Python's JSON decoder (and the NUL check after it) recurse per level:
    a few kilobytes of brackets must be refused, not end in a RecursionError."""
    quiz = _create_quiz(quiz_world)
    body = '{"correct": ' + "[" * depth + "]" * depth + "}"
    response = quiz_world.client("instructor").post(
        f"{API}/quizzes/{quiz['id']}/questions/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert error_code(response) == "malformed_request"
