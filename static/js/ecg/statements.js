/* Statement search: which statements a typed query means, best first. Pure functions, no DOM, so the
 * reader page's ranking can be checked on its own (an ES module with no imports).
 *
 * Text is folded before comparing: accents, case, punctuation and ordinal marks (1º, 2°, 1o) are ignored,
 * and a ratio (2:1, 2x1) is one word.
 * Then a phrase is read as its words (words()), so that the ways reports write one statement read alike:
 *   - ordinals and Roman numerals are digits: primeiro, first, 1st and I are 1 (up to 3);
 *   - AV, A-V and átrio-ventricular are atrioventricular; BAV is bloqueio atrioventricular, AVB
 *     atrioventricular block; BRD and BRE are bloqueio de ramo direito and esquerdo;
 *   - a doubled s or r between vowels is one (extrassístole, extrasístole), and a prefix written apart
 *     joins its word (extra-sístole, antero-superior, marca-passo, non-sustained) as the 2009 spelling does;
 *   - prepositions and articles are left out (de, do, para a, of the) unless the phrase is nothing else,
 *     and so is "tipo" / "type", which says nothing of which type ("BAV 2º grau tipo 2:1" is the 2:1 block);
 *     and so are conjunctions (e, and, with, com), which favour a term that has one ("BRD e" is on its way
 *     to "BRD e BDAS"); so are hedges, frequencies and severities (provável, possible, frequentes,
 *     isoladas, leve), which say how sure or how often, not which finding;
 *   - a negation (sem, não, ausência, without, no, not) means the finding is absent: such a query matches
 *     only statements one of whose own negating terms names what it says is absent ("sem alterações"),
 *     never the finding it negates; a query that negates nothing reads each term only up to its own
 *     negation ("ECG com alterações" is not "ECG sem alterações");
 *   - a finished word of up to three letters is a whole word (an abbreviation: PR, FA, TV); only the word
 *     being typed may be the start of a longer one, and a plural "s" is read off (PVCs, ESVs).
 * The last word of a query that does not end in a space is still being typed: it is also read as typed,
 * so "bloqueio de ramo e" is on its way to "esquerdo" and "área i" to "inativa".
 * Each statement's terms are its code, English and Portuguese names and the synonyms its taxonomy file
 * carries, read the same way. A statement's rank is its best term's tier:
 *   0  the query is the code;
 *   1  the query is a whole name, abbreviation or synonym;
 *   2  every query word starts a word of one term, or is that word in another form (a plural, the other
 *      gender, the noun for the adjective: átrio for atrial, ventrículo for ventricular), in any order,
 *      and the term holds each of the query's numbers as often as the query names it;
 *   3  every query word appears somewhere in the statement's terms, and one term holds its numbers;
 *   4  only when no statement is in tiers 0-3: the closest, the statements one of whose terms has the most
 *      query words (each matched as in tier 2), at least half of them or two, and at least one that is
 *      not a number. Reports add qualifiers no name carries ("área inativa inferior", "flutter atrial
 *      2:1", "ESV isoladas", "BAV 2º grau tipo II"); the statement they qualify is still the one meant.
 *      Never a statement that says the opposite of a query word (long for curto, complete for
 *      incompleto, left for direito) and not that word itself; and qualifiers (a side, a wall, a sign,
 *      a duration) never make a statement close on their own: the words that name a finding must match,
 *      both of two or two of more ("QT curto" is not the short PR, "anterior STEMI" not the fascicle);
 *      and never a term whose numbers are all other than the query's ("2nd degree heart block" is not
 *      "first degree heart block").
 *   5  only when no statement is in tiers 0-3: the query with its misspelt words (of four letters or more,
 *      that no statement has in any form) read as the statements' nearest words ("bradcardia",
 *      "esqerdo", "Wenkebach", "ausensia"), ranked as in tiers 0-3; the matches carry the query as read,
 *      which the page shows. A word read two ways counts only when both choose the same statement. The
 *      closest (tier 4) are looked for in the query as read, so that a typo never leaves the choice to
 *      the words two statements share ("bloqueio de ramo esqerdo": both bundle branch blocks).
 * Ties go to a term that begins with the query, then to whole words over started ones over other forms,
 * then to the term with fewer numbers left over, then with more of the query's word pairs in the same
 * order ("Mobitz 2" over "2º grau ... Mobitz 1"), then fewer words; in tier 3 to the statement where more
 * query words are words of its terms (so "ventriculares" inside "supraventriculares" counts for less);
 * then to the taxonomy's order. In tier 4 a matched word counts 2 and a matched number 1 (numbers tell
 * Mobitz I from II, words tell flutter from a 2:1 block), then whole words over started ones or other
 * forms, then fewer of the term's words left over. */
var TIER = { CODE: 0, EXACT: 1, PREFIX: 2, SUBSTRING: 3, CLOSEST: 4, SPELLING: 5 };
// A word no statement has is read as a word of the statements' this many letters away (a letter left
// out, added, changed or two swapped), from MIN_TYPO_LENGTH letters: 1 up to 7 letters, 2 from LONG_WORD.
var MIN_TYPO_LENGTH = 4, LONG_WORD = 8, MAX_READINGS = 8;
// Maps and sets: a taxonomy's index reads every word of its ~1,400 names through them.
var NUMBERS = new Map([["primeiro", "1"], ["primeira", "1"], ["first", "1"], ["1st", "1"], ["i", "1"],
  ["segundo", "2"], ["segunda", "2"], ["second", "2"], ["2nd", "2"], ["ii", "2"],
  ["terceiro", "3"], ["terceira", "3"], ["third", "3"], ["3rd", "3"], ["iii", "3"]]);
