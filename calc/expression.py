"""Measurement models written as text, parsed safely and evaluated on numpy arrays.

A model is one or more lines: assignments of intermediate quantities, then the output(s), e.g.

    d = dbar + d_rand + d_sys
    theta = thetabar + Delta
    l = l_s + d - l_s*(delta_alpha*theta + alpha_s*delta_theta)

Python's `ast` parses the text, and only arithmetic, powers, numbers, names and a fixed set of functions are
accepted: nothing is ever handed to `eval`. Every function accepts complex arguments, because sensitivity
coefficients are taken by the complex-step method (f'(x) = Im f(x + ih) / h), which is exact to machine
precision with no subtraction error, unlike finite differences.
"""
from __future__ import annotations

from typing import Any

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class ExpressionError(ValueError):
    """The model text is not a valid measurement model; the message says where and why."""


def _abs(z):
    # |x| is not analytic; for the complex step take the branch of the real part's sign.
    return np.where(np.real(z) < 0, -z, z)


FUNCTIONS: dict[str, tuple[Any, int]] = {
    "sqrt": (np.sqrt, 1), "exp": (np.exp, 1), "log": (np.log, 1), "ln": (np.log, 1), "log10": (np.log10, 1),
    "sin": (np.sin, 1), "cos": (np.cos, 1), "tan": (np.tan, 1), "asin": (np.arcsin, 1), "acos": (np.arccos, 1),
    "atan": (np.arctan, 1), "sinh": (np.sinh, 1), "cosh": (np.cosh, 1), "tanh": (np.tanh, 1), "abs": (_abs, 1),
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
           ast.Pow: np.power}
_UNARY = {ast.USub: np.negative, ast.UAdd: np.positive}


def _where(node: ast.AST, line_offset: int = 0) -> str:
    return f"line {getattr(node, 'lineno', 1) + line_offset}, column {getattr(node, 'col_offset', 0) + 1}"


@dataclass(frozen=True)
class Model:
    """A parsed model: `inputs` are the free names, `outputs` the quantities it reports."""

    text: str
    statements: tuple[tuple[str, ast.expr], ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def evaluate(self, values: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Evaluate on scalars or arrays (broadcast together); returns every output."""
        env: dict[str, Any] = dict(values)
        missing = [n for n in self.inputs if n not in env]
        if missing:
            raise ExpressionError(f"no value for input(s) {', '.join(missing)}")
        for target, expr in self.statements:
            env[target] = _eval(expr, env)
        return {name: env[name] for name in self.outputs}


def _eval(node: ast.expr, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))   # parse() admits no other constant
        return float(node.value)  # numpy refuses integers to negative integer powers
    if isinstance(node, ast.Name):
        return env[node.id] if node.id in env else CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, env))
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)         # parse() admits only named functions
        return FUNCTIONS[node.func.id][0](*(_eval(a, env) for a in node.args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse() admits nothing else


def _check(node: ast.AST, known: set[str], free: list[str]) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"{_where(node)}: only numbers are allowed as constants, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{_where(node)}: {node.id} is a function; call it as {node.id}(...)")
        if node.id not in known and node.id not in CONSTANTS and node.id not in free:
            free.append(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"{_where(node)}: operator {type(node.op).__name__} is not allowed "
                                  "(use + - * / and ** or ^ for powers)")
        _check(node.left, known, free)
        _check(node.right, known, free)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"{_where(node)}: operator {type(node.op).__name__} is not allowed")
        _check(node.operand, known, free)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(f"{_where(node)}: unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or len(node.args) != FUNCTIONS[node.func.id][1]:
            raise ExpressionError(f"{_where(node)}: {node.func.id}() takes {FUNCTIONS[node.func.id][1]} argument")
        for arg in node.args:
            _check(arg, known, free)
    else:
        raise ExpressionError(f"{_where(node)}: {type(node).__name__} is not allowed in a measurement model")


def parse(text: str, outputs: list[str] | tuple[str, ...] | None = None, default_output: str = "y") -> Model:
    """Parse model text. Outputs: the names given, else the last assigned name (or `default_output` when the
    last line is a bare expression)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the model expression is empty")
    source = text.replace("^", "**").replace(";", "\n")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise ExpressionError(f"line {exc.lineno}, column {exc.offset}: syntax error ({exc.msg})") from None
    if not tree.body:
        raise ExpressionError("the model expression is empty")
    statements: list[tuple[str, ast.expr]] = []
    known: set[str] = set()
    free: list[str] = []
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            if target in FUNCTIONS or target in CONSTANTS:
                raise ExpressionError(f"{_where(stmt)}: {target!r} is a reserved name")
            if target in free:
                raise ExpressionError(f"{_where(stmt)}: {target!r} is used before it is defined")
            _check(stmt.value, known, free)
            statements.append((target, stmt.value))
            known.add(target)
        elif isinstance(stmt, ast.Expr) and i == len(tree.body) - 1:
            _check(stmt.value, known, free)
            statements.append((default_output, stmt.value))
            known.add(default_output)
        else:
            raise ExpressionError(f"{_where(stmt)}: each line must be `name = expression` "
                                  "(a bare expression only as the last line)")
    if outputs:
        unknown = [o for o in outputs if o not in known]
        if unknown:
            raise ExpressionError(f"output(s) {', '.join(unknown)} are not defined by the model")
        chosen = tuple(outputs)
    else:
        chosen = (statements[-1][0],)
    if not free:
        raise ExpressionError("the model has no inputs")
    return Model(text, tuple(statements), tuple(free), chosen)


def sensitivities(model: Model, values: Mapping[str, object], step: float = 1e-20
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Output values and the Jacobian by complex step, in one vectorised evaluation.

    `values` may hold arrays of one common shape B (a batch of budgets). Returns ({output: value of shape B},
    J of shape (outputs, inputs, *B))."""
    names = model.inputs
    real = {n: np.asarray(values[n], dtype=float) for n in names}
    with np.errstate(all="ignore"):
        y = model.evaluate(real)
    for name, v in y.items():
        if not np.all(np.isfinite(v)) or np.iscomplexobj(v):
            raise ExpressionError(f"the model gives no finite real value for {name} at the input estimates "
                                  "(a logarithm or root of a negative number, or a division by zero?)")
    n = len(names)
    batch = np.broadcast_shapes(*(v.shape for v in real.values()))
    perturbed = {}
    for j, name in enumerate(names):
        z = np.empty((n, *batch), dtype=complex)
        z.real = np.broadcast_to(real[name], batch)
        z.imag = 0.0
        z.imag[j] = step
        perturbed[name] = z
    with np.errstate(all="ignore"):
        out = model.evaluate(perturbed)
    jac = np.stack([np.broadcast_to(np.imag(out[o]), (n, *batch)) / step for o in model.outputs])
    return {o: np.asarray(y[o], dtype=float) for o in model.outputs}, jac
