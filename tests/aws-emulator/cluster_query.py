"""ECS's cluster query language, as ListContainerInstances' ``filter`` and the ``memberOf`` placement
constraint evaluate it against container instances.

moto 5.2.1 ignores ``filter`` and every placement constraint. This module parses an expression once
(``parse``) and evaluates it per container instance (``Expression.matches``), following the
"Cluster query language" page of the ECS Developer Guide:

* subjects ``attribute:<name>``, ``ec2InstanceId``, ``agentConnected`` and ``task:group`` (the
  groups of the tasks on the instance that are not STOPPED; true when any of them matches, so
  ``task:group != x`` means "hosts no task of group x");
* operators ``==``/``equals``, ``!=``/``not_equals``, ``in [a, b]``, ``!in``/``not_in [a, b]``,
  ``exists``, ``!exists``/``not_exists``, ``=~``/``matches`` and ``!~``/``not_matches`` (a Java-style
  regular expression that must match the whole value);
* ``and``/``&&``, ``or``/``||``, ``not``/``!`` and parentheses for precedence (``not`` binds
  tightest, then ``and``, then ``or``);
* values bare or in single or double quotes.

An attribute compared with ``!=``, ``!in`` or ``!~`` must exist: the guide's example
"``attribute:stack != prod``" lists "the instances with the custom attribute stack unless the
attribute value is prod". Anything else (the ordering operators, the subjects ``agentVersion``,
``registeredAt`` and ``runningTasksCount``, a syntax error) is an ``InvalidParameterException`` that
names what it could not read.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.ecs.exceptions import InvalidParameterException

_OPERATORS = {
    "==": "==", "equals": "==",
    "!=": "!=", "not_equals": "!=",
    "in": "in",
    "!in": "not_in", "not_in": "not_in",
    "exists": "exists",
    "!exists": "not_exists", "not_exists": "not_exists",
    "=~": "matches", "matches": "matches",
    "!~": "not_matches", "not_matches": "not_matches",
}  # fmt: skip
_UNSUPPORTED_OPERATORS = (">", ">=", "<", "<=", "greater_than", "greater_than_equal", "less_than", "less_than_equal")
_SUBJECTS = ("ec2InstanceId", "agentConnected", "task:group")
_UNSUPPORTED_SUBJECTS = ("agentVersion", "registeredAt", "runningTasksCount")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>&&|\|\||[()\[\],])
      | (?P<op>==|!=|=~|!~|>=|<=|>|<|!exists\b|!in\b)
      | (?P<bang>!)
      | '(?P<single>[^']*)'
      | "(?P<double>[^"]*)"
      | (?P<word>[^\s()\[\],=!<>~&|'"]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "punct", "op", "bang", "word" or "string"
    text: str


def _tokens(expression: str) -> list[Token]:
    tokens, position = [], 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidParameterException(f"Invalid cluster query expression {expression!r}: cannot read {text[position:].strip()!r}")
        position = match.end()
        kind = match.lastgroup
        if kind in ("single", "double"):
            tokens.append(Token("string", match[kind]))
        else:
            tokens.append(Token(kind, match[kind]))
    return tokens


class Expression:
    """A parsed expression: ``matches(instance, backend)`` says whether a container instance satisfies it."""

    def __init__(self, source: str, evaluate: Callable[[Any, Any], bool]):
        self.source = source
        self._evaluate = evaluate

    def matches(self, instance: Any, tasks_on: Callable[[Any], list[Any]]) -> bool:
        """``tasks_on(instance)`` lists the tasks placed on the instance (for ``task:group``)."""
        return self._evaluate(instance, tasks_on)


def parse(expression: str) -> Expression:
    """Parse ``expression`` or raise InvalidParameterException naming what is wrong with it."""
    if not expression or not expression.strip():
        raise InvalidParameterException("A cluster query expression must not be empty.")
    if len(expression) > 2000:
        raise InvalidParameterException("A cluster query expression can be at most 2000 characters long.")
    parser = _Parser(expression, _tokens(expression))
    evaluate = parser.disjunction()
    if parser.position < len(parser.tokens):
        parser.fail(f"unexpected {parser.tokens[parser.position].text!r}")
    return Expression(expression, evaluate)


def matches(expression: str, instance: Any, tasks_on: Callable[[Any], list[Any]]) -> bool:
    return parse(expression).matches(instance, tasks_on)


class _Parser:
    def __init__(self, source: str, tokens: list[Token]):
        self.source, self.tokens, self.position = source, tokens, 0

    def fail(self, why: str) -> None:
        raise InvalidParameterException(f"Invalid cluster query expression {self.source!r}: {why}")

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            self.fail("it ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.text.lower() in words and token.kind in ("word", "punct", "bang"):
            self.position += 1
            return True
        return False

    def disjunction(self) -> Callable[[Any, Any], bool]:
        parts = [self.conjunction()]
        while self.keyword("or", "||"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda ci, tasks: any(p(ci, tasks) for p in parts))

    def conjunction(self) -> Callable[[Any, Any], bool]:
        parts = [self.negation()]
        while self.keyword("and", "&&"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda ci, tasks: all(p(ci, tasks) for p in parts))

    def negation(self) -> Callable[[Any, Any], bool]:
        if self.keyword("not", "!"):
            inner = self.negation()
            return lambda ci, tasks: not inner(ci, tasks)
        if self.keyword("("):
            inner = self.disjunction()
            if not self.keyword(")"):
                self.fail("a '(' is not closed")
            return inner
        return self.clause()

    def clause(self) -> Callable[[Any, Any], bool]:
        subject = self.take()
        if subject.kind != "word":
            self.fail(f"expected a subject, found {subject.text!r}")
        name = subject.text
        if name in _UNSUPPORTED_SUBJECTS:
            raise InvalidParameterException(f"The emulator does not support the cluster query subject {name}")
        if not (name.startswith("attribute:") and len(name) > len("attribute:")) and name not in _SUBJECTS:
            self.fail(f"unknown subject {name!r} (attribute:<name>, ec2InstanceId, agentConnected or task:group)")
        op_token = self.take()
        if op_token.text.lower() in _UNSUPPORTED_OPERATORS:
            raise InvalidParameterException(f"The emulator does not support the cluster query operator {op_token.text}")
        op = _OPERATORS.get(op_token.text if op_token.kind == "op" else op_token.text.lower())
        if op is None or op_token.kind not in ("op", "word"):
            self.fail(f"unknown operator {op_token.text!r} after {name}")
        if op in ("exists", "not_exists"):
            values: list[str] = []
        elif op in ("in", "not_in"):
            values = self.argument_list()
        else:
            value = self.take()
            if value.kind not in ("word", "string"):
                self.fail(f"expected a value after {name} {op_token.text}, found {value.text!r}")
            values = [value.text]
        if op in ("matches", "not_matches"):
            try:
                pattern = re.compile(values[0])
            except re.error as exc:
                raise InvalidParameterException(f"Invalid pattern {values[0]!r} in cluster query expression: {exc}") from None
            values = [pattern]  # type: ignore[list-item]
        return _clause(name, op, values)

    def argument_list(self) -> list[str]:
        if not self.keyword("["):
            self.fail("'in' and 'not_in' expect a list: [a, b]")
        values = []
        while True:
            value = self.take()
            if value.kind not in ("word", "string"):
                self.fail(f"expected a value in the list, found {value.text!r}")
            values.append(value.text)
            if self.keyword("]"):
                return values
            if not self.keyword(","):
                self.fail("list values are separated by ',' and the list closed by ']'")


def _subject_values(name: str, ci: Any, tasks_on: Callable[[Any], list[Any]]) -> list[str] | None:
    """The subject's values on ``ci``: None when it does not exist there."""
    if name.startswith("attribute:"):
        attribute = name[len("attribute:") :]
        if attribute not in ci.attributes:
            return None
        value = ci.attributes[attribute]
        return [] if value is None else [value]
    if name == "ec2InstanceId":
        return [ci.ec2_instance_id]
    if name == "agentConnected":
        return [str(ci.agent_connected).lower()]
    return sorted({t.group for t in tasks_on(ci) if t.last_status != "STOPPED"})  # task:group: [] when none


def _clause(name: str, op: str, values: list[Any]) -> Callable[[Any, Any], bool]:
    def evaluate(ci: Any, tasks_on: Callable[[Any], list[Any]]) -> bool:
        actual = _subject_values(name, ci, tasks_on)
        present = actual is not None and (bool(actual) or name != "task:group")
        if op == "exists":
            return present
        if op == "not_exists":
            return not present
        if actual is None:
            return False  # every comparison, negated ones included, needs the subject
        if op == "==":
            return values[0] in actual
        if op == "!=":
            return values[0] not in actual
        if op == "in":
            return any(v in values for v in actual)
        if op == "not_in":
            return not any(v in values for v in actual)
        if op == "matches":
            return any(values[0].fullmatch(v) for v in actual)
        return not any(values[0].fullmatch(v) for v in actual)  # not_matches

    return evaluate