var ABBREVIATIONS = new Map([["av", ["atrioventricular"]], ["bav", ["bloqueio", "atrioventricular"]],
  ["avb", ["atrioventricular", "block"]], ["brd", ["bloqueio", "ramo", "direito"]],
  ["bre", ["bloqueio", "ramo", "esquerdo"]]]);
var OPPOSITE_FINDINGS = [
  [["normal", "normai"], ["anormal", "anormai", "abnormal", "ma", "poor"]],
];
// Words whose opposite a statement may say: the closest tier never offers a statement that says the
// opposite of a query word and not the word itself ("QT curto" is not a long QT).
var OPPOSITES = (function () {
  var pairs = [
    [["curto", "curta", "short"],
      ["longo", "longa", "long", "prolongado", "prolongada", "prolonged", "aumentado", "increased"]],
    [["incompleto", "incompleta", "incomplete"], ["completo", "completa", "complete"]],
    [["direito", "direita", "right"], ["esquerdo", "esquerda", "left"]],
    [["alta", "alto", "high"], ["baixa", "baixo", "low"]],
    [["superior"], ["inferior"]],
    [["subepicardico", "subepicardica", "subepicardial"], ["subendocardico", "subendocardica", "subendocardial"]],
    [["supra", "supradesnivelamento", "elevation"], ["infra", "infradesnivelamento", "depression"]],
    [["negativa", "negativo", "negative", "invertida", "invertido", "inverted", "inversao", "inversion"],
      ["positiva", "positivo", "positive"]],
    [["anterior"], ["posterior"]],
    [["agudo", "aguda", "acute"], ["antigo", "antiga", "previo", "previa", "old", "prior"]],
  ];
  var map = new Map();
  pairs.concat(OPPOSITE_FINDINGS).forEach(function (pair) {
    pair[0].forEach(function (w) { map.set(w, pair[1]); });
    pair[1].forEach(function (w) { map.set(w, pair[0]); });
  });
  return map;
})();
// Of those, words that name what a finding is, not how it is qualified: they count as the finding's
// words in the closest tier. An abnormal or poor tracing is no normal one.
var FINDING_WORDS = new Set([].concat.apply([], OPPOSITE_FINDINGS.map(function (p) { return p[0].concat(p[1]); })));
var TWO_WORDS = new Map([["a", new Map([["v", "atrioventricular"]])],
  ["atrio", new Map([["ventricular", "atrioventricular"]])]]);
var PREFIXES = new Set(["extra", "supra", "infra", "antero", "postero", "pre", "pos", "intra", "inter",
  "sub", "marca", "hemi", "semi", "non"]);
var FILLERS = ["de", "do", "da", "dos", "das", "e", "o", "a", "os", "as", "em", "na", "nas", "nos", "com",
  "para", "por", "pelo", "pela", "of", "the", "and", "in", "with", "to", "tipo", "type"];
var FILLER = new Set(FILLERS);
// How sure or how often a report says a finding is, which is not which finding: left out like the
// fillers ("FA provável" is atrial fibrillation; the reader marks it uncertain with u), but never taken
// for a filler being typed.
var HEDGE = new Set(["provavel", "possivel", "possible", "probable", "probably", "consider", "considerar",
  "sugestivo", "suggestive", "frequentes", "frequente", "frequent", "ocasionais", "ocasional",
  "occasional", "isolada", "isoladas", "isolado", "isolados", "isolated", "discreta", "discreto", "leve",
  "mild", "moderada", "moderado", "moderate", "acentuada", "acentuado", "marked", "severe"
].map(function (w) { return single(w); })); // as phrases are read: "possible" is "posible" there
// A query that says a finding is absent ("sem BRD", "ausência de FA") means none of the statements
// that name it: only statements that themselves say something is absent may answer it.
var NEGATION = new Set(["sem", "nao", "ausencia", "ausente", "ausentes", "without", "absence", "absent",
  "nenhum", "nenhuma", "no", "not"]);
// Prefixes that make a word another one, not a misspelling of it: a negation (anormal, NSTEMI,
// atypical) or a count (trifascicular, bifascicular).
var WORD_PREFIXES = ["a", "an", "n", "non", "in", "im", "un", "bi", "tri", "uni", "mono", "di", "tetra"];
// Words that qualify a finding (its side, wall, duration, sign, the wave it is seen in): in the closest
// tier they rank a statement but never make one close on their own ("anterior STEMI" is not the
// anterior fascicular block, "QT curto" not the short PR, "T wave inversion" no more the nonspecific
// "ST-T wave" statement than the primary or secondary "ST-T" ones).
var LOCATIONS = ["anterior", "inferior", "lateral", "septal", "posterior", "superior", "apical",
  "extenso", "extensa", "extensive", "parede", "wall", "difuso", "difusa", "diffuse", "onda", "wave",
  // and what every statement is about, which names no finding ("ECG limítrofe" is no normal ECG)
  "ecg", "eletrocardiograma", "electrocardiogram", "tracado", "tracing"];
// Of the fillers, these join two findings ("BRD e BDAS", "RBBB with LAFB", "marcapasso com disfunção"):
// typed, they favour a term that has them too. The others say nothing of which statement is meant.
var CONJUNCTION = new Set(["e", "and", "with", "com"]);
// Cost of a query word against a word of a term: the same word, its start, another form of it; of a
// word still being typed read as a filler left out rather than the start of a word; of a conjunction
// the query has and the term has not.
var SAME = 0, START = 1, FORM = 2, LEFT_OUT = 2, SKIPPED = 1;

