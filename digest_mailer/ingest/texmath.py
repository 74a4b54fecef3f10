"""TeX math in feed text → readable Unicode text: ``$O(1/N)$`` → O(1/N), ``$H^3$`` → H³.

A reader of a card or a plain-text email cannot read ``\\mathcal{O}(n^{-1/2})``; they can
read 𝒪(n^(−1/2)). Greek letters and common symbols become their characters, scripts become
Unicode super- and subscripts where every character has one (else ``^(…)``/``_(…)``),
``\\frac{a}{b}`` a/b, ``\\sqrt{x}`` √x, font commands their argument, sizing commands
nothing. An unknown command loses its backslash, so no TeX source is left. Pure.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ",
    "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ", "hbar": "ħ", "infty": "∞",
    "partial": "∂", "nabla": "∇", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠",
    "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃", "cong": "≅", "equiv": "≡",
    "propto": "∝", "times": "×", "cdot": "·", "cdots": "⋯", "ldots": "…", "dots": "…",
    "pm": "±", "mp": "∓", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "Leftrightarrow": "⇔", "leftrightarrow": "↔", "mapsto": "↦", "in": "∈", "notin": "∉",
    "ni": "∋", "subset": "⊂", "subseteq": "⊆", "supset": "⊃", "cup": "∪", "cap": "∩",
    "setminus": "∖", "emptyset": "∅", "varnothing": "∅", "forall": "∀", "exists": "∃",
    "neg": "¬", "wedge": "∧", "vee": "∨", "oplus": "⊕", "otimes": "⊗", "circ": "∘",
    "sum": "∑", "prod": "∏", "int": "∫", "oint": "∮", "ll": "≪", "gg": "≫", "asymp": "≍",
    "lesssim": "≲", "gtrsim": "≳", "prec": "≺", "succ": "≻", "perp": "⊥", "parallel": "∥",
    "mid": "∣", "langle": "⟨", "rangle": "⟩", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈",
    "rceil": "⌉", "star": "⋆", "ast": "∗", "dagger": "†", "top": "⊤", "prime": "′",
    "sqrt": "√", "degree": "°", "Re": "ℜ", "Im": "ℑ", "aleph": "ℵ", "wp": "℘",
    "{": "{", "}": "}", "%": "%", "&": "&", "_": "_", "#": "#", "$": "$", "|": "‖",
    "lvert": "|", "rvert": "|", "vert": "|", "Vert": "‖", "lVert": "‖", "rVert": "‖",
}
_SPACES = {",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": " "}
_DROPPED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
            "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "mathstrut"}
_FONTS = {"mathrm", "text", "textrm", "textit", "textbf", "mathbf", "mathit", "mathsf",
          "mathtt", "operatorname", "boldsymbol", "bm", "emph", "textsf", "texttt",
          "mbox", "hbox", "rm", "bf", "it", "widehat", "hat", "tilde", "widetilde", "bar",
          "overline", "vec", "dot", "ddot", "underline", "mathring", "check", "breve"}
_BB = dict(zip("CHNPQRZE", "ℂℍℕℙℚℝℤ𝔼", strict=True))
_CAL = {c: chr(0x1D49C + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_CAL.update({"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ", "R": "ℛ"})
_SUP = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzT*®",
                "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ*®", strict=True))
_SUB = dict(zip("0123456789+-−=()aeijkmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑᵢⱼₖₘₙₒₚᵣₛₜᵤᵥₓ",
                strict=True))
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
_FUNCTIONS = {"log", "ln", "exp", "sin", "cos", "tan", "max", "min", "sup", "inf", "lim",
              "det", "dim", "arg", "deg", "ker", "Pr", "tanh", "sinh", "cosh", "gcd", "mod",
              "liminf", "limsup", "argmax", "argmin", "poly", "polylog", "Var", "Cov"}


def _group(text: str, i: int) -> tuple[str, int]:
    """The argument at ``i``: a {…} group's inside or one character/command; and the end."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return "", i
    if text[i] == "{":
        depth, j = 1, i + 1
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        return text[i + 1 : j - 1 if depth == 0 else j], j
    if text[i] == "\\":
        match = _COMMAND.match(text, i)
        if match:
            return match.group(0), match.end()
    return text[i], i + 1


def _script(body: str, table: dict[str, str], mark: str) -> str:
    """H^3 → H³; n^{-1/2} → n^(−1/2): Unicode scripts only when every character has one."""
    inner = _convert(body).replace("-", "−")
    if inner and all(c in table for c in inner):
        return "".join(table[c] for c in inner)
    return f"{mark}{inner}" if len(inner) == 1 else f"{mark}({inner})"


def _paren(text: str) -> str:
    return text if re.fullmatch(r"[\w.′]+", text) else f"({text})"


@lru_cache(maxsize=8192)
def _convert(math: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(math):
        c = math[i]
        if c in "^_":
            body, i = _group(math, i + 1)
            out.append(_script(body, _SUP if c == "^" else _SUB, c))
        elif c in "{}":
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        elif c == "\\":
            match = _COMMAND.match(math, i)
            name = match.group(1) if match else ""
            i = match.end() if match else i + 1
            if name == "frac" or name in ("dfrac", "tfrac"):
                top, i = _group(math, i)
                bottom, i = _group(math, i)
                out.append(f"{_paren(_convert(top))}/{_paren(_convert(bottom))}")
            elif name == "sqrt":
                body, i = _group(math, i)
                out.append("√" + _paren(_convert(body)))
            elif name in ("mathbb", "mathcal", "mathscr", "mathfrak"):
                body, i = _group(math, i)
                table = _BB if name == "mathbb" else _CAL
                out.append("".join(table.get(ch, ch) for ch in _convert(body)))
            elif name in _FONTS:
                body, i = _group(math, i)
                out.append(_convert(body))
            elif name in _DROPPED:
                pass
            elif name in _SPACES:
                out.append(_SPACES[name])
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name in _FUNCTIONS:  # "n\\log n" reads "n log n"
                before = " " if out and out[-1][-1:].isalnum() else ""
                out.append(before + name + (" " if i < len(math) and math[i].isalnum() else ""))
            else:  # unknown: its name as text, never its backslash
                out.append(name)
        else:
            out.append(c)
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


def math_to_text(span: str) -> str:
    """One math span, delimiters included (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``),
    as Unicode text."""
    for opening, closing in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if span.startswith(opening) and span.endswith(closing) and len(span) > 2 * len(opening) - 1:
            return _convert(span[len(opening) : len(span) - len(closing)])
    return _convert(span)
