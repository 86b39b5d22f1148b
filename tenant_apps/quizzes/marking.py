"""What a question's answer key and a student's answer look like, and how an
answer scores, without the database.

Scoring:
- single choice and true/false: all or nothing;
- multiple choice (several correct options), Canvas's partial credit:
  points * max(0, (correct options chosen - wrong options chosen) / correct
  options), so choosing everything earns nothing and a wrong choice costs as
  much as a right one earns;
- short answer: right when the answer matches any accepted answer once both
  are normalised (Unicode NFKC, trimmed, inner whitespace collapsed, and case
  folded unless the question is case sensitive);
- essay: graded by hand; an essay left blank scores 0 at once, so it does not
  wait in the grading queue.
"""

import secrets
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from conceptspro.api import ApplicationError

from .models import CHOICE_TYPES, QuestionType, ScoringPolicy

CENT = Decimal("0.01")
MAX_OPTIONS = 50
MAX_ACCEPTED = 50
MAX_OPTION_TEXT = 2_000
MAX_SHORT_ANSWER = 1_000
MAX_ESSAY = 50_000


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError("The question is not valid.", code="invalid", fields={field: [message]})


def normalised(text: str, *, case_sensitive: bool) -> str:
    """Compatibility forms folded (full-width letters, ligatures), whitespace
    trimmed and collapsed, and case folded unless it matters. NFKC runs again
    after case folding, which can produce characters NFKC would change."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    if not case_sensitive:
        text = unicodedata.normalize("NFKC", text.casefold())
    return text


# --- the answer key ---------------------------------------------------------------


def _options_clean(raw, previous: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Options as stored and the map from the ids the caller gave to the stored
    ids. An id already stored on this question is kept; any other id is the
    caller's label for a new option and gets a fresh random one, so option ids
    never tell a student in which order the author wrote the options."""
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        raise _invalid("options", f"Give between 2 and {MAX_OPTIONS} options.")
    kept_ids = {option["id"] for option in previous}
    options, id_map = [], {}
    for index, option in enumerate(raw):
        where = f"options[{index}]"
        if not isinstance(option, dict) or set(option) - {"id", "text"}:
            raise _invalid(where, 'Each option is {"id", "text"}.')
        text, given = option.get("text"), option.get("id")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_OPTION_TEXT:
            raise _invalid(f"{where}.text", f"Required, at most {MAX_OPTION_TEXT} characters.")
        if not isinstance(given, str) or not given or len(given) > 64 or given in id_map:
            raise _invalid(f"{where}.id", "Required, unique, at most 64 characters.")
        stored = given if given in kept_ids else secrets.token_hex(6)
        id_map[given] = stored
        options.append({"id": stored, "text": text})
    return options, id_map


def _choice_key(raw, id_map: dict[str, str], *, single: bool):
    if single:
        if not isinstance(raw, str) or raw not in id_map:
            raise _invalid("correct", "The id of the correct option.")
        return id_map[raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(i, str) for i in raw):
        raise _invalid("correct", "A list of the ids of the correct options.")
    if len(set(raw)) != len(raw) or not set(raw) <= set(id_map):
        raise _invalid("correct", "Distinct ids of this question's options.")
    return sorted(id_map[i] for i in raw)


def _accepted_answers(raw, *, case_sensitive: bool) -> list[str]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ACCEPTED:
        raise _invalid("correct", f"A list of 1 to {MAX_ACCEPTED} accepted answers.")
    for answer in raw:
        if not isinstance(answer, str) or len(answer) > MAX_SHORT_ANSWER or "\x00" in answer:
            # NUL: a form-encoded `correct` is parsed by the field, past the JSON
            # parser's check, and jsonb cannot store it.
            raise _invalid("correct", f"Accepted answers are text of at most {MAX_SHORT_ANSWER}.")
        if not normalised(answer, case_sensitive=case_sensitive):
            raise _invalid("correct", "An accepted answer cannot be blank.")
    return list(raw)