function fold(text) {
  return String(text == null ? "" : text)
    .replace(/[\u00ba\u00b0\u00aa]/g, "") // 1º, 2°, 1ª: the mark goes, the number stays
    .normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    // A ratio is one word, as reports write it (2:1, 2x1, 2/1): its numbers are no degree or type, so
    // "2º grau tipo II" is not the start of "2º grau 2:1".
    .replace(/(\d+)\s*[:/x\u00d7]\s*(\d+)/g, "$1x$2")
    .replace(/[^a-z0-9]+/g, " ")
    .replace(/\b(\d+)[oa]\b/g, "$1") // "1o grau" as typed for "1º grau"
    .trim();
}

/* Numbers, abbreviations and word pairs in one spelling. */
function spelled(list) {
  var out = [];
  for (var i = 0; i < list.length; i++) {
    var w = list[i], pair = TWO_WORDS.has(w) && TWO_WORDS.get(w).get(list[i + 1]);
    if (pair) { out.push(pair); i++; continue; }
    if (ABBREVIATIONS.has(w)) out.push.apply(out, ABBREVIATIONS.get(w));
    else out.push(NUMBERS.get(w) || w);
  }
  return out;
}
function isFiller(w) { return FILLER.has(w) || HEDGE.has(w); }
function singular(w) { return w.length > 3 && w.charAt(w.length - 1) === "s" ? w.slice(0, -1) : w; }
function opposite(w) { return OPPOSITES.get(w) || OPPOSITES.get(singular(w)); }
function isQualifier(w) {
  if (FINDING_WORDS.has(w) || FINDING_WORDS.has(singular(w))) return false;
  return !!opposite(w) || LOCATIONS.indexOf(w) >= 0 || LOCATIONS.indexOf(singular(w)) >= 0;
}
function isNegation(w) { return NEGATION.has(w); }
/* Between vowels only: ESSV (supraventricular) is not ESV (ventricular). */
function single(w) {
  if (w.indexOf("ss") < 0 && w.indexOf("rr") < 0) return w;
  return w.replace(/([aeiou])([sr])\2(?=[aeiou])/g, "$1$2");
}
function joins(prefix, next) { return PREFIXES.has(prefix) && /^[a-z]{3,}$/.test(next || ""); }
/* A prefix written apart joins the next word, once that word has three letters. */
function joined(list) {
  var out = [];
  for (var i = 0; i < list.length; i++) {
    if (joins(list[i], list[i + 1])) { out.push(list[i] + list[i + 1]); i++; }
    else out.push(list[i]);
  }
  return out;
}
/* A phrase's words with its fillers (full) and without (core: what it means), both spelled alike. */
function phrase(list) {
  var full = joined(spelled(list).map(single));
  var core = full.filter(function (w) { return !isFiller(w); });
  return { full: full, core: core.length ? core : full };
}
/* The words a phrase is compared by (see the top of this file). */
function words(text) {
  var folded = fold(text);
  return folded ? phrase(folded.split(" ")).core : [];
}
function startsAFiller(w) { return FILLERS.some(function (f) { return f.lastIndexOf(w, 0) === 0; }); }
/* A phrase's words less the fillers that say nothing (its conjunctions stay): what "begins with" reads. */
function spine(full) {
  return full.filter(function (w) { return !isFiller(w) || CONJUNCTION.has(w); });
}

/* A query: its finished words (core, and the spine "begins with" reads), the fillers that favour terms
 * having them (joining), and the ways of reading the word still being typed (null after a space or a
 * mark). whole: the query as a whole name, or null while it ends in a filler ("sinal ausente em "). */
function reading(query) {
  var folded = fold(query);
  if (!folded) return null;
  var raw = folded.split(" ");
  var typing = /[A-Za-z0-9\u00c0-\u024f]$/.test(String(query)), last = typing ? raw.pop() : null;
  var done = phrase(raw), meaningful = done.core !== done.full; // a finished word is not a filler
  // Only hedges before the word being typed ("possible LAE", "frequent PVCs"): they say nothing.
  if (typing && done.core.length && done.core.every(isFiller)) done.core = [];
  if (typing && done.full.length && joins(done.full[done.full.length - 1], last)) {
    last = done.full.pop() + last;
    done.core = done.core.slice(0, -1);
  }
  // Conjunctions join two findings; a filler the query ends in says where it goes on ("SVE por "): both
  // favour terms that have them. Other fillers say nothing of which statement is meant.
  var joining = !meaningful ? [] : done.full.filter(function (w, i) {
    return CONJUNCTION.has(w) || (!typing && i === done.full.length - 1 && isFiller(w));
  });
  var ends = typing ? last : raw[raw.length - 1];
  return { core: done.core, joining: joining, spine: spine(done.full),
    last: typing ? lastWays(last, done.core.length > 0) : null,
    whole: isFiller(ends) ? null : words(query).join(" "), typed: folded };
}
/* The word being typed, each way {words, cost}: as typed, as spelled (i as 1, bav as two words), and left
 * out when it is, or starts, a filler and other words came before it. */
function lastWays(last, afterWords) {
  var typed = single(last), as = spelled([last]).map(single), ways = [{ words: [typed], cost: 0 }];
  if (as.join(" ") !== typed) ways.push({ words: as, cost: 0 });
  if (afterWords && HEDGE.has(last)) ways.push({ words: [], cost: 0 }); // "FA provável"
  // A Roman numeral being typed is a number, not the start of a filler: the "I" of "tipo I" is no "in".
  else if (afterWords && startsAFiller(last) && !isNumber(as[0])) ways.push({ words: [], cost: LEFT_OUT });
  return ways;
}

