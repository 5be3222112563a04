// Asset list: a "select all on this page" checkbox for bulk tagging.
(function () {
  function init() {
    var all = document.querySelector("[data-select-all]");
    if (!all) return;
    var boxes = document.querySelectorAll("#bulk-tag input[name=assets]");
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
