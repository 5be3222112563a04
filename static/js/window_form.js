// Shows only the fields of the chosen recurrence (and scope) in a maintenance-window form:
// an element with data-show-when="recurrence" data-show-values="weekly" is shown only while the
// form's "recurrence" control holds one of those values. Without scripts every field shows and
// the server ignores the ones the chosen recurrence does not use.
(function () {
  document.querySelectorAll("form[data-testid=window-form]").forEach(function (form) {
    var dependants = form.querySelectorAll("[data-show-when]");
    function update() {
      dependants.forEach(function (el) {
        var control = form.elements[el.getAttribute("data-show-when")];
        if (!control) return;
        var wanted = el.getAttribute("data-show-values").split(" ");
        el.hidden = wanted.indexOf(control.value) === -1;
      });
    }
    ["recurrence", "scope"].forEach(function (name) {
      var control = form.elements[name];
      if (control) control.addEventListener("change", update);
    });
    update();
  });
})();