/* Folded terms of each statement, computed once per taxonomy. */
function index(statements) {
  return statements.map(function (s, position) {
    var names = [s.code, s.name, s.name_pt, s.label].concat(s.synonyms || []);
    var terms = [], seen = [];
    names.forEach(function (n, i) {
      var folded = fold(n);
      if (!folded) return;
      var typed = folded.split(" "), p = phrase(typed), text = p.full.join(" "), at = seen.indexOf(text);
      // Matched against its words as spelled and as written, so a word being typed finds "third" or
      // "corrente" before it is whole ("thi", "corr"); two names spelled alike ("third degree AV block",
      // "3rd degree AV block") are one term with the written words of both.
      var written = spine(typed);
      if (at >= 0) {
        var same = terms[at];
        written.forEach(function (w) { if (same.both.indexOf(w) < 0) same.both.push(w); });
        same.writtenTexts.push(written.join(" "));
        return;
      }
      seen.push(text);
      terms.push({ full: p.full, core: p.core, fullText: text, isCode: i === 0,
        spineText: spine(p.full).join(" "), coreText: p.core.join(" "), writtenTexts: [written.join(" ")],
        both: p.full.concat(typed.filter(function (w) { return p.full.indexOf(w) < 0; })) });
    });
    var code = fold(s.code);
    return { statement: s, position: position, code: code, codeCompact: code.replace(/ /g, ""),
      terms: terms,
      allWords: [].concat.apply([], terms.map(function (t) { return t.both; })),
      negates: terms.some(function (t) { return t.both.some(isNegation); }),
      hay: terms.map(function (t) { return t.fullText; }).join(" | ") };
  });
}

