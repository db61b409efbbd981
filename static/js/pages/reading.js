/* The reader page: calibrated 12-lead view with its tools (static/js/ecg/viewer.js) and keyboard-fast, blind
 * labeling. Data comes from the reading API of the page's own assignment; nothing here knows of other
 * readers. Everything that changes while the page is open lives in `state` (reading/page.js).
 *
 * This module makes the page of its parts, one concern each under pages/reading/, and wires them: each
 * part's create(page) returns its functions, set on the page for the others to call once all are made. */
import { createDrafts } from "./reading/drafts.js";
import { createExamContext } from "./reading/exam-context.js";
import { createFirstExam } from "./reading/first-exam.js";
import { createKeyboard } from "./reading/keyboard.js";
import { createNetwork } from "./reading/network.js";
import { createOpening } from "./reading/opening.js";
import { createPage } from "./reading/page.js";
import { createPrefetch } from "./reading/prefetch.js";
import { createReadState } from "./reading/read-state.js";
import { createSheet } from "./reading/sheet.js";
import { createSkip } from "./reading/skip.js";
import { createStatements } from "./reading/statements.js";
import { createSubmit } from "./reading/submit.js";
import { createSuggestion } from "./reading/suggestion.js";
import { preloaded } from "./reading-waveform.js";

function start(rootEl) {
  var page = createPage(rootEl);
  page.network = createNetwork(page);
  page.sheet = createSheet(page); // the figure and its tools: the keys and the other parts use its viewer
  page.viewer = page.sheet.viewer;
  page.statements = createStatements(page);
  page.examContext = createExamContext(page);
  page.suggestion = createSuggestion(page);
  page.drafts = createDrafts(page);
  page.readState = createReadState(page);
  page.submit = createSubmit(page);
  page.skip = createSkip(page);
  page.prefetch = createPrefetch(page);
  page.opening = createOpening(page);
  page.keyboard = createKeyboard(page); // last: its keys are the other parts' functions
  [page.statements, page.drafts, page.submit, page.readState, page.examContext, page.skip, page.keyboard,
    page.sheet, page.suggestion, page.opening].forEach(function (part) { part.wire(); });
  return createFirstExam(page).start(preloaded);
}

var rootEl = document.getElementById("reader");
if (rootEl) start(rootEl);
