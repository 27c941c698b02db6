// Chat file uploads (templates/rooms/upload_form.html): a progress bar while the
// file goes up and a clean form after it is sent; a refusal's reason swaps into
// the form's status line by itself (responseHandling in base.html). Files
// dropped onto the room or pasted into it go up one after another through the
// same form.
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
    sending = false;
    sendNext();
  });

  // Drag and drop, paste: a queue, so several files each get the progress bar.
  var queue = [];
  var sending = false;

  function sendNext() {
    var form = document.querySelector("[data-upload-form]");
    if (sending || !form || !queue.length) return;
    var input = form.querySelector("input[type=file]");
    var transfer = new DataTransfer();
    transfer.items.add(queue.shift());
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (!input.checkValidity()) {
      form.querySelector("#upload-status").textContent = input.files[0].name + ": " + input.validationMessage;
      form.reset();
      return sendNext();
    }
    sending = true;
    form.requestSubmit();
  }

  function enqueue(files) {
    if (!files || !files.length || !document.querySelector("[data-upload-form]")) return false;
    Array.prototype.forEach.call(files, function (file) {
      queue.push(file);
    });
    sendNext();
    return true;
  }

  function dropZone(event) {
    var zone = event.target.closest && event.target.closest("[data-chat-socket]");
    var types = event.dataTransfer && event.dataTransfer.types;
    return zone && types && Array.prototype.indexOf.call(types, "Files") >= 0 ? zone : null;
  }

  document.addEventListener("dragover", function (event) {
    var zone = dropZone(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropZone(event);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var zone = dropZone(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("drop-target");
    enqueue(event.dataTransfer.files);
  });

  document.addEventListener("paste", function (event) {
    if (!event.target.closest || !event.target.closest("[data-chat-socket]")) return;
    var files = event.clipboardData && event.clipboardData.files;
    if (files && files.length && enqueue(files)) event.preventDefault();
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