function commonPrefix(a, b) {
  var n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
/* SAME, START or FORM for a query word against one word of a term, or -1. Another form shares all
 * but the last two letters of the query word and the last three of the term's (esquerdo/esquerda,
 * átrio/atrial, ventrículo/ventricular, contractions/contraction), and at least four. */
function wordCost(q, w, whole) {
  if (w === q) return SAME;
  if (q.length > 2 && q.charAt(q.length - 1) === "s" && q.slice(0, -1) === w) return FORM; // PVCs, ESVs
  // A finished word of up to three letters is a whole word (an abbreviation: "PR" is not the start of
  // "prolongado", "FA" not of "falha"); only the word being typed may be the start of a longer one.
  if (whole && q.length <= 3) return -1;
  if (w.lastIndexOf(q, 0) === 0) return START;
  var shared = commonPrefix(q, w);
  return shared >= 4 && shared >= q.length - 2 && shared >= w.length - 3 ? FORM : -1;
}
/* The cheapest match of a query word among a term's words, or -1; `whole`: a finished query word. */
function bestCost(q, termWords, whole) {
  var best = -1;
  for (var i = 0; i < termWords.length && best !== SAME; i++) {
    var c = wordCost(q, termWords[i], whole);
    if (c >= 0 && (best < 0 || c < best)) best = c;
  }
  return best;
}
/* How many of the query's word pairs are not a pair of the term's words in the same order: "Mobitz 2"
 * is Mobitz II's pair, though "2º grau" gives Mobitz I its 2 too. */
function pairsMissing(queryWords, termWords) {
  var missing = 0;
  for (var i = 0; i + 1 < queryWords.length; i++) {
    var found = false;
    for (var j = 0; j + 1 < termWords.length && !found; j++) {
      found = termWords[j] === queryWords[i] && termWords[j + 1] === queryWords[i + 1];
    }
    if (!found) missing++;
  }
  return missing;
}
function startsWith(text, start) { return text.lastIndexOf(start, 0) === 0; }
/* How many of a term's numbers the query has not typed, each occurrence counted: a number left over
 * weighs more than a word ("AV block 1" is the first degree's, not the 2:1 block's). */
function numbersLeft(termWords, queryWords) {
  var typed = queryWords.filter(isNumber), left = 0;
  termWords.forEach(function (w) {
    if (!isNumber(w)) return;
    var at = typed.indexOf(w);
    if (at >= 0) typed.splice(at, 1); else left++;
  });
  return left;
}
function isNumber(w) { return /^\d+$/.test(w); }
function isRatio(w) { return /^\d+x\d+$/.test(w); }
/* Whether a term's words hold each number of the query as often as the query says it: "2º grau tipo
 * II" names two 2s, and Mobitz I's "2º grau tipo I" has one. */
function numbersHeld(queryWords, termWords) {
  var own = termWords.filter(isNumber);
  return queryWords.filter(isNumber).every(function (n) {
    var at = own.indexOf(n);
    if (at >= 0) own.splice(at, 1);
    return at >= 0;
  });
}
/* The least extra (see score) of one term for the query with the words of the term the query has not
 * said ({extra, rest}), or null when a query word matches none of its words. A conjunction the query has
 * costs nothing where the term has one too, SKIPPED where not. */
function termExtra(query, term) {
  var cost = 0, i, c;
  for (i = 0; i < query.core.length; i++) {
    c = bestCost(query.core[i], term.both, true);
    if (c < 0) return null;
    cost += c;
  }
  for (i = 0; i < query.joining.length; i++) {
    cost += term.full.indexOf(query.joining[i]) >= 0 ? SAME : SKIPPED;
  }
  var best = null, ways = query.last || [{ words: [], cost: 0 }];
  ways.forEach(function (way) {
    var total = numbersHeld(query.core.concat(way.words), term.core) ? cost + way.cost : -1;
    for (var j = 0; j < way.words.length && total >= 0; j++) {
      c = bestCost(way.words[j], term.both);
      total = c < 0 ? -1 : total + c;
    }
    if (total < 0) return;
    var said = way.words.filter(function (w) { return !isFiller(w) || CONJUNCTION.has(w); });
    var text = query.spine.concat(said).join(" ");
    // A code begins with what is typed only as it is written: AVB_ADV read as words ("atrioventricular
    // block adv") would begin with "AV block" and put the advanced block ahead of the others.
    var opens = term.isCode ? startsWith(term.writtenTexts[0], query.typed) :
      startsWith(term.spineText, text) || startsWith(term.coreText, text) ||
      term.writtenTexts.some(function (w) { return startsWith(w, text); });
    var left = term.core.length - query.core.length - way.words.length + (term.cut ? 1 : 0);
    var asked = query.core.concat(way.words);
    var extra = (opens ? 0 : 1000) + total * 100 + 10 * numbersLeft(term.core, asked) +
      5 * pairsMissing(asked, term.core) + left;
    if (!best || extra < best.extra) {
      // A ratio is said only whole: "BAV 2" leaves the 2:1 block's "2:1" unsaid.
      var rest = term.core.filter(function (w) {
        return isRatio(w) ? asked.indexOf(w) < 0 : !asked.some(function (q) { return wordCost(q, w) >= 0; });
      }).concat(term.cut ? [term.cut] : []);
      best = { extra: extra, rest: rest };
    }
  });
  return best;
}

/* [tier, extra, rest] for one indexed statement, or null when it does not match: the tier, then within
 * it a term that begins with the query (1000 if not), the words' costs (100 each), the numbers (10 each)
 * and the words left over; rest: the words of that term the query has not said (tier 2), else none. */
function score(entry, folded, query) {
  if (folded === entry.code || folded.replace(/ /g, "") === entry.codeCompact) return [TIER.CODE, 0];
  var best = null;
  entry.terms.forEach(function (term) {
    if (!term.isCode && !term.cut && query.whole !== null && term.coreText === query.whole) best = [TIER.EXACT, 0];
    if (best && best[0] === TIER.EXACT) return;
    var got = termExtra(query, term);
    if (got && (!best || got.extra < best[1])) best = [TIER.PREFIX, got.extra, got.rest];
  });
  if (best) return best;
  var plain = query.core.concat(query.last ? query.last[0].words : []);
  if (!entry.terms.some(function (term) { return numbersHeld(plain, term.core); })) return null;
  // Words found only inside others ("ventricular" in "atrioventricular") never make a statement that
  // says the opposite one ("flutter ventricular" is no atrial flutter).
  if (saysTheOpposite(entry, plain)) return null;
  // Inside other words only from four letters: "fa" is in "infarto", and means atrial fibrillation.
  if (!plain.every(function (q) {
    return q.length > 3 ? entry.hay.indexOf(q) >= 0 : bestCost(q, entry.allWords, true) >= 0;
  })) return null;
  var asWords = plain.filter(function (q) { return bestCost(q, entry.allWords) >= 0; }).length;
  return [TIER.SUBSTRING, plain.length - asWords];
}

/* [matched words x 2 + matched numbers, words left over] of one term for the closest tier: each query
 * word at most once, each of the term's numbers at most once; `nouns`, the matched words that name a
 * finding (not a qualifier, not a negation). */
function overlap(queryWords, term) {
  var numbers = term.core.filter(isNumber), weight = 0, words = 0, nouns = 0, started = 0;
  queryWords.forEach(function (q) {
    if (isNumber(q)) {
      var at = numbers.indexOf(q);
      if (at >= 0) { numbers.splice(at, 1); weight += 1; }
    } else if (!isNegation(q)) {
      var cost = bestCost(q, term.both);
      // A letter alone is a wave's name, a whole word: the T of "T negativa" does not start "TA".
      if (cost < 0 || (q.length === 1 && cost !== SAME)) return;
      words++;
      weight += 2;
      if (cost !== SAME) started++; // the start of a word, or another form of it
      if (!isQualifier(q)) nouns++;
    }
  });
  return { weight: weight, words: words, nouns: nouns, started: started,
    left: term.core.length - (weight - words) + (term.cut ? 1 : 0), numbersLeft: numbers.length };
}
/* Whether a statement says the opposite of one of the query's words and never that word. */
function saysTheOpposite(entry, asked) {
  return asked.some(function (q) {
    var other = opposite(q);
    // A query that says both ("atrial fibrillation with rapid ventricular response") opposes neither.
    if (!other || other.some(function (o) { return asked.indexOf(o) >= 0; })) return false;
    return entry.allWords.indexOf(q) < 0 && entry.allWords.indexOf(singular(q)) < 0 &&
      other.some(function (o) { return entry.allWords.indexOf(o) >= 0; });
  });
}
/* Whether the query names a number and the term names others, none of them the query's: a degree, a
 * type or a ratio the query says otherwise ("2nd degree heart block" is not "first degree heart block",
 * however many of its other words the two share). */
function numbersDiffer(asked, termWords) {
  var typed = asked.filter(isNumber), own = termWords.filter(isNumber);
  return typed.length > 0 && own.length > 0 && !typed.some(function (n) { return own.indexOf(n) >= 0; });
}
/* Whether a term holds the query's first finding word (a letter alone, as a whole word). */
function heads(first, term) {
  var cost = bestCost(first, term.both);
  return cost >= 0 && (first.length > 1 || cost === SAME);
}
/* Tier 4: what a query with words no statement has is closest to (see the top of this file). */
function closest(indexed, read, known) {
  var asked = read.core.concat(read.last ? read.last[0].words : []).filter(function (w) {
    return !isFiller(w);
  });
  if (asked.length < 2) return [];
  // The words that name a finding decide how many must match; qualifiers and numbers only rank. A word
  // no statement has in any form tells none apart ("FA crônica", "tremor muscular") and is not counted;
  // but where it is the first, it names what the phrase is about, which no statement is. A term must
  // hold the first: "eixo normal para a idade" is about an axis, not a normal ECG for the age.
  var nouns = asked.filter(function (w) { return !isQualifier(w) && !isNegation(w) && !isNumber(w); });
  if (!nouns.length || bestCost(nouns[0], known) < 0) return [];
  var head = nouns[0];
  nouns = nouns.filter(function (w) { return bestCost(w, known) >= 0; });
  var needed = Math.min(2, nouns.length), found = [];
  indexed.forEach(function (entry) {
    if (saysTheOpposite(entry, asked)) return;
    var best = null, nouns = 0, whole = false, numbersLeft = 0, holds = false;
    entry.terms.forEach(function (term) {
      if (term.isCode && term.core.length > 1) return; // SENDO_ISCH is no words; STEMI, LAE are
      if (numbersDiffer(asked, term.core)) return;
      var o = overlap(asked, term);
      if (o.nouns < needed) return;
      // Whole words before started ones ("MI" is a word of "old MI", only the start of "migratório").
      var extra = -1000 * o.weight + 100 * o.started + Math.max(0, o.left);
      if (best === null || extra < best) {
        best = extra; nouns = o.nouns; whole = o.left <= 0; numbersLeft = o.numbersLeft; holds = heads(head, term);
      }
    });
    if (best !== null) found.push({ statement: entry.statement, tier: TIER.CLOSEST, extra: best,
      position: entry.position, nouns: nouns, whole: whole, numbersLeft: numbersLeft, heads: holds });
  });
  return found;
}

/* Edit distance with adjacent swaps (optimal string alignment); any value above `most` is most + 1. */
function distance(a, b, most) {
  if (Math.abs(a.length - b.length) > most) return most + 1;
  var before = null, prev = [], cur, i, j, low, v;
  for (j = 0; j <= b.length; j++) prev.push(j);
  for (i = 1; i <= a.length; i++) {
    cur = [i];
    low = i;
    for (j = 1; j <= b.length; j++) {
      v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charAt(i - 1) === b.charAt(j - 1) ? 0 : 1));
      if (before && j > 1 && a.charAt(i - 1) === b.charAt(j - 2) && a.charAt(i - 2) === b.charAt(j - 1)) {
        v = Math.min(v, before[j - 2] + 1);
      }
      cur.push(v);
      if (v < low) low = v;
    }
    if (low > most) return most + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length];
}
/* Every word of the statements' terms, once (kept on the index). */
function vocabulary(indexed) {
  if (!indexed.vocabulary) {
    // A misspelt "ausência" still says the finding is absent, and "negatvias" still opposes "positivas".
    var seen = new Set(Array.from(NEGATION).concat(Array.from(OPPOSITES.keys())));
    indexed.forEach(function (entry) {
      entry.allWords.forEach(function (w) { if (!isNumber(w) && !isFiller(w)) seen.add(w); });
    });
    indexed.vocabulary = Array.from(seen);
  }
  return indexed.vocabulary;
}
/* The words of the statements' a misspelt query word may stand for: the nearest within the distance
 * allowed ([] when none is); a word still being typed is compared with the words' starts too. */
