// The page of a job importing exams: poll the JSON progress endpoint (static/js/ecg/poll.js) until the job finishes, then
// list every outcome. No inline script anywhere (CSP): the URL comes from a data- attribute.
import { poll } from "../ecg/poll.js";

function followImportJob() {
  var box = document.getElementById("import-job");
  if (!box) { return; }
  var url = box.dataset.progressUrl;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  // The exam page's URL for an id: the server renders it for id 0 so that no path is written here.
  function examLink(pk, text) {
    var a = document.createElement("a");
    a.href = box.dataset.examUrl.replace("/0/", "/" + pk + "/");
    a.textContent = text;
    return a;
  }

  // An outcome in the page's language (the server names each in a template); an unknown one as sent.
  function outcomeLabel(outcome) {
    var labels = document.getElementById("outcome-labels");
    var span = labels && labels.content.querySelector("[data-outcome=\"" + outcome + "\"]");
    return span ? span.textContent : outcome;
  }

  // A duplicate's row links the exam just created and the earlier ones with the same waveform.
  function showOutcomes(outcomes) {
    var body = document.getElementById("job-outcomes");
    body.replaceChildren();
    outcomes.forEach(function (o) {
      var row = document.createElement("tr");
      var record = cell(o.exam ? "" : o.record);
      if (o.exam) { record.append(examLink(o.exam, o.record)); }
      var message = cell(o.message);
      if (o.same_as && o.same_as.length) {
        var links = document.createElement("span");
        links.className = "same-as";
        o.same_as.forEach(function (pk, i) {
          links.append(i ? ", " : " ", examLink(pk, box.dataset.examWord + " " + pk));
        });
        message.append(links);
      }
      row.append(cell(o.file), record, cell(outcomeLabel(o.outcome)), message);
      body.append(row);
    });
  }

  function show(data) {
    var label = document.querySelector("#status-labels");
    var span = label && label.content.querySelector("[data-status=\"" + data.status + "\"]");
    document.getElementById("job-status").textContent = span ? span.textContent : data.status;
    document.getElementById("job-counts").textContent = data.done + " / " + data.total;
    var bar = document.getElementById("job-bar");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    box.querySelectorAll("[data-count]").forEach(function (span) {
      span.textContent = data[span.dataset.count];
    });
    document.getElementById("job-not-listed").hidden = !data.not_listed;
    var workers = document.getElementById("job-workers");
    workers.textContent = data.workers || "";
    workers.hidden = !data.workers;
    var error = document.getElementById("job-error");
    error.textContent = data.error || "";
    error.hidden = !data.error;
    if (data.finished) {
      showOutcomes(data.outcomes || []);
      var hidden = document.getElementById("job-hidden");
      hidden.querySelector("[data-count]").textContent = data.outcomes_hidden || 0;
      hidden.hidden = !data.outcomes_hidden;
    }
  }

  // Every second until the job finishes; after a failed request, five seconds.
  poll(url, {
    everyMs: 1000, retryMs: 5000,
    onData: function (data) { show(data); return data.finished; },
  });
}
followImportJob();

// Import form: more files than one upload takes (data-max-files, the server's IMPORT_MAX_FILES) are
// stopped here with the numbers, before minutes of upload that the server would refuse as a whole.
function checkImportForm() {
  var form = document.querySelector("form.import-form");
  if (!form) { return; }
  // getAttribute, not form.dataset: a form's named controls shadow its properties, and this one has a
  // field called "dataset".
  var max = Number(form.getAttribute("data-max-files")), said = document.getElementById("too-many-files");
  form.addEventListener("submit", function (event) {
    var n = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) { n += input.files.length; });
    if (!max || n <= max) { said.hidden = true; return; }
    event.preventDefault();
    said.textContent = said.dataset.text.replace("{n}", n).replace("{max}", max);
    said.hidden = false;
    said.scrollIntoView({ block: "center" });
  });
}
checkImportForm();