def question_key_clean(
    *, type: str, options, correct, case_sensitive: bool, previous_options: list[dict]
) -> tuple[list[dict], object]:
    """The options and answer key as stored, checked against the question's
    type; 400 naming the field otherwise. `previous_options` are the stored
    options of the question being changed (empty for a new one)."""
    if type in CHOICE_TYPES:
        stored, id_map = _options_clean(options, previous_options)
        key = _choice_key(correct, id_map, single=type == QuestionType.SINGLE_CHOICE)
        return stored, key
    if options not in (None, []):
        raise _invalid("options", "Only choice questions have options.")
    if type == QuestionType.TRUE_FALSE:
        if not isinstance(correct, bool):
            raise _invalid("correct", "true or false.")
        return [], correct
    if type == QuestionType.SHORT_ANSWER:
        return [], _accepted_answers(correct, case_sensitive=case_sensitive)
    if correct is not None:
        raise _invalid("correct", "An essay has no answer key.")
    return [], None


# --- a student's answer ---------------------------------------------------------------


def answer_clean(question, raw, *, field: str):
    """A student's answer as stored (None: unanswered); 400 naming `field`
    when it does not fit the question."""
    if raw is None:
        return None
    option_ids = {option["id"] for option in question.options}
    kind = question.type
    if kind == QuestionType.SINGLE_CHOICE:
        if isinstance(raw, str) and raw in option_ids:
            return raw
        raise _answer_invalid(field, "The id of one of the question's options.")
    if kind == QuestionType.MULTIPLE_CHOICE:
        if isinstance(raw, list) and all(isinstance(i, str) and i in option_ids for i in raw):
            chosen = sorted(set(raw))
            return chosen or None
        raise _answer_invalid(field, "A list of ids of the question's options.")
    if kind == QuestionType.TRUE_FALSE:
        if isinstance(raw, bool):
            return raw
        raise _answer_invalid(field, "true or false.")
    limit = MAX_SHORT_ANSWER if kind == QuestionType.SHORT_ANSWER else MAX_ESSAY
    if isinstance(raw, str) and len(raw) <= limit:
        return raw if raw.strip() else None
    raise _answer_invalid(field, f"Text of at most {limit} characters.")


def _answer_invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "An answer does not fit its question.", code="invalid", fields={field: [message]}
    )


# --- marking -------------------------------------------------------------------------------


def mark(question, answer) -> tuple[bool | None, Decimal | None]:
    """(is_correct, points earned) of `answer` to `question`; (None, None) for
    an answered essay, which waits for its grader."""
    points = Decimal(question.points)
    kind = question.type
    if answer is None:
        return False, Decimal("0.00")
    if kind == QuestionType.ESSAY:
        return None, None
    if kind == QuestionType.MULTIPLE_CHOICE:
        return _partial_credit(points, set(question.correct), set(answer))
    if kind == QuestionType.SHORT_ANSWER:
        given = normalised(answer, case_sensitive=question.case_sensitive)
        right = any(
            given == normalised(accepted, case_sensitive=question.case_sensitive)
            for accepted in question.correct
        )
    else:  # single choice, true/false
        right = answer == question.correct
    return right, (points if right else Decimal("0")).quantize(CENT)


def _partial_credit(points: Decimal, correct: set, chosen: set) -> tuple[bool, Decimal]:
    right, wrong = len(chosen & correct), len(chosen - correct)
    fraction = max(Decimal(0), Decimal(right - wrong) / len(correct))
    earned = (points * fraction).quantize(CENT, rounding=ROUND_HALF_UP)
    return chosen == correct, earned


def kept_score(scored: list[tuple[int, Decimal]], policy: str) -> tuple[Decimal, int]:
    """The score the gradebook keeps from (attempt number, score) of a
    student's graded attempts, and the attempt number it comes from (for the
    average, the latest). Keep the highest picks the earliest of equal scores."""
    if policy == ScoringPolicy.KEEP_LATEST:
        number, score = max(scored)
        return score, number
    if policy == ScoringPolicy.AVERAGE:
        total = sum((score for _, score in scored), Decimal("0"))
        return (total / len(scored)).quantize(CENT, rounding=ROUND_HALF_UP), max(scored)[0]
    number, score = max(scored, key=lambda pair: (pair[1], -pair[0]))
    return score, number


def percentage(score, points) -> Decimal | None:
    if score is None or not points:
        return None
    return (Decimal(score) * 100 / Decimal(points)).quantize(CENT, rounding=ROUND_HALF_UP)