function respelled(q, words, typing) {
  var most = q.length >= LONG_WORD ? 2 : 1, best = most + 1, found = [];
  words.forEach(function (w) {
    if (prefixedVariant(q, w)) return;
    var d = distance(q, w, most);
    if (typing) {
      for (var n = q.length - 1; n <= q.length + 1 && n < w.length; n++) d = Math.min(d, distance(q, w.slice(0, n), most));
    }
    if (d < best) { best = d; found = [w]; } else if (d === best && d <= most) found.push(w);
  });
  return best > most ? [] : found;
}
/* Whether one word is the other with a prefix put on or changed (WORD_PREFIXES): "anormal" is no typo
 * of "normal", "NSTEMI" none of "STEMI", "trifascicular" none of "bifascicular". */
function prefixedVariant(q, w) {
  return WORD_PREFIXES.some(function (p) {
    if (q === p + w || w === p + q) return true;
    if (q.lastIndexOf(p, 0) !== 0) return false;
    return WORD_PREFIXES.some(function (other) { return other !== p && w === other + q.slice(p.length); });
  });
}
/* Each of the statements' words as a name writes it (accents and doubled letters kept: "arritmia", not
 * the "aritmia" it is compared as), from the names and synonyms. Kept on the index. */
function spellings(indexed) {
  if (!indexed.spellings) {
    var map = new Map();
    indexed.forEach(function (entry) {
      var s = entry.statement;
      [s.name, s.name_pt, s.label].concat(s.synonyms || []).forEach(function (name) {
        String(name || "").split(/[^0-9A-Za-z\u00c0-\u024f]+/).forEach(function (token) {
          var folded = fold(token);
          if (!folded || folded.indexOf(" ") >= 0) return;
          var read = phrase([folded]).full;
          if (read.length === 1 && !map.has(read[0])) map.set(read[0], token.toLowerCase());
        });
      });
    });
    indexed.spellings = map;
  }
  return indexed.spellings;
}
/* A corrected reading as the page says it: the query's own words where they were kept, and each word
 * read another way as the statements' names write it ("fibrilação atrial", not "fibrilacao atrial"). */
