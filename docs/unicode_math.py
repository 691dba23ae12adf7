"""Typeset the project's Unicode formulas as MathML when the site is built.

THEORY.md, docs/real_data.md and the notebooks write mathematics as Unicode in code spans
(`w̃ = (X̃X̃ᵀ/N + γ̃ I)⁻¹ X̃ỹ / N`), which reads well as plain text on a repository page. On the
site every inline code span that is a formula is rewritten to LaTeX by :func:`to_latex` and
converted to MathML by latex2mathml during the build: browsers render MathML natively, so the
pages need no JavaScript, no web font and no CDN, and a formula that cannot be converted fails
the build instead of showing up garbled in a reader's browser.

Code spans that are code (``ra.optimal_alpha``, ``mu_orth``, ``--json``) stay code:
:func:`is_formula` only accepts spans with mathematical Unicode, or ASCII spans made of
single-letter symbols, numbers, operators and the usual functions (``n < p``, ``O(1/p)``).
"""

from __future__ import annotations

import html
import re
import unicodedata

from latex2mathml.converter import convert

# Greek letters (lower and upper case) by their Unicode names.
_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi", "ρ": r"\rho",
    "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\varphi", "χ": r"\chi",
    "ψ": r"\psi", "ω": r"\omega", "ℓ": r"\ell", "Γ": r"\Gamma", "Δ": r"\Delta",
    "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Φ": r"\Phi", "Ψ": r"\Psi",
    "Ω": r"\Omega",
}
_SYMBOLS = {
    "−": "-", "×": r"\times", "·": r"\cdot", "±": r"\pm", "≈": r"\approx", "≤": r"\le",
    "≥": r"\ge", "≠": r"\ne", "→": r"\to", "↦": r"\mapsto", "∈": r"\in", "⟂": r"\perp",
    "⊥": r"\perp", "∝": r"\propto", "∞": r"\infty", "‖": r"\|", "⟨": r"\langle",
    "⟩": r"\rangle", "⪰": r"\succeq", "…": r"\ldots", "Σ": r"\sum", "ℝ": r"\mathbb{R}",
    "½": r"\frac{1}{2}", "~": r"\sim", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&",
    "–": "-", "#": r"\#",
}
_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
    "⁸": "8", "⁹": "9", "⁺": "+", "⁻": "-", "ᵀ": r"\top", "ᵈ": "d", "ⁿ": "n", "ᵏ": "k",
    "ᵖ": "p", "ⁱ": "i", "*": "*",
}
_SUBSCRIPTS = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7",
    "₈": "8", "₉": "9", "₊": "+", "₋": "-", "ᵢ": "i", "ⱼ": "j", "ₖ": "k", "ₐ": "a",
    "ₙ": "n", "ₚ": "p", "ₜ": "t", "ₛ": "s", "ₘ": "m", "ₓ": "x",
}
_ACCENTS = {"\u0303": r"\tilde", "\u0304": r"\bar", "\u0305": r"\bar", "\u0302": r"\hat",
            "\u0307": r"\dot"}
_ASCII_OPERATORS = {">=": r"\ge", "<=": r"\le", "!=": r"\ne", "->": r"\to"}
# Multi-letter names typeset upright as operators.
_FUNCTIONS = {"tr", "diag", "rank", "sign", "argmin", "argmax", "span", "exp", "log", "Var",
              "Cov", "Wishart", "det", "sup", "inf", "erf", "cond"}
_BUILTIN = {"max": r"\max", "min": r"\min", "log": r"\log", "exp": r"\exp", "det": r"\det",
            "sup": r"\sup", "inf": r"\inf"}

_MATH_CHARS = set(_GREEK) | set(_SYMBOLS) - {"~", "{", "}", "%", "&", "–", "#"}
_MATH_CHARS |= set(_SUPERSCRIPTS) - {"*"}
_MATH_CHARS |= set(_SUBSCRIPTS) | {"√", "∣"}


def _decompose(text: str) -> str:
    """Letters and their accents as separate characters (x̃ = x + U+0303); relations whole."""
    return unicodedata.normalize("NFD", text).replace("=\u0338", "≠")


def _has_math_unicode(text: str) -> bool:
    return any(c in _MATH_CHARS or c in _ACCENTS for c in _decompose(text))


_ASCII_TOKEN = re.compile(r"[A-Za-z]+(?:_(?:\{[^}]*\}|[A-Za-z0-9]+))?")


