"""Turning rules.csv expressions into checkable instances.

Expressions are written over indicator codes (``t3.{row}.total == t3.{row}.natural_person + …``).
Codes are valid Python attribute chains, so each expanded expression is parsed with ``ast`` and
evaluated by a small interpreter that only knows cells, numbers, + - *, comparisons, ``and``,
``not``, ``is_integer``, ``present``/``absent``, ``abs`` and ``printed_subtotal``. Nothing is
passed to ``eval``.

Placeholders (``{row}``, ``{col}``, ``{x}`` …) take their values from the rule's description
("{row} in {a, b, …}", "{x} = every old.* code except …").
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from pipelines.registry import Rule, load_registry, subtotal_code

IN_TABLE_KINDS = ("sum", "identity", "nonneg", "integer", "bound")
_DOMAIN = re.compile(r"\{(\w+)\}\s+in\s+\{([^{}]*)\}")
_EVERY = re.compile(r"\{(\w+)\}\s*=\s*every\s+(\w+)\.\*\s+code(?:\s+except\s+([^;)]*?))?(?:\s*\(|;|$)")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPS = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}


class RuleSyntaxError(ValueError):
    """A rule expression uses something the interpreter does not support."""


@dataclass(frozen=True)
class RuleInstance:
    """One checkable expansion of a rule.

    ``op`` is a comparison (``==``, ``<=``, ``>=``) between ``lhs`` and ``rhs`` for arithmetic
    rules, or ``predicate`` for logical rules (``present(a) and absent(b)``) held in ``lhs``.
    """

    rule: Rule
    instance: str
    op: str
    lhs: ast.AST
    rhs: ast.AST | None
    codes: tuple[str, ...]

    @property
    def rule_id(self) -> str:
        """The rule's id."""
        return self.rule.rule_id

    def linear(self) -> dict[str, float] | None:
        """``lhs - rhs`` as {code: coefficient} when both sides are sums of cells, else None."""
        if self.op != "==" or self.rhs is None:
            return None
        coeffs: dict[str, float] = {}
        try:
            _linear(self.lhs, 1.0, coeffs)
            _linear(self.rhs, -1.0, coeffs)
        except RuleSyntaxError:
            return None
        return {k: v for k, v in coeffs.items() if v}


def _linear(node: ast.AST, sign: float, out: dict[str, float]) -> None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        _linear(node.left, sign, out)
        _linear(node.right, sign if isinstance(node.op, ast.Add) else -sign, out)
        return
    code = cell_code(node)
    if code is None:
        raise RuleSyntaxError("not linear")
    out[code] = out.get(code, 0.0) + sign


def cell_code(node: ast.AST) -> str | None:
    """The code an attribute chain (``t3.new_received.total``) or printed_subtotal() call denotes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and parts:
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "printed_subtotal":
        label = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
        column = cell_code(node.args[1]) if len(node.args) > 1 else None
        if column is None and isinstance(node.args[1], ast.Name):
            column = node.args[1].id
        group = _subtotal_group(label)
        if group and column:
            return subtotal_code(group, column)
    return None


@lru_cache(maxsize=64)
def _subtotal_group(label: str | None) -> str | None:
    from pipelines.extract.text import norm

    for lb in load_registry().labels_of("subtotal"):
        if norm(lb.variant) == norm(label or ""):
            return lb.key
    return None


def referenced_codes(node: ast.AST) -> list[str]:
    """Codes referenced anywhere in an expression, in order of appearance."""
    out: list[str] = []

    def visit(n: ast.AST) -> None:
        code = cell_code(n)
        if code is not None:
            out.append(code)
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return list(dict.fromkeys(out))


def placeholder_domains(rule: Rule) -> dict[str, list[str]]:
    """Values of each placeholder, read from the rule's description."""
    reg = load_registry()
    domains: dict[str, list[str]] = {}
    for name, values in _DOMAIN.findall(rule.description):
        domains[name] = [v.strip() for v in values.split(",") if v.strip()]
    for name, prefix, excepted in _EVERY.findall(rule.description):
        skip = {e.strip().removeprefix(prefix + ".") for e in re.split(r"\s+and\s+|,", excepted or "") if e.strip()}
        codes = [c for c in reg.codes_for(rule.era) if c.startswith(prefix + ".")]
        domains[name] = [c[len(prefix) + 1 :] for c in codes if c[len(prefix) + 1 :] not in skip]
    return domains


def substitutions(rule: Rule) -> list[tuple[str, str]]:
    """(label, expression) for every combination of the rule's placeholder values, e.g. ('col=total', '...').

    A rule without placeholders gives one pair with an empty label; any kind of rule.
    """
    names = list(dict.fromkeys(_PLACEHOLDER.findall(rule.expression)))
    domains = placeholder_domains(rule)
    missing = [n for n in names if n not in domains]
    if missing:
        raise RuleSyntaxError(f"{rule.rule_id}: no values for placeholder(s) {missing}")
    out = []
    for combo in itertools.product(*(domains[n] for n in names)):
        text = rule.expression
        for name, value in zip(names, combo):
            text = text.replace("{" + name + "}", value)
        out.append((",".join(f"{n}={v}" for n, v in zip(names, combo)), text))
    return out


def expand(rule: Rule) -> list[RuleInstance]:
    """All instances of an in-table rule (placeholders expanded, conjunctions split)."""
    if rule.kind not in IN_TABLE_KINDS:
        raise RuleSyntaxError(f"{rule.rule_id}: kind {rule.kind} is not an in-table rule")
    out: list[RuleInstance] = []
    for label, text in substitutions(rule):
        parts = [p.strip() for p in text.split(";") if p.strip()]
        for k, part in enumerate(parts):
            suffix = f"#{k + 1}" if len(parts) > 1 else ""
            out.extend(_instances(rule, label + suffix, part))
    return out


def _checkable(node: ast.AST) -> bool:
    """A conjunct that can stand alone: a comparison or an is_integer() call."""
    if isinstance(node, ast.Compare):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_integer"


def _instances(rule: Rule, label: str, text: str) -> list[RuleInstance]:
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise RuleSyntaxError(f"{rule.rule_id}: cannot parse {text!r}: {exc}") from exc
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) and all(_checkable(v) for v in tree.values):
        nodes = tree.values
    else:
        nodes = [tree]
    out = []
    for k, node in enumerate(nodes):
        codes = tuple(referenced_codes(node))
        sub = label
        if len(nodes) > 1:
            sub = (label + " " if label else "") + codes[0]
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _OPS:
            out.append(RuleInstance(rule, sub, _OPS[type(node.ops[0])], node.left, node.comparators[0], codes))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_integer":
            out.append(RuleInstance(rule, sub, "integer", node.args[0], None, codes))
        else:
            out.append(RuleInstance(rule, sub, "predicate", node, None, codes))
    return out


@lru_cache(maxsize=8)
def instances_for(era: str) -> tuple[RuleInstance, ...]:
    """Every in-table rule instance of one era."""
    reg = load_registry()
    out: list[RuleInstance] = []
    for rule in reg.rules_for(era, IN_TABLE_KINDS):
        out.extend(expand(rule))
    return tuple(out)


@lru_cache(maxsize=8)
def linear_constraints(era: str) -> tuple[tuple[str, dict[str, float]], ...]:
    """Error-level equalities of an era as (rule_id, {code: coefficient}) — used to split glued digits."""
    out = []
    for inst in instances_for(era):
        if inst.rule.severity != "error" or inst.rule.kind not in ("sum", "identity"):
            continue
        coeffs = inst.linear()
        if coeffs:
            out.append((inst.rule_id, coeffs))
    return tuple(out)