function displayed(indexed, query, fixed) {
  var asTyped = String(query).trim().split(/[^0-9A-Za-z\u00c0-\u024f]+/).filter(Boolean);
  var folded = fold(query).split(" "), read = fixed.trim().split(" "), names = spellings(indexed);
  if (read.length !== folded.length) return fixed.trim();
  return read.map(function (word, i) {
    if (word !== folded[i]) return names.get(word) || word;
    return asTyped.length === folded.length ? asTyped[i] : word;
  }).join(" ");
}
/* The ways of reading the query with each word no statement has (as itself, its start or a plural) read
 * as a word it misspells, at most MAX_READINGS; [] when there is none to correct. A word of fewer than
 * MIN_TYPO_LENGTH letters (an abbreviation), a number, a filler or a negation is never corrected. */
function respell(indexed, query) {
  var words = vocabulary(indexed), tokens = fold(query).split(" "), typing = !/\s$/.test(query);
  var readings = [[]], changed = false;
  tokens.forEach(function (token, i) {
    var w = single(token), last = typing && i === tokens.length - 1, ways = [token];
    var known = bestCost(w, words, !last);
    if (w.length >= MIN_TYPO_LENGTH && !isNumber(w) && !isFiller(w) && !isNegation(w) && (known < 0 || known === FORM)) {
      var fixed = respelled(w, words, last);
      if (fixed.length) { ways = fixed; changed = true; }
    }
    var next = [];
    readings.forEach(function (r) { ways.forEach(function (way) { next.push(r.concat([way])); }); });
    readings = next.slice(0, MAX_READINGS);
  });
  return !changed ? [] : readings.map(function (r) { return r.join(" ") + (typing ? "" : " "); });
}
/* The index as a query that negates nothing reads it: each term up to its first negation, the words
 * after it out of reach ("ECG com alterações" is not "ECG sem alterações" with its "sem" left out, while
 * "baseline interference" is still "baseline interference that does not prevent analysis"). A term cut
 * so is never whole (`cut`: the negation it stops at, which stays unsaid); a term that opens with a
 * negation is left out, and so is a statement left with no term. Kept on the index. */
function affirmative(indexed) {
  if (!indexed.affirmative) {
    indexed.affirmative = indexed.map(function (entry) {
      if (!entry.negates) return entry;
      var terms = [];
      entry.terms.forEach(function (t) {
        var at = t.full.findIndex(isNegation);
        if (at < 0) { terms.push(t); return; }
        var full = t.full.slice(0, at), core = full.filter(function (w) { return !isFiller(w); });
        if (!core.length) return;
        terms.push(Object.assign({}, t, { full: full, core: core, both: full, fullText: full.join(" "),
          coreText: core.join(" "), spineText: spine(full).join(" "), writtenTexts: [], cut: t.full[at] }));
      });
      return Object.assign({}, entry, { terms: terms,
        allWords: [].concat.apply([], terms.map(function (t) { return t.both; })),
        hay: terms.map(function (t) { return t.fullText; }).join(" | ") });
    }).filter(function (entry) { return entry.terms.length; });
  }
  return indexed.affirmative;
}
/* Tiers 0-3 for a read query, with the negation rule; [] when none match. */
function matching(indexed, query, read) {
  var folded = fold(query), found = [];
  var negated = read.core.concat(read.last ? read.last[0].words : []).some(isNegation);
  viewFor(indexed, read).forEach(function (entry) {
    var s = score(entry, folded, read);
    if (s) found.push({ statement: entry.statement, tier: s[0], extra: s[1], rest: s[2] || [], position: entry.position });
  });
  return { found: found, negated: negated };
}
function ordered(found) {
  found.sort(function (a, b) { return a.tier - b.tier || a.extra - b.extra || a.position - b.position; });
  return found.map(function (f) {
    var out = { statement: f.statement, tier: f.tier, extra: f.extra, rest: f.rest || [] };
    if (f.readAs) out.readAs = f.readAs;
    if (f.nouns !== undefined) {
      out.nouns = f.nouns; out.whole = f.whole; out.numbersLeft = f.numbersLeft; out.heads = f.heads;
    }
    return out;
  });
}
/* Whether the words a query leaves unsaid of the first statement's term are among those it leaves
 * unsaid of every other as close ("Subepicardial injury current" leaves "ST elevation" of the injury
 * current, and those words and more of the acute infarction): then the first is what the query is on
 * its way to. Not when they hold a number, a ratio or a word another lacks: "AV block" leaves
 * "advanced" of one block and "third degree" of another; "BAV 2" leaves the 2:1 block's "2:1", and a
 * degree, a type or a ratio is the reader's to say. */
function completes(top, found) {
  if (top.rest.some(function (w) { return isNumber(w) || isRatio(w); })) return false;
  var near = Math.floor(top.extra / 100);
  return found.every(function (other) {
    if (other === top || other.tier !== top.tier || Math.floor(other.extra / 100) !== near) return true;
    // Another that adds a negation says the opposite, no more of the same ("ausência de sinal ... que
    // [não] impede a análise").
    var adds = other.rest.filter(function (w) { return top.rest.indexOf(w) < 0; });
    return !adds.some(isNegation) && top.rest.every(function (w) { return other.rest.indexOf(w) >= 0; });
  });
}
/* The statement Enter chooses from rank's list: the first, unless the query's words do not tell it from
 * the next, which is then first by the taxonomy's order alone. In tiers 0-3 and 5, the two tie on every
 * ranking rule ("bloqueio de ramo": right or left; "extrassístole": ventricular or supraventricular);
 * among the closest, the next has as many of the words that name a finding and the query does not hold
 * the whole of one of the first's terms as it does not the next's ("IAM inferior" holds STEMI's "IAM",
 * not EIA's "IAM antigo") and the first's term leaves no more numbers over than the next's ("first
 * degree heart block": Mobitz I's "second degree ... type I" has a second one): "T negativa", a finding
 * no statement names, is as close to the primary, secondary and nonspecific repolarization statements,
 * which a reader must choose between. In tier 2,
 * also where the query is no whole term of the first and leaves unsaid what sets it apart from the next
 * as well (completes). null then, or with nothing listed. */