def is_formula(text: str) -> bool:
    """Whether a code span holds mathematics rather than code."""
    if any(c in text for c in "`\"\x27"):  # quotes: code (strings, code spans)
        return False
    if _has_math_unicode(text):
        return True
    if not re.fullmatch(r"[A-Za-z0-9 +\-*/=<>()|.,^{}\[\]_~!]+", text):
        return False
    if re.search(r"[A-Za-z]{2,}\.|\.[A-Za-z]|=\S*=|--|__", text):  # attribute access, options
        return False
    for token in _ASCII_TOKEN.findall(text):
        base, _, sub = token.partition("_")
        if len(base) > 1 and base not in _FUNCTIONS and base not in _BUILTIN:
            return False
        if len(sub) > 2:  # an identifier such as h_factor
            return False
    return bool(re.search(r"[A-Za-z]", text))


class _Converter:
    """A small recursive-descent translator from the Unicode notation to LaTeX."""

    def __init__(self, text: str):
        self.s = _decompose(text)
        self.i = 0

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def error(self, why: str) -> ValueError:
        return ValueError(f"cannot typeset {self.s!r} at {self.i}: {why}")

    def run(self) -> str:
        out = self.sequence(stop="")
        if self.i != len(self.s):
            raise self.error("unbalanced brackets")
        return out

    def sequence(self, stop: str) -> str:
        parts: list[str] = []
        while self.i < len(self.s) and self.peek() not in stop:
            parts.append(self.item(parts))
        return "".join(parts)

    def group_until(self, close: str) -> str:
        """Translate up to the matching ``close`` (consumed, not emitted)."""
        inner = self.sequence(stop=close)
        if self.peek() != close:
            raise self.error(f"missing {close!r}")
        self.i += 1
        return inner

    def scripts(self, base: str) -> str:
        """Attach the sub/superscripts (Unicode, ``_x``, ``^{..}``, ``*``) that follow."""
        sub: list[str] = []
        sup: list[str] = []
        while True:
            c = self.peek()
            if c in _ACCENTS:
                self.i += 1
                base = f"{_ACCENTS[c]}{{{base}}}"
            elif c in _SUBSCRIPTS or c == "⊥":  # μ⊥ is μ_⊥
                self.i += 1
                sub.append(_SUBSCRIPTS.get(c, r"\perp"))
            elif c in _SUPERSCRIPTS:
                self.i += 1
                sup.append(_SUPERSCRIPTS[c])
            elif c in "_^" and self.peek(1):
                self.i += 1
                target = sub if c == "_" else sup
                if self.peek() == "{":
                    self.i += 1
                    target.append(self.group_until("}"))
                else:
                    target.append(self.script_atom())
            else:
                break
        if sub:
            base += "_{" + " ".join(sub) + "}"
        if sup:
            base += "^{" + " ".join(sup) + "}"
        return base

    def script_atom(self) -> str:
        """What ``_`` or ``^`` applies to: a lowercase word (``m_self``, ``G_ab``) or one symbol."""
        m = re.match(r"[a-z]{2,}(?![A-Za-z0-9])", self.s[self.i:])
        if m:
            self.i += m.end()
            w = m.group(0)
            return rf"\text{{{w}}}" if len(w) > 2 else w
        if re.match(r"[A-Za-z0-9]", self.peek()):
            self.i += 1
            return self.s[self.i - 1]
        return self.atom(scripts=False)

    def word(self) -> str:
        m = re.match(r"[A-Za-z]+[0-9]*", self.s[self.i:])
        w = m.group(0)
        if self.s[self.i + m.end():self.i + m.end() + 1] in _ACCENTS and len(w) > 1 \
                and w not in _FUNCTIONS and w not in _BUILTIN:
            w = w[0]  # Q̄AQ̄, Bw̃: the accent belongs to the last letter of a product
        self.i += len(w)
        if w in _BUILTIN:
            return _BUILTIN[w] + " "
        if w in _FUNCTIONS:
            return rf"\operatorname{{{w}}}"
        if len(w) == 1 or re.fullmatch(r"[A-Za-z][0-9]+", w):
            return w
        if w.islower() or len(w) > 3 and w[0].isupper() and w[1:].islower():
            return rf"\text{{{w}}}"  # a word or a parameter name (mu, mu_orth, ...)
        return " ".join(w)  # a product of one-letter symbols: QXy, LMr, WG

    def atom(self, scripts: bool = True) -> str:
        c = self.peek()
        if re.match(r"[A-Za-z]", c):
            start = self.i
            out = self.word()
            if out.startswith(r"\text{") and self.peek() == "_" and re.match(r"[A-Za-z]{2}",
                                                                              self.s[self.i + 1:]):
                # a code identifier with an underscore (mu_orth, gamma_src): keep it whole
                m = re.match(r"[A-Za-z0-9_]+", self.s[start:])
                self.i = start + m.end()
                out = rf"\text{{{m.group(0)}}}"
        elif c.isdigit():
            m = re.match(r"[0-9]+(?:\.[0-9]+)?", self.s[self.i:])
            self.i += m.end()
            out = m.group(0)
        elif c in _GREEK:
            self.i += 1
            out = _GREEK[c] + " "
        elif c == "√":
            self.i += 1
            if self.peek() == "(":
                self.i += 1
                return rf"\sqrt{{{self.group_until(')')}}}"
            radicand = self.atom()
            if self.peek() == "(":  # √V_y(α): the square root of a function value
                self.i += 1
                radicand += "(" + self.group_until(")") + ")"
            return rf"\sqrt{{{radicand}}}"
        elif c in "([":
            self.i += 1
            close = ")" if c == "(" else "]"
            out = c + self.group_until(close) + close
        elif c == "{":
            self.i += 1
            out = r"\{" + self.group_until("}") + r"\}"
        elif c == "‖":
            self.i += 1
            out = r"\|"
        elif c in _SYMBOLS:
            self.i += 1
            out = _SYMBOLS[c] + (" " if _SYMBOLS[c][-1].isalpha() else "")
        elif c in _SUBSCRIPTS or c in _SUPERSCRIPTS or c in "_^":
            out = "{}"  # a script with nothing before it (e.g. after a space)
            return self.scripts(out)
        elif c + self.peek(1) in _ASCII_OPERATORS:
            self.i += 2
            out = _ASCII_OPERATORS[c + self.peek(-1)] + " "
        elif c in "+-*/=<>|,.:;!'?":
            self.i += 1
            out = c
        else:
            raise self.error(f"no rule for {c!r} (U+{ord(c):04X})")
        return self.scripts(out) if scripts else out

    def item(self, parts: list[str]) -> str:
        c = self.peek()
        if c.isspace():
            self.i += 1
            # keep the gap between two words of text: "standard error"
            if parts and parts[-1].endswith("}") and parts[-1].startswith(r"\text{") \
                    and re.match(r"[a-z]{2}", self.s[self.i:]):
                return r"\ "
            return " "
        if c in ")]}":
            raise self.error(f"unmatched {c!r}")
        return self.atom()


