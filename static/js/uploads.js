// Upload pages: send the file with a progress bar, then follow the upload until it is read.
(function () {
  function csrf(form) {
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function showErrors(form, errors) {
    var box = form.querySelector("[data-upload-errors]");
    var lines = [];
    Object.keys(errors).forEach(function (field) {
      errors[field].forEach(function (message) { lines.push(message); });
    });
    box.textContent = lines.join(" ");
    box.hidden = lines.length === 0;
  }

  function initForm(form) {
    var bar = form.querySelector("[data-upload-progress]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action") || window.location.pathname);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf(form));
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 201 && body.url) {
          window.location.assign(body.url);
          return;
        }
        button.disabled = false;
        bar.hidden = true;
        if (body.errors) {
          showErrors(form, body.errors);
        } else if (xhr.status === 413) {
          showErrors(form, { file: ["The file is larger than the upload limit."] });
        } else {
          showErrors(form, { file: [body.detail || "The upload failed (" + xhr.status + "); try again."] });
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        bar.hidden = true;
        showErrors(form, { file: ["The connection was lost during the upload; try again."] });
      });
      xhr.send(new FormData(form));
    });
  }

  function follow(panel) {
    var url = panel.getAttribute("data-upload-status");
    var bar = panel.querySelector("[data-upload-bar]");
    var count = panel.querySelector("[data-upload-count]");
    function poll() {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (body.state === "done" || body.state === "failed") {
          window.location.reload();
          return;
        }
        if (body.progress && body.progress.total) {
          if (bar) bar.value = Math.round((body.progress.done / body.progress.total) * 100);
          if (count) count.textContent = body.progress.done + " of " + body.progress.total;
        }
        window.setTimeout(poll, 1500);
      });
      xhr.addEventListener("error", function () { window.setTimeout(poll, 5000); });
      xhr.send();
    }
    window.setTimeout(poll, 1000);
  }

  function init() {
    document.querySelectorAll("[data-upload-form]").forEach(initForm);
    document.querySelectorAll("[data-upload-status][data-active='1']").forEach(follow);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
