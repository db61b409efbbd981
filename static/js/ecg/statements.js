/* Statement search: which statements a typed query means, best first. Pure functions, no DOM, so the
 * reader and the adjudication pages share one ranking and it can be checked on its own (window or node).
 *
 * Text is folded before comparing: accents, case, punctuation and ordinal marks (1º, 2°, 1o) are ignored.
 * Each statement's terms are its code, English and Portuguese names and the synonyms its taxonomy file
 * carries. A statement's rank is its best term's tier:
 *   0  the query is the code;
 *   1  the query is a whole name, abbreviation or synonym;
 *   2  every query word starts a word of one term (in any order);
 *   3  every query word appears somewhere in the statement's terms.
 * Ties go to a term that begins with the query as typed, then to whole words over started ones, then to
 * the term with fewer words left over, then to the taxonomy's order. */
(function (root) {
  "use strict";
  var TIER = { CODE: 0, EXACT: 1, PREFIX: 2, SUBSTRING: 3 };

  function fold(text) {
    return String(text == null ? "" : text)
      .replace(/[\u00ba\u00b0\u00aa]/g, "") // 1º, 2°, 1ª: the mark goes, the number stays
      .normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, " ")
      .replace(/\b(\d+)[oa]\b/g, "$1") // "1o grau" as typed for "1º grau"
      .trim();
  }
  function words(folded) { return folded ? folded.split(" ") : []; }

  /* Folded terms of each statement, computed once per taxonomy. */
  function index(statements) {
    return statements.map(function (s, position) {
      var names = [s.name, s.name_pt, s.label].concat(s.synonyms || []);
      var terms = [];
      names.forEach(function (n) {
        var f = fold(n);
        if (f && terms.indexOf(f) < 0) terms.push(f);
      });
      var code = fold(s.code);
      return { statement: s, position: position, code: code, codeCompact: code.replace(/ /g, ""),
        terms: terms, termWords: terms.map(words), hay: [code].concat(terms).join(" | ") };
    });
  }

  function everyStartsAWord(queryWords, termWords) {
    return queryWords.every(function (q) {
      return termWords.some(function (w) { return w.lastIndexOf(q, 0) === 0; });
    });
  }

  /* [tier, words left over] for one indexed statement, or null when it does not match. */
  function score(entry, folded, queryWords) {
    if (folded === entry.code || folded.replace(/ /g, "") === entry.codeCompact) return [TIER.CODE, 0];
    if (entry.terms.indexOf(folded) >= 0) return [TIER.EXACT, 0];
    var best = null;
    var candidates = [words(entry.code)].concat(entry.termWords);
    candidates.forEach(function (termWords) {
      if (!everyStartsAWord(queryWords, termWords)) return;
      // A term that begins with the query as typed ("bav 1" in "bav 1 grau") beats one that merely
      // holds its words ("bav 2 1"); then whole words beat started ones ("pr" is "PR curto" before
      // "pre-excitation"); then the term with fewer words left over.
      var opens = termWords.join(" ").lastIndexOf(folded, 0) === 0 ? 0 : 1000;
      var partial = queryWords.filter(function (q) { return termWords.indexOf(q) < 0; }).length;
      var extra = opens + partial * 100 + termWords.length - queryWords.length;
      if (!best || extra < best[1]) best = [TIER.PREFIX, extra];
    });
    if (best) return best;
    if (queryWords.every(function (q) { return entry.hay.indexOf(q) >= 0; })) return [TIER.SUBSTRING, 0];
    return null;
  }

  /* Matching statements, best first: [{statement, tier}]. An empty query matches nothing. */
  function rank(indexed, query) {
    var folded = fold(query), queryWords = words(folded);
    if (!queryWords.length) return [];
    var found = [];
    indexed.forEach(function (entry) {
      var s = score(entry, folded, queryWords);
      if (s) found.push({ statement: entry.statement, tier: s[0], extra: s[1], position: entry.position });
    });
    found.sort(function (a, b) { return a.tier - b.tier || a.extra - b.extra || a.position - b.position; });
    return found.map(function (f) { return { statement: f.statement, tier: f.tier }; });
  }

  var api = { fold: fold, index: index, rank: rank, TIER: TIER };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.StatementSearch = api;
})(typeof window !== "undefined" ? window : this);