function choice(found) {
  var top = found[0], next = found[1];
  if (!top) return null;
  // Never a closest statement that lacks the query's first finding word: "eixo normal para a idade" is
  // about an axis, "BAVT com escape juncional" about a complete block first (listed, not chosen).
  if (top.tier === TIER.CLOSEST && top.heads === false) return null;
  // A query word found only inside another word ("ventricular" in "atrioventricular" for "flutter
  // ventricular", "rhythm" in "arrhythmia") lists the statement but does not choose it.
  if (top.tier === TIER.SUBSTRING && top.extra > 0) return null;
  if (!next || next.tier !== top.tier) return top.statement;
  if (top.tier === TIER.CLOSEST) {
    var apart = (top.whole && !next.whole) || top.numbersLeft < next.numbersLeft;
    return next.nouns === top.nouns && !apart ? null : top.statement;
  }
  if (top.tier === TIER.PREFIX && top.rest.length && Math.floor(top.extra / 100) === Math.floor(next.extra / 100)) {
    return completes(top, found) ? top.statement : null;
  }
  return next.extra === top.extra ? null : top.statement;
}

/* Matching statements, best first: [{statement, tier}]. An empty query matches nothing. When no
 * statement has every word, misspelt words are read as the statements' words first (tier SPELLING, each
 * match carrying `readAs`, the query as read), and only then is the closest looked for: a typo must not
 * leave "bloqueio de ramo esqerdo" to the words both bundle branch blocks share. A misspelling read
 * two ways ("bradcardia": bradycardia, bradicardia) counts only when both ways choose one statement. */
function rank(indexed, query) {
  var read = reading(query);
  if (!read) return [];
  var first = matching(indexed, query, read);
  if (first.found.length) return ordered(first.found);
  var chosen = null, agreed = true, readings = respell(indexed, query);
  readings.forEach(function (fixed) {
    var fixedRead = reading(fixed), found = fixedRead ? matching(indexed, fixed, fixedRead).found : [];
    if (!found.length) return;
    found.sort(function (a, b) { return a.tier - b.tier || a.extra - b.extra || a.position - b.position; });
    var top = found[0];
    if (chosen && chosen.top.statement !== top.statement) agreed = false;
    // Of the readings that agree, the one the statement's words fit best ("bradicardia sinusal" is a
    // name, "bradycardia sinusal" two languages): the page shows it.
    if (!chosen || top.tier < chosen.top.tier || (top.tier === chosen.top.tier && top.extra < chosen.top.extra)) {
      chosen = { fixed: fixed, found: found, top: top };
    }
  });
  if (chosen && agreed) {
    return ordered(chosen.found.map(function (f) {
      return { statement: f.statement, tier: TIER.SPELLING, extra: f.tier * 1e6 + f.extra, position: f.position,
        readAs: displayed(indexed, query, chosen.fixed) };
    }));
  }
  if (!readings.length) return ordered(closestTo(indexed, read));
  // The closest to the query as corrected: "onda T invetida" is still no statement's, as "onda T
  // invertida" is none's, and its known words must not make one close. Read several ways, they must agree.
  var lists = readings.map(function (fixed) { var r = reading(fixed); return r ? closestTo(indexed, r) : []; });
  var tops = lists.filter(function (l) { return l.length; }).map(function (l) { return ordered(l.slice())[0].statement; });
  var agree = tops.every(function (top) { return top === tops[0]; });
  return agree && tops.length ? ordered(lists.filter(function (l) { return l.length; })[0]) : [];
}
/* Tier 4 for a read query, keeping to the statements of an absence when the query negates. */
function closestTo(indexed, read) {
  return closest(viewFor(indexed, read), read, vocabulary(indexed));
}
/* The index as this query reads it. A query that negates reads only the statements one of whose own
 * negating terms holds what the query says is absent ("sem BRD": not the block; "sem alterações": the
 * normal ECG, whose "ECG sem alterações" says so; "not normal": not it, whose negating term says nothing
 * of "normal"; "TV não sustentada": the non-sustained tachycardia, by all its terms). A query whose last
 * word, still typed, may become a negation ("taquicardia ventricular n", on its way to "não sustentada")
 * reads every term whole; any other query reads each term up to its negation (affirmative). */
function viewFor(indexed, read) {
  var said = read.core.concat(read.last ? read.last[0].words : []), at = said.findIndex(isNegation);
  if (at >= 0) {
    // Of what it says is absent, the words some statement has ("significativas" says nothing of which).
    var known = vocabulary(indexed), absent = said.slice(at + 1).filter(function (w) {
      return !isNegation(w) && !isFiller(w) && bestCost(w, known) >= 0;
    });
    return indexed.filter(function (entry) {
      return entry.negates && absent.every(function (w) {
        return entry.terms.some(function (t) { return t.both.some(isNegation) && bestCost(w, t.both) >= 0; });
      });
    });
  }
  var typing = read.last && read.last[0].words.length === 1 ? read.last[0].words[0] : null;
  return typing && startsANegation(typing) ? indexed : affirmative(indexed);
}
function startsANegation(w) {
  return Array.from(NEGATION).some(function (n) { return n !== w && n.lastIndexOf(w, 0) === 0; });
}

export { fold, words, index, rank, choice, TIER };
