// The evidence form: narrows the KSB list as you type, and shows upload progress.
(function () {
  "use strict";

  const filter = document.querySelector("[data-ksb-filter]");
  if (filter) {
    const rows = Array.from(document.querySelectorAll("[data-ksb-row]"));
    filter.addEventListener("input", function () {
      const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      rows.forEach(function (row) {
        const text = row.dataset.search;
        const mapped = row.querySelector("input[type=checkbox]").checked;
        row.hidden = !mapped && !words.every(function (w) { return text.includes(w); });
      });
    });
    rows.forEach(function (row) {
      const tick = row.querySelector("input[type=checkbox]");
      const note = row.querySelector("input[type=text]");
      tick.addEventListener("change", function () { row.classList.toggle("is-mapped", tick.checked); });
      // Writing a note means the KSB is meant: tick it.
      note.addEventListener("input", function () {
        if (note.value.trim() && !tick.checked) { tick.checked = true; row.classList.add("is-mapped"); }
      });
    });
  }

  // Posts the form with XMLHttpRequest so the bar can follow the upload, then shows the
  // page the server answered with, exactly as a normal submit would.
  const form = document.querySelector("form[data-upload-progress]");
  if (!form || !window.FormData) { return; }
  const box = document.getElementById("upload-progress");
  const bar = box.querySelector(".progress-bar");
  let sending = false;
  form.addEventListener("submit", function (event) {
    const hasFiles = Array.from(form.querySelectorAll("input[type=file]")).some(function (i) { return i.files.length; });
    if (!hasFiles) { return; }
    event.preventDefault();
    if (sending) { return; }
    sending = true;
    const data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, ""); }
    const request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    box.classList.remove("d-none");
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      const percent = Math.round((100 * e.loaded) / e.total);
      bar.style.width = percent + "%";
      bar.textContent = percent + "%";
      box.setAttribute("aria-valuenow", String(percent));
    });
    request.addEventListener("load", function () {
      // The answer has already been fetched (after any redirect, with its one-time
      // messages), so show it rather than asking again, and put its address in the bar.
      const url = request.responseURL;
      document.open();
      document.write(request.responseText);
      document.close();
      if (url && url !== window.location.href) { window.history.replaceState(null, "", url); }
    });
    request.addEventListener("error", function () {
      sending = false;
      box.classList.add("d-none");
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
      alert("The upload failed: check your connection and try again. Nothing you typed has been lost.");
    });
    request.send(data);
  });
})();
