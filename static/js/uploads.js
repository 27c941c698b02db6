// Chat file uploads (templates/rooms/upload_form.html): a progress bar while the
// file goes up and a clean form after it is sent. A refusal's reason swaps into
// the form's status line by itself (responseHandling in base.html).
// Lives in a file because the CSP forbids inline script and htmx runs with
// allowEval off (no hx-on).
(function () {
  "use strict";

  function uploadForm(event) {
    var elt = event.detail && event.detail.elt ? event.detail.elt : event.target;
    return elt && elt.closest ? elt.closest("[data-upload-form]") : null;
  }

  function progressBar(form) {
    return form.querySelector("progress");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event);
    if (!form) return;
    var bar = progressBar(form);
    bar.value = 0;
    bar.hidden = false;
    form.querySelector("#upload-status").textContent = "";
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm(event);
    if (!form || !event.detail.lengthComputable || !event.detail.total) return;
    progressBar(form).value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = uploadForm(event);
    if (!form) return;
    progressBar(form).hidden = true;
    // A refusal (413, 422, 429) swaps its reason in like a success (base.html's
    // responseHandling) but keeps the file and caption for another try.
    if (event.detail.successful && event.detail.xhr.status < 300) form.reset();
  });

  // Save a round trip (and the bandwidth) for files the server would refuse on size.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input.closest && input.closest("[data-upload-form]");
    if (!form || input.type !== "file" || !input.files.length) return;
    var max = Number(form.dataset.maxBytes || 0);
    if (max && input.files[0].size > max) {
      input.setCustomValidity("This file is too large.");
      input.reportValidity();
    } else {
      input.setCustomValidity("");
    }
  });
})();
