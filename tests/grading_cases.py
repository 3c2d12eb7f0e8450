"""The grader's labeled corpus, written by the team: one row per case, read by tests/test_grading.py.

Columns: id, kind (math|choice), mode ("answer": an already extracted answer; "response": a full
model output), gold, given, correct (expected verdict), reason (expected reason or None = derived
from correct), note (the policy the case pins; docs/grading.md).
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    id: str
    kind: str
    mode: str
    gold: str
    given: str
    correct: bool
    reason: str | None
    note: str


def A(id: str, gold: str, given: str, correct: bool, note: str = "", reason: str | None = None) -> Case:  # noqa: A002, N802
    return Case(id, "math", "answer", gold, given, correct, reason, note)


def R(id: str, gold: str, given: str, correct: bool, reason: str | None = None, note: str = "") -> Case:  # noqa: A002, N802
    return Case(id, "math", "response", gold, given, correct, reason, note)


def C(id: str, gold: str, given: str, correct: bool, reason: str | None = None, note: str = "") -> Case:  # noqa: A002, N802
    return Case(id, "choice", "response", gold, given, correct, reason, note)


def think(reasoning: str, final: str) -> str:
    """An R1-style response: reasoning, close tag, final part."""
    return f"<think>\n{reasoning}\n</think>\n\n{final}"


LONG = ("Let me set up the problem carefully. " * 40 + "\nWait, let me double-check the arithmetic: 12 * 12 = 144, "
        "and 144 - 100 = 44. Maybe the answer is 44? No. Let's recompute.\n") * 3

CASES: list[Case] = [
    # --- DESIGN.md traps -------------------------------------------------------------------------
    A("trap-frac12-half", "\\frac12", "0.5", True, "\\frac12 is 1/2; a decimal equal to it is right"),
    A("trap-half-frac12", "0.5", "\\frac12", True, "symmetric"),
    A("trap-textB-B", "\\text{(B)}", "B", True, "choice letter in \\text"),
    A("trap-textB-C", "\\text{(B)}", "C", False, "a different letter"),
    A("trap-deg-30", "30^\\circ", "30", True, "degree sign stripped"),
    A("trap-30-deg", "30", "30^{\\circ}", True, "degree sign stripped"),
    A("trap-023-23", "023", "23", True, "leading zeros"),
    A("trap-23-023", "23", "023", True, "leading zeros"),
    A("trap-10.0-10", "10.0", "10", True, "trailing zero decimal"),
    A("trap-11111", "11,\\!111", "11111", True, "thousands separator ,\\!"),
    A("trap-11111-brace", "11{,}111", "11111", True, "thousands separator {,}"),
    A("trap-x=3", "3", "x=3", True, "assignment to a name"),
    A("trap-x=3-rev", "x=3", "3", True, "assignment to a name"),
    A("trap-set-order", "-2, 1", "1, -2", True, "solution lists are unordered"),
    A("trap-tuple-order", "(1,2)", "(2,1)", False, "ordered pairs are ordered"),
    A("trap-interval-ends", "[2,5)", "(2,5]", False, "interval ends must match"),
    A("trap-5-500", "5", "500", False, "no magnitude fudge"),
    A("trap-500-5", "500", "5", False, "no magnitude fudge"),
    A("trap-50-0.5", "50", "0.5", False, "no percent fudge"),
    A("trap-0.5-50", "0.5", "50", False, "no percent fudge"),
    R("trap-truncated-number", "12", "<think>\nWe get 3 + 9 = 12 so far, and then", False, "truncated",
      "truncated response: no answer, never its last number"),
    R("trap-no-final-number", "12", "We compute 3 + 9 = 12.", False, "no_answer", "no explicit answer: not the last number"),
    C("trap-gpqa-answer", "C", "Considering all options carefully.\n\nAnswer: C", True, note="letter after Answer:"),
    C("trap-gpqa-stray-A", "A", "A careful look at the spectra shows a doublet near 7 ppm.", False, "no_answer",
      "a capital A in prose is not an answer"),
    C("trap-gpqa-no-default", "A", "I am not sure which option is right.", False, "no_answer", "no default letter"),
    # --- fractions and decimals ----------------------------------------------------------------
    A("frac-dfrac", "\\frac{3}{4}", "\\dfrac{3}{4}", True, "\\dfrac"),
    A("frac-tfrac", "\\frac{3}{4}", "\\tfrac34", True, "\\tfrac"),
    A("frac-slash", "\\frac{3}{4}", "3/4", True, "a/b"),
    A("frac-decimal", "\\frac{3}{4}", "0.75", True, "terminating decimal"),
    A("frac-unreduced", "\\frac{3}{4}", "\\frac{6}{8}", True, "same value"),
    A("frac-wrong", "\\frac{3}{4}", "\\frac{4}{3}", False, "reciprocal"),
    A("frac-neg", "-\\frac{35}{9}", "\\frac{-35}{9}", True, "sign placement"),
    A("frac-neg-wrong", "-\\frac{35}{9}", "\\frac{35}{9}", False, "sign matters"),
    A("frac-repeating-ok", "\\frac{1}{3}", "0.33333", True, "correctly rounded, 5 significant digits"),
    A("frac-repeating-short", "\\frac{1}{3}", "0.33", False, "too few digits to stand for 1/3"),
    A("frac-repeating-bad-round", "\\frac{2}{3}", "0.66666", False, "2/3 rounds to 0.66667"),
    A("frac-repeating-good-round", "\\frac{2}{3}", "0.66667", True, "correctly rounded"),
    A("dec-dec-exact", "3.1416", "3.14159", False, "two decimals must be equal"),
    A("dec-leading-dot", ".0000672", "0.0000672", True, "leading dot"),
    A("dec-sci", ".0000672", "6.72\\times 10^{-5}", True, "scientific notation"),
    A("dec-sci-e", "67200", "6.72e4", True, "e notation"),
    A("dec-sci-wrong", ".0000672", "6.72\\times 10^{-4}", False, "wrong exponent"),
    A("dec-trailing-zeros", "2.50", "2.5", True, "trailing zeros"),
    A("dec-tiny-diff", "0.000001", "0.0000012", False, "no absolute tolerance"),
    A("dec-huge-close", "123456789", "123456789.0000001", False, "no relative tolerance between exact numbers"),
    A("mixed-number", "1\\frac{4}{5}", "\\frac{9}{5}", True, "mixed number"),
    A("mixed-number-2", "137 \\frac{1}{2}", "137.5", True, "mixed number with a space"),
    A("mixed-number-wrong", "1\\frac{4}{5}", "\\frac{4}{5}", False, "not 1 * 4/5"),
    # --- radicals, pi, constants ---------------------------------------------------------------
    A("rad-sqrt-nobrace", "\\sqrt{3}", "\\sqrt3", True, "\\sqrt3"),
    A("rad-rationalised", "\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True, "rationalised denominator"),
    A("rad-simplified", "2\\sqrt{5}", "\\sqrt{20}", True, "simplified radical"),
    A("rad-wrong", "2\\sqrt{5}", "\\sqrt{10}", False, "different radical"),
    A("rad-power", "3\\sqrt{13}", "\\sqrt{117}", True, "radical value"),
    A("rad-cube", "2", "\\sqrt[3]{8}", True, "cube root"),
    A("rad-nested", "\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}", True, "denested radical"),
    A("pi-times", "288 \\pi", "288\\pi", True, "spacing"),
    A("pi-frac", "\\frac{9}{4}\\pi", "\\frac{9\\pi}{4}", True, "pi placement"),
    A("pi-wrong", "7\\pi", "7", False, "dropped pi"),
    A("pi-decimal", "\\pi", "3.14159", True, "decimal with 6 significant digits, correctly rounded"),
    A("pi-decimal-short", "\\pi", "3.14", False, "too few digits"),
    A("pi-big-decimal", "\\frac{20000}{\\pi}", "6366.2", True, "decimal policy on an irrational"),
    A("pi-big-integer", "\\frac{20000}{\\pi}", "6366", False, "an integer is not an approximation"),
    A("const-e-sign", "1 - \\frac{1}{e}", "1 + \\frac{1}{e}", False, "the one popular test that expects equal"),
    A("const-mathrm-e", "1 - \\frac{1}{\\mathrm{e}}", "1 + \\frac{1}{\\mathrm{e}}", False, "\\mathrm{e} parse must not drop the tail"),
    A("const-mathrm-e-same", "1 - \\frac{1}{\\mathrm{e}}", "1-e^{-1}", True, "\\mathrm{e} is e"),
    A("complex-order", "6 - 5i", "-5i + 6", True, "complex number"),
    A("complex-wrong", "6 - 5i", "6 + 5i", False, "conjugate"),
    A("complex-product", "5", "(1+2i)(1-2i)", True, "evaluates"),
    A("expr-sum", "10", "9+1", True, "arithmetic evaluates"),
    A("trig-cot", "\\cot x", "\\frac{\\cos x}{\\sin x}", True, "identity"),
    A("trig-wrong", "\\cot x", "\\tan x", False, "different function"),
    # --- polynomials and expressions with variables ---------------------------------------------
    A("poly-order", "x^3+3x-6", "3x - 6 + x^3", True, "term order"),
    A("poly-factored", "(a+5)(b+2)", "ab + 2a + 5b + 10", True, "expanded"),
    A("poly-wrong", "(a+5)(b+2)", "(a+2)(b+5)", False, "different polynomial"),
    A("poly-missing-var", "(a+5)(b+2)", "(+5)(b+2)", False, "a dropped variable"),
    A("poly-var-name", "2k+2", "2n+2", False, "variables matter"),
    A("poly-coef", "6r^2-4r-24", "6r^2-4r+24", False, "sign of a term"),
    A("poly-division", "x^5 - x^4 + x^3 - x^2 + x - 1", "\\frac{x^6-1}{x+1}", True, "rational function equal as polynomials"),
    A("poly-vs-number", "8n^2 + 4n + 1", "36", False, "a number is not a polynomial"),
    A("expr-p-q", "p - q", "-q + p", True, "commuted"),
    A("expr-p-q-wrong", "p - q", "q - p", False, "negated"),
    # --- equations and assignments ---------------------------------------------------------------
    A("eq-line", "y = 2x + 3", "2x+3", True, "name on the left"),
    A("eq-line-rearranged", "y = 2x + 3", "y - 2x = 3", True, "equivalent equation"),
    A("eq-line-wrong", "y = 2x + 3", "y = 3x + 2", False, "different line"),
    A("eq-plane", "5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0", True, "equation scaled by -1"),
    A("eq-plane-wrong", "5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0", False, "different plane"),
    A("eq-not-name", "1", "2x + z = 1", False, "an equation is not its right side unless the left is a name"),
    A("eq-chain", "11", "x = 5 + 5 + 1 = 11", True, "a chain gives its last value"),
    A("eq-approx", "\\frac{1}{3}", "x = \\frac{1}{3} \\approx 0.33", True, "exact value before \\approx"),
    A("eq-different-names", "x = 5", "y = 5", False, "a different name is a different answer"),
    A("eq-subscript-name", "19", "a_{37} = 19", True, "subscripted name"),
    A("eq-func-name", "x^2+1", "f(x) = x^2 + 1", True, "function name"),
    A("eq-multi-assign", "a_3 = 2, a_{37} = 19", "a_{37} = 19, a_3 = 2", True, "named values, any order"),
    A("eq-multi-assign-swap", "x = 1, y = 2", "x = 2, y = 1", False, "names bind values"),
    A("eq-in", "[-2,7]", "x \\in [-2, 7]", True, "x \\in S"),
    # --- sets, lists, tuples ---------------------------------------------------------------------
    A("list-three", "3, 5, 7", "7, 5, 3", True, "unordered list"),
    A("list-missing", "3, 5, 7", "3, 5", False, "missing element"),
    A("list-extra", "3, 5", "3, 5, 7", False, "extra element"),
    A("list-and", "6 \\text{ and } 8", "6, 8", True, "\\text{ and } separates"),
    A("list-or", "21, 16 \\text{ or } 11", "11, 16, 21", True, "or separates"),
    A("set-braces", "\\{1\\pm\\sqrt{5},-2\\}", "\\{-2, 1+\\sqrt5, 1-\\sqrt5\\}", True, "\\pm inside a set"),
    A("set-vs-list", "\\{1, 2\\}", "2, 1", True, "set vs bare list: unordered"),
    A("set-vs-tuple", "\\{1, 2\\}", "(1, 2)", False, "a set is not a tuple"),
    A("tuple-vs-list-ordered", "(1, 3)", "1, 3", False, "a bare list is not a tuple (it may be two answers)"),
    A("tuple-vs-list-swapped", "(3, 1)", "1, 3", False, "a bare list is not a tuple"),
    A("tuple-polar", "\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", True, "polar point"),
    A("tuple-polar-wrong", "\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{3\\pi}{2} \\right)", False, "wrong angle"),
    A("tuple-triple", "(6,31,-1)", "(6, 31, -1)", True, "spacing"),
    A("tuple-length", "(6,31,-1)", "(6,31)", False, "length"),
    A("tuple-named", "(3, 2)", "(p, q) = (3, 2)", True, "named tuple"),
    A("tuple-list-of", "(2,1),(1,2)", "(1, 2), (2, 1)", True, "list of tuples unordered"),
    A("tuple-list-of-wrong", "(2,1),(1,2)", "(1, 2), (2, 2)", False, "one tuple wrong"),
    A("pm-vs-list", "1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", True, "\\pm is two answers"),
    A("pm-one-only", "1 \\pm \\sqrt{19}", "1+\\sqrt{19}", False, "half of \\pm"),
    A("pm-frac", "\\frac{3 \\pm i\\sqrt{3}}{2}", "\\frac{3 - i\\sqrt{3}}{2}, \\frac{3 + i\\sqrt{3}}{2}", True, "\\pm inside a fraction"),
    A("list-duplicate", "1, 2", "2, 1, 2", True, "a repeated solution is the same set"),
    # --- intervals ------------------------------------------------------------------------------
    A("int-same", "(3,4]", "(3, 4]", True, "same interval"),
    A("int-open-closed", "(3,4]", "[3,4]", False, "closed left end"),
    A("int-infty", "(2,\\infty)", "(2, +\\infty)", True, "+\\infty"),
    A("int-union", "(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", True, "union"),
    A("int-union-order", "(0,9) \\cup (9,36)", "(9,36) \\cup (0,9)", True, "union parts unordered"),
    A("int-union-wrong", "(0,9) \\cup (9,36)", "(0,36)", False, "a point is missing"),
    A("int-ineq", "(2,\\infty)", "x > 2", True, "inequality equals its interval"),
    A("int-ineq-closed", "(2,\\infty)", "x \\ge 2", False, "inequality end differs"),
    A("int-frac-ends", "\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, 8/3]", True, "decimal end 0.6 = 3/5"),
    A("int-pi", "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]", "[\\pi^2/8, 5\\pi^2/4]", True, "symbolic ends"),
    # --- matrices and vectors ---------------------------------------------------------------------
    A("mat-same", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{bmatrix}-1&0\\\\0&-1\\end{bmatrix}", True, "pmatrix = bmatrix"),
    A("mat-wrong", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} 1 & 0 \\\\ 0 & -1 \\end{pmatrix}", False, "one entry"),
    A("mat-shape", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False, "row vs column"),
    A("vec-fracs", "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", "\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\\\ \\frac{5}{3} \\end{pmatrix}", True, "entries by value"),
    A("vec-tuple", "\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "(-2, -14, -7)", True, "a column vector is its tuple"),
    A("vec-tuple-wrong", "\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "(-2, -7, -14)", False, "order"),
    A("mat-sum", "\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
      "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}", True, "matrix expression"),
    # --- text answers -----------------------------------------------------------------------------
    A("text-name", "\\text{Evelyn}", "Evelyn", True, "text"),
    A("text-case", "\\text{Navin}", "\\text{navin}", True, "case"),
    A("text-wrong", "\\text{Navin}", "\\text{Luna}", False, "different text"),
    A("text-east", "\\text{east}", "East", True, "case"),
    A("text-even-odd", "\\text{even}", "\\text{odd}", False, "even is not odd"),
    A("text-vs-number", "\\text{ellipse}", "2", False, "text vs number"),
    A("text-time", "\\text{4:30 p.m.}", "4:30 \\text{ p.m.}", True, "text with a number"),
    A("text-letter-E", "\\text{(E)}", "E", True, "option E"),
    A("text-letter-E-wrong", "\\text{(E)}", "D", False, "different option"),
    # --- bases ---------------------------------------------------------------------------------
    A("base-brace", "4210_{5}", "4210_5", True, "subscript braces"),
    A("base-omitted", "52_8", "52", True, "base subscript omitted"),
    A("base-converted", "52_8", "42", False, "the value in base 10 is not the base-8 answer"),
    A("base-wrong-digits", "2516_8", "2561_8", False, "digits"),
    A("base-wrong-base", "204_5", "204_6", False, "base"),
    # --- units, degrees, percent, money -----------------------------------------------------------
    A("unit-text", "15\\mbox{ cm}^2", "15", True, "unit \\mbox with power"),
    A("unit-inches", "864 \\mbox{ inches}^2", "864 \\text{ square inches}", True, "unit words"),
    A("unit-word", "125", "125 miles", True, "unit word from the list"),
    A("unit-wrong", "15\\mbox{ cm}^2", "16", False, "value"),
    A("unit-cents", "5.4 \\text{ cents}", "5.4", True, "cents"),
    A("unit-no-conversion", "5.4 \\text{ cents}", "0.054", False, "no unit conversion"),
    A("deg-frac", "\\frac{270}7\\text{ degrees}", "\\frac{270}{7}", True, "degrees as a word"),
    A("deg-wrong", "145^\\circ", "155^\\circ", False, "value"),
    A("deg-radians", "90^\\circ", "\\frac{\\pi}{2}", False, "no degree/radian conversion"),
    A("pct-sign", "10\\%", "10", True, "percent sign stripped"),
    A("pct-no-fudge", "10\\%", "0.1", False, "no x100 fudge"),
    A("pct-no-fudge-2", "75\\%", "0.75", False, "no x100 fudge"),
    A("pct-word", "28\\%", "28 percent", True, "percent word"),
    A("money-dollar", "\\$18.90", "18.90", True, "dollar sign"),
    A("money-dollar-2", "\\$18.90", "\\$18.9", True, "trailing zero"),
    A("money-thousands", "\\$32,\\!348", "32348", True, "money with thousands"),
    A("money-wrong", "\\$36", "\\$63", False, "value"),
    A("thousands-plain", "58,500", "58500", True, "plain thousands comma"),
    A("thousands-list", "32349", "32, 349", False, "a comma and a space: a list"),
    # --- extraction of final answers (responses) ---------------------------------------------------
    R("resp-box-final", "144", think(LONG, "Therefore the answer is $\\boxed{144}$."), True, note="last box of the final part"),
    R("resp-box-reasoning-differs", "144", think("Maybe \\boxed{44}.", "So the answer is \\boxed{144}."), True,
      note="a box inside the reasoning does not count"),
    R("resp-box-reasoning-only", "44", think("I think \\boxed{44}.", "The area is one hundred forty-four."), False, "no_answer",
      "a box inside the reasoning does not count"),
    R("resp-box-reasoning-wrong-final", "44", think("So \\boxed{44}.", "\\boxed{144}"), False, note="final part decides"),
    R("resp-several-boxes", "7", "First \\boxed{5}. Then we correct it.\n\nFinally \\boxed{7}.", True, note="the last box wins"),
    R("resp-several-boxes-wrong", "5", "First \\boxed{5}. Then we correct it.\n\nFinally \\boxed{7}.", False, note="the last box wins"),
    R("resp-adjacent-boxes", "2, 3", "The roots are \\boxed{2}, \\boxed{3}.", True, note="adjacent boxes are one answer"),
    R("resp-adjacent-boxes-and", "(2,2),(6,2)", "$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$", True,
      note="boxes joined by 'and'"),
    R("resp-nested-box", "\\frac{1}{2}", "So $\\boxed{\\frac{1}{2}}$.", True, note="nested braces"),
    R("resp-nested-box-deep", "\\left\\{1,2\\right\\}", "\\boxed{\\left\\{1,2\\right\\}}", True, note="escaped braces inside a box"),
    R("resp-box-space", "5", "The answer is \\boxed 5.", True, note="\\boxed 5"),
    R("resp-fbox", "5", "Hence \\fbox{5}.", True, note="\\fbox"),
    R("resp-unclosed-box", "5", "Therefore \\boxed{5", False, "no_answer", "an unclosed last box is no answer"),
    R("resp-unclosed-after-closed", "5", "So \\boxed{5}. Correction: \\boxed{6", False, "no_answer", "cut off mid-box"),
    R("resp-phrase-answer-colon", "204", "After all that, Answer: 204", True, note="Answer: phrase"),
    R("resp-phrase-the-answer-is", "49", "1 + 11 + 37 = 49.\n\nThe answer is 49.", True, note="'The answer is N.'"),
    R("resp-phrase-final-answer", "\\frac{1}{2}", "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", True,
      note="'final answer is $X$'"),
    R("resp-phrase-thousands", "62371", "m + n = 62,371\n\nThe answer is 62,371.", True, note="thousands in a phrase answer"),
    R("resp-phrase-last-wins", "7", "The answer is 5. Wait, no.\n\nThe answer is 7.", True, note="the last phrase wins"),
    R("resp-phrase-statement", "120", "Final Answer: The volume of $ABCDEFGH$ is 120.", True, note="'X is Y' statement"),
    R("resp-phrase-math-env", "x=5", "The final answer is \\(x = 5\\).", True, note="math after the phrase"),
    R("resp-phrase-bold", "42", "**Final Answer:** 42", True, note="markdown bold"),
    R("resp-late-final-phrase", "10455", "Interest \\boxed{200} then \\boxed{255}. Total $10,455.\n\nFinal Answer: The final answer is $10,455$.", True,
      note="a final-answer statement after the last box wins"),
    R("resp-bare-final", "\\frac{1}{2}", think("Compute the ratio.", "$\\frac{1}{2}$"), True, note="a final part that is only the answer"),
    R("resp-prose-only", "12", think("The count is 12.", "There are twelve ways in total, as shown above."), False, "no_answer",
      "prose without an explicit answer"),
    R("resp-last-number-trap", "12", "We find 3 + 9 = 12. So there are 12 ways.", False, "no_answer", "never the last number"),
    R("resp-truncated-think", "144", "<think>\n" + LONG + "so the area is 144", False, "truncated", "reasoning never closed"),
    R("resp-truncated-box-in-reasoning", "144", "<think>\nThe answer is \\boxed{144}. Let me verify", False, "truncated",
      "a box inside unfinished reasoning is not an answer"),
    R("resp-empty", "5", "", False, "no_answer", "empty response"),
    R("resp-long-wrong", "144", think(LONG, "Thus $\\boxed{44}$."), False, note="long response, wrong final box"),
    R("resp-think-x-eq", "5", think("solve 2x = 10", "So $x = \\boxed{5}$."), True, note="box after x ="),
    R("resp-box-in-text", "\\text{Evelyn}", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", True, note="text in a box"),
    R("resp-box-interval", "[-4,0]", "the values of \\( k \\) are: \\[ \\boxed{[-4, 0]} \\]", True, note="interval in display math"),
    R("resp-box-approx", "\\frac{737}{39}", "\\boxed{\\frac{737}{39} \\text{ (about } 18.9 \\text{ cards)}}", True,
      note="an approximation note after the exact value"),
    # --- AIME integers -----------------------------------------------------------------------------
    R("aime-leading-zero", "70", "... so the sum of bases is \\boxed{070}.", True, note="AIME answers are 000-999"),
    R("aime-plain", "204", think("t = 24 minutes", "The answer is $\\boxed{204}$."), True, note="AIME"),
    R("aime-wrong", "204", think("t = 24 minutes", "The answer is $\\boxed{240}$."), False, note="AIME"),
    R("aime-off-by-one", "240", "\\boxed{241}", False, note="AIME"),
    R("aime-zero", "0", "\\boxed{000}", True, note="000"),
    R("aime-with-text", "588", "The area is \\boxed{588 \\text{ square units}}.", True, note="unit text inside the box"),
    R("aime-phrase", "49", "Therefore, the sum of all possible values of $n$ is 1 + 11 + 37 = 49.\n\nThe answer is 49.", True, note="phrase"),
    R("aime-phrase-wrong", "588", "The area of heptagon AFNBCEM is 432.\n\nThe answer is 432.", False, note="phrase"),
    A("aime-int-vs-decimal", "70", "70.0", True, "trailing .0"),
    A("aime-int-vs-float-close", "70", "69.9999", False, "not an integer"),
    # --- GPQA-style letters ----------------------------------------------------------------------
    C("gpqa-boxed", "B", think("Option A fails.", "\\boxed{B}"), True, note="boxed letter"),
    C("gpqa-boxed-paren", "B", "\\boxed{(B)}", True, note="boxed (B)"),
    C("gpqa-boxed-text", "D", "$\\boxed{\\text{D}}$", True, note="boxed \\text{D}"),
    C("gpqa-boxed-with-value", "C", "\\boxed{C) 42 m/s}", True, note="boxed letter with its option text"),
    C("gpqa-answer-colon", "A", "The mechanism is SN2.\n\nAnswer: A", True, note="Answer: A"),
    C("gpqa-answer-paren", "C", "Answer: (C)", True, note="Answer: (C)"),
    C("gpqa-answer-is", "D", "So the answer is D.", True, note="answer is D"),
    C("gpqa-answer-is-paren", "B", "Therefore, the correct answer is (B).", True, note="correct answer is (B)"),
    C("gpqa-answer-bold", "B", "**Answer: B**", True, note="markdown"),
    C("gpqa-answer-bold-letter", "B", "**Final Answer:** **B**", True, note="markdown"),
    C("gpqa-option", "A", "The correct option is A because the energy is lower.", True, note="correct option is A"),
    C("gpqa-option-is-correct", "C", "After elimination, option C is correct.", True, note="option C is correct"),
    C("gpqa-standalone", "D", "Weighing everything, the last choice fits.\n\n(D)", True, note="a final line with only the letter"),
    C("gpqa-standalone-bold", "D", "Weighing everything.\n\n**D**", True, note="bold letter alone"),
    C("gpqa-last-wins", "C", "Answer: B\n\nWait, I misread the question.\n\nAnswer: C", True, note="the last explicit answer wins"),
    C("gpqa-reasoning-only", "C", "<think>\nAnswer: C\n</think>\nI could not decide.", False, "no_answer", "reasoning does not count"),
    C("gpqa-truncated", "C", "<think>\nAnswer: C is plausible, but", False, "truncated", "truncated"),
    C("gpqa-wrong", "C", "Answer: B", False, note="wrong letter"),
    C("gpqa-lowercase-article", "A", "The answer is a bit subtle; we need more data.", False, "no_answer", "'a' is an article"),
    C("gpqa-A-prose-after-answer", "A", "Answer: A detailed calculation follows below.", False, "no_answer", "'A detailed' is prose"),
    C("gpqa-A-because", "A", "The answer is A because the spin is 1/2.", True, note="'A because' is an answer"),
    C("gpqa-options-listed", "B", "A) 1\nB) 2\nC) 3\nD) 4", False, "no_answer", "a list of options is not a choice"),
    C("gpqa-not", "B", "The answer is not A.", False, "no_answer", "negation"),
    C("gpqa-answer-word", "A", "Answer: Adenine pairs with thymine.", False, "no_answer", "a word starting with A"),
    C("gpqa-choice-is", "D", "The best choice is D.", True, note="best choice is D"),
    # --- pathological but valid ------------------------------------------------------------------
    R("patho-huge-power-wrong", "7", "\\boxed{10^{10^{10^{10}}}}", False, None, "no hang; not equal (or timeout)"),
    A("patho-garbage", "5", "\\frac{1}{\\sqrt{}}^^_{}\\left(", False, "invalid LaTeX"),
    A("patho-empty-answer", "5", "   ", False, "empty answer", reason="no_answer"),
]

# MATH500 answer kinds that must equal a differently formatted but identical answer.
REFORMATTED = [
    ("\\frac43", "\\frac{4}{3}"), ("\\frac 59", "\\frac{5}{9}"), ("\\frac9{19}", "\\frac{9}{19}"), ("\\frac65", "1.2"),
    ("11\\sqrt2", "11\\sqrt{2}"), ("10,\\!080", "10080"), ("\\dfrac{33}{100}", "0.33"), ("\\frac{3840}{289}", "\\frac{3840}{289}"),
    ("-\\sqrt{3}", "-1\\cdot\\sqrt{3}"), ("70 \\sqrt{2}", "70\\sqrt{2}"), ("18+2\\pi", "2\\pi+18"), ("3 \\pm 2 \\sqrt{2}", "3+2\\sqrt2, 3-2\\sqrt2"),
    ("(-\\infty, 0]", "(-\\infty,0]"), ("x \\in [-2,7]", "[-2,7]"), ("\\frac{11+9a}{20}", "\\frac{9a+11}{20}"), ("y = -2x", "-2x"),
    ("120^\\circ", "120"), ("\\$36", "36"), ("1+274i", "274i+1"), ("(15,-29)", "(15, -29)"),
]
CASES += [A(f"reformat-{i:02d}", g, p, True, "MATH500 answer reformatted") for i, (g, p) in enumerate(REFORMATTED)]
