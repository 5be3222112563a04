// Filters a long list of checkboxes as the user types (a search box with data-filter-for).
(function () {
  document.querySelectorAll("input[data-filter-for]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filter-for"));
    if (!list) return;
    box.addEventListener("input", function () {
      var needle = box.value.trim().toLowerCase();
      list.querySelectorAll("[data-label]").forEach(function (option) {
        var checked = option.querySelector("input:checked");
        option.hidden = needle !== "" && !checked && option.getAttribute("data-label").indexOf(needle) === -1;
      });
    });
  });
})();
