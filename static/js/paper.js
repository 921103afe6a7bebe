// Paper ballot entry: count the ticks as the teller copies them, and say when a paper will be void.
// The paper is copied as it is, so ticking more than K is allowed here (the server counts it as void).
(function () {
  "use strict";
  var box = document.querySelector(".paper-ticks");
  if (!box) return;
  var places = parseInt(box.dataset.places, 10);
  var line = box.querySelector(".paper-tick-count");

  function update() {
    var ticked = box.querySelectorAll("input[type=checkbox]:checked").length;
    var text = line.dataset.template.replace("{ticked}", ticked).replace("{places}", places);
    line.textContent = ticked > places ? text + " " + line.dataset.over : text;
    line.classList.toggle("error", ticked > places);
  }

  box.addEventListener("change", update);
  update();
})();
