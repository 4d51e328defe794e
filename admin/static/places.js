/* The activity form's child picker: the search box narrows the names shown; the count says how many are chosen. */
(function () {
  "use strict";
  function wire() {
    var search = document.getElementById("child-search");
    var names = document.getElementById("child-names");
    var count = document.getElementById("picked-count");
    if (!names) { return; }
    function recount() {
      var n = names.querySelectorAll('input[type="checkbox"]:checked').length;
      if (count) { count.textContent = n ? "（已选 " + n + " 人）" : ""; }
    }
    if (search) {
      search.addEventListener("input", function () {
        var q = search.value.trim();
        names.querySelectorAll("[data-name]").forEach(function (el) {
          var checked = el.querySelector("input").checked;
          el.hidden = !!q && !checked && el.getAttribute("data-name").indexOf(q) === -1;
        });
      });
    }
    names.addEventListener("change", recount);
    recount();
  }
  document.addEventListener("DOMContentLoaded", wire);
})();