def to_latex(text: str) -> str:
    """LaTeX for one Unicode formula (ValueError when it cannot be read)."""
    return _Converter(text).run()


def to_mathml(text: str) -> str:
    """Inline MathML for one Unicode formula (ValueError when it cannot be converted)."""
    latex = to_latex(text)
    try:
        mathml = convert(latex)
    except Exception as exc:  # latex2mathml raises several types
        raise ValueError(f"latex2mathml cannot convert {latex!r} (from {text!r}): {exc}") from exc
    for wrong, right in _MATHML_FIXES:
        mathml = mathml.replace(wrong, right)
    return mathml.replace("<math ", f'<math class="formula" alttext="{html.escape(text)}" ', 1)


# latex2mathml writes a few symbols as identifiers (no operator spacing) and gives the slash
# binary-operator spacing; as in TeX, a/b is tight and ~, ⟂, ⪰ are relations.
_MATHML_FIXES = [
    ("<mo>&#x0002F;</mo>", '<mo lspace="0" rspace="0">&#x0002F;</mo>'),
    ("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>"),
    ("<mi>&#x027C2;</mi>", "<mo>&#x027C2;</mo>"),
    ("<mi>&#x02AB0;</mi>", "<mo>&#x02AB0;</mo>"),
]


# An inline code span: python-markdown and nbconvert write it as a bare <code> element; code
# blocks (<pre><code>, highlighted code) never are.
_INLINE_CODE = re.compile(r"(?<!<pre>)(?<!</span>)<code>([^<]*)</code>")


def typeset_html(page_html: str) -> str:
    """Replace every inline code span of ``page_html`` that is a formula by MathML."""

    def replace(match: re.Match) -> str:
        text = html.unescape(match.group(1))
        return to_mathml(text) if is_formula(text) else match.group(0)

    return _INLINE_CODE.sub(replace, page_html)
